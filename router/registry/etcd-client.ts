// The etcd3 client as the registry uses it: every request bounded, fault
// handling left to the registry's own resync loop.
import { handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';

export function createEtcdClient(endpoints: string[], callTimeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: endpoints,
    // Every unary call gets a deadline; the two streams (watch, keepalive)
    // are watched by their own events and timers instead.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    dialTimeout: callTimeoutMs,
    faultHandling: {
      // The library's circuit breaker would keep failing calls for 5 s after
      // etcd is back; the resync loop is the backoff here.
      host: () => noop,
      // With several endpoints, a failed call is tried on the others.
      global: endpoints.length > 1 ? retry(handleWhen(isRecoverableError), { maxAttempts: endpoints.length - 1 }) : noop,
    },
    grpcOptions: {
      // Reconnect quickly once etcd is back (gRPC's default backoff grows to 2 min).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
      // A peer that vanished without closing the connection is noticed by
      // pings (etcd refuses pings more often than every 5 s).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5000,
      // Each registry its own connection: closing one never disturbs another.
      'grpc.use_local_subchannel_pool': 1,
    },
  });
}

/** Rejects when `p` has not settled within `ms`, so no caller waits on etcd forever. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from etcd within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
