/**
 * Runs bench/c/verbs_control (a plain verbs application, under the shim like
 * any other) in a container and returns what it printed: per-operation
 * samples in microseconds, timed by the program itself.
 */
import { join } from 'node:path';
import { runApp, runPair } from '../../test/harness/apps.js';
import type { Container } from '../../test/harness/netns.js';
import { ROOT } from '../../test/harness/paths.js';
import { describeOutput, type RunResult } from '../../test/harness/proc.js';

const VERBS_CONTROL = join(ROOT, 'bench', 'c', 'build', 'verbs_control');

/** `session ITERS`: cycles in fresh processes (new router session), then within one process. */
export interface SessionSamples {
  setup_us: number[];
  teardown_us: number[];
  warm_setup_us: number[];
  warm_teardown_us: number[];
}

/** `qp COUNT` / `qpremote client ...`: one sample per QP. */
export interface QpSamples {
  count: number;
  /** Wall time to create and connect all of them. */
  create_connect_wall_us: number;
  create_us: number[];
  connect_us: number[];
  destroy_us: number[];
}

/** `mr SIZE ITERS`. */
export interface MrSamples {
  reg_us: number[];
  dereg_us: number[];
  /** Baseline: mmap a fresh region of the size and memset it. */
  touch_us: number[];
}

/** `tcpconnect ITERS`: loopback connect + accept. */
export interface TcpConnectSamples {
  connect_us: number[];
}

/** Where the program runs: a container and its router's socket; logs go into failure messages. */
export interface ControlTarget {
  c: Container;
  socket: string;
  logs: () => string;
}

function parsed<T>(r: RunResult, what: string, logs: () => string): T {
  if (r.code !== 0 || r.timedOut) throw new Error(`verbs_control ${what} failed:\n${describeOutput(r)}\n${logs()}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`verbs_control ${what} printed no JSON:\n${describeOutput(r)}`);
  }
}

/** Runs one subcommand (e.g. ['qp', '64']) and returns its JSON. */
export async function runControl<T>(t: ControlTarget, args: string[], timeoutMs = 120_000): Promise<T> {
  const r = await runApp(t.c, [VERBS_CONTROL, ...args], {
    socket: t.socket, lineBuffered: false, timeoutMs, label: `${t.c.name}: verbs_control ${args[0]}`,
  });
  return parsed<T>(r, args.join(' '), t.logs);
}

/**
 * `count` QPs in `client`, each connected to a partner in `server` (another
 * host); QP numbers go over TCP `port`. Returns the client's figures.
 */
export async function runQpRemote(server: ControlTarget, client: ControlTarget, count: number, port: number): Promise<QpSamples> {
  const n = String(count), p = String(port);
  const r = await runPair({
    server: server.c, client: client.c, port, lineBuffered: false, timeoutMs: 120_000,
    serverArgv: [VERBS_CONTROL, 'qpremote', 'server', p, n],
    clientArgvFn: (ip) => [VERBS_CONTROL, 'qpremote', 'client', ip, p, n],
    serverSocket: server.socket, clientSocket: client.socket,
  });
  if (r.server.code !== 0 || r.server.timedOut) {
    throw new Error(`verbs_control qpremote server ${n} failed:\n${describeOutput(r.server)}\nCLIENT\n${describeOutput(r.client)}\n${server.logs()}`);
  }
  return parsed<QpSamples>(r.client, `qpremote client ${n}`, client.logs);
}

/** Nearest-rank percentile (p in 0..100) of samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile: no values');
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
