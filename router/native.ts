import { createRequire } from 'node:module';
import { nativeAddonPath } from './paths.js';
import { toRouterError } from './errors.js';

/** Events the control server delivers on the JS thread (design.md "Native addon API"). */
export type CtlEvent =
  | { type: 'open'; conn: number; pid: number; uid: number; gid: number }
  | { type: 'message'; conn: number; body: Buffer; fds: number[] }
  | { type: 'close'; conn: number; reason: string };

export interface ControlServer {
  /** Adds the length prefix; fds are dup'ed by SCM_RIGHTS, the caller still owns them. */
  send(conn: number, body: Buffer, fds?: number[]): void;
  closeConn(conn: number): void;
  close(): void;
}

export interface ControlServerCtor {
  new (path: string, onEvent: (ev: CtlEvent) => void): ControlServer;
}

export interface DataPlaneOptions {
  idleSpinUs: number;
  maxBatch: number;
}

export interface RingReply {
  fd: number;
  ringBytes: number;
}

export interface QpRingReply extends RingReply {
  sqOffset: number;
  sqStride: number;
  rqOffset: number;
  rqStride: number;
  /** The addon echoes the ring sizes it used (native/index.d.ts); older builds may not. */
  sqEntries?: number;
  rqEntries?: number;
}

export interface NativeRegMr {
  pd: number;
  key: number;
  addr: bigint;
  length: bigint;
  iova: bigint;
  access: number;
  fd: number;
  fdOffset: bigint;
  fdSize: bigint;
}

export interface NativeCreateQp {
  qpn: number;
  type: number;
  pd: number;
  sendCq: number;
  recvCq: number;
  srq: number;
  sqEntries: number;
  rqEntries: number;
  maxSendSge: number;
  maxRecvSge: number;
  maxInline: number;
  sqSigAll: number;
  tenant: number;
  lid: number;
}

export interface NativeModifyQp {
  state: number;
  accessFlags: number;
  qkey: number;
  destQpn: number;
  dlid: number;
  isGlobal: number;
  dgid: Buffer;
  minRnrTimer: number;
  rnrRetry: number;
  retryCnt: number;
  timeout: number;
  pathMtu: number;
  sl: number;
  pkeyIndex: number;
}

export interface NativeCreateAh {
  pd: number;
  dlid: number;
  isGlobal: number;
  dgid: Buffer;
  sl: number;
  srcPathBits: number;
  portNum: number;
}

export interface SessionStats {
  sid: number;
  bytesOut: number;
  bytesIn: number;
  wrsOut: number;
  wrsIn: number;
  /** Keyed by enum ibv_wc_status. */
  completions: Record<number, number>;
}

export interface DataPlane {
  /** Owned by the data plane: send it, never close it. */
  /** The caller sends then closes pageFd; doorbellFd (the session's own) stays the data plane's. */
  addSession(sid: number, s: { tenant: number; lid: number }): { pageFd: number; doorbellFd: number };
  removeSession(sid: number, crashed: boolean): void;
  /** Takes ownership of eventFd, even when it throws. */
  addChannel(sid: number, ch: number, eventFd: number): void;
  removeChannel(sid: number, ch: number): void;
  createCq(sid: number, cq: number, o: { entries: number; channel: number }): RingReply & { entries?: number };
  destroyCq(sid: number, cq: number): void;
  /** Takes ownership of o.fd, even when it throws. */
  regMr(sid: number, mr: number, o: NativeRegMr): void;
  deregMr(sid: number, mr: number): void;
  createSrq(sid: number, srq: number, o: { pd: number; entries: number; maxSge: number; limit: number }): RingReply & { stride: number; entries?: number };
  modifySrq(sid: number, srq: number, o: { limit: number }): void;
  destroySrq(sid: number, srq: number): void;
  createQp(sid: number, qp: number, o: NativeCreateQp): QpRingReply;
  modifyQp(sid: number, qp: number, o: NativeModifyQp): void;
  qpState(sid: number, qp: number): number;
  destroyQp(sid: number, qp: number): void;
  createAh(sid: number, ah: number, o: NativeCreateAh): void;
  destroyAh(sid: number, ah: number): void;
  stats(): SessionStats[];
  shutdown(): void;
  close(): void;
}

export interface DataPlaneCtor {
  new (opts: DataPlaneOptions): DataPlane;
}

/** The addon's exports. */
export interface NativeModule {
  ControlServer: ControlServerCtor;
  DataPlane: DataPlaneCtor;
  closeFd(fd: number): void;
}

/** Loads the real addon (`native/build/Release/ffr_native.node`). */
export function loadNative(path: string = nativeAddonPath()): NativeModule {
  const require = createRequire(import.meta.url);
  let mod: NativeModule;
  try {
    mod = require(path) as NativeModule;
  } catch (err) {
    throw new Error(
      `cannot load the native addon ${path} (build it with \`npm run build:native\`): ${(err as Error).message}`,
    );
  }
  for (const name of ['ControlServer', 'DataPlane', 'closeFd'] as const) {
    if (typeof mod[name] !== 'function') throw new Error(`native addon ${path} does not export ${name}`);
  }
  return mod;
}

/**
 * Wraps a native object so that every method throws RouterError instead of
 * the addon's `Error & { errno }`: the one place errors cross from C++.
 */
export function nativeBoundary<T extends object>(target: T, label: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          return (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          throw toRouterError(err, `${label}.${String(prop)}`);
        }
      };
    },
  });
}
