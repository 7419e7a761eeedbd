// Types of native/build/Release/ffr_native.node (design.md "Native addon API").
// Load with createRequire: `const native = require('../native/build/Release/ffr_native.node') as typeof import('../native/index.js')`.
//
// Every method throws an Error with a numeric `errno` (Linux errno value) and a
// `code` string ("EINVAL", "ENOENT", ...) whose message names the cause:
//   EINVAL   argument of the wrong type or out of range (the message names it)
//   ENOENT   unknown session / object handle
//   EEXIST   handle, QPN or MR key already in use
//   EBADF    the object was closed
//   ENOTCONN send/closeConn to a connection that is gone (ControlServer)
//   ETIMEDOUT send: the peer did not read for 5 s (the connection is closed)
//   EOPNOTSUPP unsupported QP type
// Handles (sid, cq, qp, ...) are u32, non-zero. Numbers that are u32 must be
// integers in 0..2^32-1; u64 fields take a bigint (or a safe-integer number).

/** An error thrown by the addon. */
export interface NativeError extends Error {
  errno: number;
  code?: string;
}

export type CtlEvent =
  | { type: 'open'; conn: number; pid: number; uid: number; gid: number }
  /** body is the frame without its length prefix; fds now belong to JS (closeFd them or hand them on). */
  | { type: 'message'; conn: number; body: Buffer; fds: number[] }
  /**
   * reason: 'peer closed', 'peer closed mid-frame', 'frame of N bytes exceeds FFR_MAX_FRAME',
   * 'more than FFR_MAX_FDS (4) fds on one frame', 'recv failed: ...', 'send timed out (peer not reading)',
   * 'closed by router' (after closeConn), 'server closed' (after close).
   * Exactly one 'close' per 'open'; no event of a connection follows its 'close'.
   */
  | { type: 'close'; conn: number; reason: string };

export declare class ControlServer {
  /** Binds (replacing a stale socket at path, mode 0666) and starts the epoll thread. Keeps the process alive until close(). */
  constructor(path: string, onEvent: (ev: CtlEvent) => void);
  /** Adds the u32 LE length prefix; one sendmsg (retried on partial writes). fds are dup'ed by SCM_RIGHTS, the caller still owns them. At most FFR_MAX_FDS fds, body at most FFR_MAX_FRAME bytes. */
  send(conn: number, body: Buffer, fds?: number[]): void;
  /** Closes the connection; a 'close' event with reason 'closed by router' follows. Unknown conn: no-op. */
  closeConn(conn: number): void;
  /** Stops the thread, closes every connection ('close' events follow), unlinks the socket path. Idempotent. */
  close(): void;
}

export interface DataPlaneOptions {
  /** Spin this long without work before sleeping on the doorbell (0..10_000_000). */
  idleSpinUs: number;
  /** Max WRs executed per QP per sweep (1..65536). */
  maxBatch: number;
  /** Pieces of large local WRITEs and READs, in bytes (at least 4096). @default 65536 */
  chunkBytes?: number;
  /**
   * CPUs the data-plane thread (named ffr-dataplane) may run on; absent or
   * empty = wherever the process may. EINVAL if one is outside the process's
   * own CPU set.
   */
  cpus?: number[];
}

export interface RingFd {
  /** memfd owned by the caller: send it to the shim, then closeFd it. */
  fd: number;
  /** Size of the memfd (page-rounded) = bytes the shim maps. */
  ringBytes: number;
}

export interface SessionStats {
  sid: number;
  bytesOut: number;
  bytesIn: number;
  wrsOut: number;
  wrsIn: number;
  /** Time its WRs waited on a rate cap, ns. */
  throttledNs: number;
  /** Data-plane time serving its send queues, ns. */
  busyNs: number;
  /** count per ibv_wc_status value; statuses never seen are absent. */
  completions: Record<number, number>;
}

export interface QpCreateOptions {
  qpn: number; // 1..2^24-1, unique per router
  type: number; // IBV_QPT_RC (2) | IBV_QPT_UC (3) | IBV_QPT_UD (4)
  pd: number;
  sendCq: number;
  recvCq: number;
  srq: number; // 0 = own RQ
  sqEntries: number; // 1..FFR_MAX_QP_WR (rounded up to a power of two)
  rqEntries: number; // 0..FFR_MAX_QP_WR; 0 (or an SRQ) = no RQ: senders meet RNR (RC) / drop (UC, UD)
  maxSendSge: number; // 0..FFR_MAX_SGE
  maxRecvSge: number; // 0..FFR_MAX_SGE
  maxInline: number; // 0..FFR_MAX_INLINE
  sqSigAll: boolean | number; // 0/1 accepted
  tenant: number; // of the owning container
  lid: number; // of the owning container, 1..65535
}

/** Every field optional: only given attributes change. */
export interface QpModifyAttrs {
  state?: number; // ibv_qp_state; RESET discards both rings (cons = prod), ERR flushes
  accessFlags?: number; // IBV_ACCESS_REMOTE_WRITE|READ|ATOMIC honoured as responder
  qkey?: number;
  destQpn?: number;
  dlid?: number;
  isGlobal?: boolean | number; // 0/1 accepted
  dgid?: Buffer; // 16 bytes
  minRnrTimer?: number; // 0..31 (IB encoding)
  rnrRetry?: number; // 0..7, 7 = forever
  retryCnt?: number; // 0..7
  timeout?: number; // 0..31, 4.096us * 2^t, 0 = forever
  pathMtu?: number;
  sl?: number;
  pkeyIndex?: number;
  /** RC/UC: hostId of the router the peer QP lives on; 0 = this router. Changing it resets the QP's peer-transport state. */
  peer?: number;
}

/** One peer router as the data plane sees it (ffctl peers, /metrics). */
export interface PeerStats {
  hostId: number;
  /** "addr:port" it dials or expects connections from. */
  address: string;
  /** Configured connections for this pair of routers. */
  pool: number;
  /** Connections up now (0..pool). */
  connectionsUp: number;
  /** true: we dial (lower hostId); false: the peer dials us. */
  dialer: boolean;
  bytesOut: number;
  bytesIn: number;
  framesOut: number;
  framesIn: number;
  /** Connections established (first connect included). */
  connects: number;
  disconnects: number;
  /** Times an RC QP went back to resend (NAK, timeout, lost connection). */
  retransmits: number;
  /** Why the last connection attempt or connection failed; "" when none. */
  lastError: string;
}

export declare class DataPlane {
  /** Starts the data-plane thread. Keeps serving until close(), even if JS drops the object. */
  constructor(opts: DataPlaneOptions);
  /**
   * Creates the session page (router_state = UP) and doorbell. lid 1..65535.
   * pageFd: the caller sends then closes it. doorbellFd: the session's own
   * eventfd (a shared one would let one process swallow others' wake-ups);
   * owned by the data plane until removeSession: send it, never close it.
   */
  addSession(sid: number, opts: { tenant: number; lid: number }): { pageFd: number; doorbellFd: number };
  /** Reclaims every native object of the session. crashed: RC QPs of other sessions connected to its QPs go to ERR (head send RETRY_EXC_ERR, rest flushed). */
  removeSession(sid: number, crashed: boolean): void;
  /**
   * wakeFd: the shim's end of a unix stream socketpair; one byte is sent per
   * event, never blocking (EINVAL for any other kind of fd). Takes ownership
   * of it (even when it throws).
   */
  addChannel(sid: number, ch: number, wakeFd: number): void;
  removeChannel(sid: number, ch: number): void;
  /** entries = ring slots the router chose (>= cqe + 1, 2..FFR_MAX_CQE+1), rounded up to a power of two and returned as `entries`. channel 0 = none. */
  createCq(sid: number, cq: number, opts: { entries: number; channel?: number }): RingFd & { entries: number };
  destroyCq(sid: number, cq: number): void;
  /** Maps [fdOffset, fdOffset + length) of fd; takes ownership of fd (even when it throws). key = lkey = rkey, non-zero, unique. */
  regMr(
    sid: number,
    mr: number,
    opts: {
      pd: number;
      key: number;
      addr: bigint;
      length: bigint;
      iova: bigint;
      access: number;
      fd: number;
      fdOffset: bigint;
      fdSize: bigint;
    },
  ): void;
  deregMr(sid: number, mr: number): void;
  /** entries 1..FFR_MAX_SRQ_WR (rounded to a power of two, returned), maxSge 1..FFR_MAX_SGE. */
  createSrq(
    sid: number,
    srq: number,
    opts: { pd: number; entries: number; maxSge: number; limit: number },
  ): RingFd & { stride: number; entries: number };
  /** Stores the limit (also in the ring header's srq_limit). */
  modifySrq(sid: number, srq: number, opts: { limit: number }): void;
  /**
   * Rate caps of a tenant (lid 0) or of one container (its LID): bytes and
   * work requests per second, 0 = no cap of that kind; both 0 removes them.
   * Applied to the next WR of every QP of theirs (docs/isolation.md).
   */
  setLimit(tenant: number, lid: number, opts: { bytesPerS: number; wrsPerS: number }): void;
  /**
   * Scheduler weight and class of a tenant (lid 0) or a container: cls 0
   * default, 1 latency, 2 bulk, absent = the tenant's (or default). Weight 1
   * and no class are the defaults (docs/isolation.md).
   */
  setSched(tenant: number, lid: number, opts: { weight: number; cls?: number }): void;
  destroySrq(sid: number, srq: number): void;
  /** rqOffset/rqEntries/rqStride are 0 when the QP uses an SRQ. */
  createQp(
    sid: number,
    qp: number,
    opts: QpCreateOptions,
  ): RingFd & {
    sqOffset: number;
    sqStride: number;
    sqEntries: number;
    rqOffset: number;
    rqStride: number;
    rqEntries: number;
  };
  modifyQp(sid: number, qp: number, attrs: QpModifyAttrs): void;
  /** Current ibv_qp_state (the data plane may have moved it to ERR). */
  qpState(sid: number, qp: number): number;
  /** Does not touch the peer (its later sends meet the RC retry rule). */
  destroyQp(sid: number, qp: number): void;
  createAh(
    sid: number,
    ah: number,
    opts: {
      pd: number;
      dlid: number;
      isGlobal: boolean | number;
      dgid?: Buffer;
      sl?: number;
      srcPathBits?: number;
      portNum?: number;
      /** hostId of the router the destination port lives on; 0 (default) = this router. */
      peer?: number;
    },
  ): void;
  destroyAh(sid: number, ah: number): void;
  stats(): SessionStats[];
  /** Listens for peer routers (docs/cluster.md); port 0 picks one. Returns the bound port. EBUSY if already listening. */
  peerListen(address: string, port: number): number;
  /** This router's hostId (non-zero); must precede addPeer. */
  setHostId(hostId: number): void;
  /** Adds or updates a peer router: the lower hostId dials `pool` connections, the other accepts them. Same values again: no-op. */
  addPeer(hostId: number, opts: { address: string; port: number; pool: number }): void;
  /** Drops the peer and its connections (RC QPs to it then time out). Unknown: no-op. */
  removePeer(hostId: number): void;
  peerStats(): PeerStats[];
  /** router_state = STOPPING in every page, every QP to ERR and flushed (as far as CQs have room), every armed CQ's channel fired. */
  shutdown(): void;
  /** Stops the thread, unmaps everything; later calls throw EBADF. Idempotent. */
  close(): void;
}

/** close(2) on an fd received in a 'message' event or returned by the data plane. */
export declare function closeFd(fd: number): void;
