import { EventEmitter } from 'node:events';
import { FFR_ABI_VERSION, FfrErr, type HelloReq, type MessageDef, type MessageName } from '../../proto/gen/ffproto.js';
import { eacces, enosys, eproto, errnoName, RouterError, toRouterError } from '../errors.js';
import { LogLevel, type Logger } from '../log.js';
import type { ControlServer, CtlEvent, SessionStats } from '../native.js';
import type { Container } from '../registry/registry.js';
import { pidNetnsInode } from '../registry/netns.js';
import { deviceAttributes } from '../verbs/device.js';
import { decodeRequest, encodeError, encodeReply } from '../wire/codec.js';
import { FdBag, type Handler, type HandlerResult, type HandlerTable, type VerbsContext } from './context.js';
import { emptyUsage, type Usage } from '../policy/guard.js';
import { OBJECT_KINDS } from './objects.js';
import { qpHandlers } from './qp-handlers.js';
import { resourceHandlers } from './resources.js';
import { Session, SessionState } from './session.js';

const HANDLERS: HandlerTable = { ...resourceHandlers, ...qpHandlers };

export interface SessionManagerEvents {
  established: [Session];
  /** `stats` is the session's last data-plane counters, read just before it was removed. */
  closed: [Session, SessionStats | undefined];
}

/**
 * Turns control-server events into sessions: identity at hello, one handler
 * per request, and reclamation at the end. Every reply status is produced
 * here, from the RouterError a handler throws, and nowhere else.
 */
/** A connection must say hello this soon, or it is closed. */
const HELLO_DEADLINE_MS = 5000;
/** Connections that have not said hello yet, at most. */
const MAX_UNIDENTIFIED = 256;

export class SessionManager extends EventEmitter<SessionManagerEvents> {
  private readonly byConn = new Map<number, Session>();
  private readonly bySid = new Map<number, Session>();
  private nextSid = 1;
  private server: ControlServer | undefined;

  constructor(
    private readonly ctx: VerbsContext,
    private readonly log: Logger,
  ) {
    super();
  }

  /** The control server is created with our event callback, so it is attached afterwards. */
  attach(server: ControlServer): void {
    this.server = server;
  }

  sessions(): Session[] {
    return [...this.byConn.values()];
  }

  established(): Session[] {
    return this.sessions().filter((s) => s.state === SessionState.Established);
  }

  /** What one container or tenant holds over its live sessions on this host (the quota base). */
  usage(scope: 'tenant' | 'container', name: string): Usage {
    const u = emptyUsage();
    for (const s of this.byConn.values()) {
      const c = s.container;
      if (c === undefined || (scope === 'container' ? c.name : c.tenant) !== name) continue;
      const n = s.counts();
      for (const k of OBJECT_KINDS) u[k] += n[k];
      u.registeredBytes += Number(s.registeredBytes);
      u.cqe += s.cqEntries();
      u.ringBytes += s.ringBytes;
      u.sessions++;
    }
    return u;
  }

  /** Connections still waiting for their hello. */
  private get unidentified(): number {
    let n = 0;
    for (const s of this.byConn.values()) if (s.state === SessionState.Connecting) n++;
    return n;
  }

  onEvent(ev: CtlEvent): void {
    switch (ev.type) {
      case 'open': {
        const s = new Session(ev.conn, { pid: ev.pid, uid: ev.uid, gid: ev.gid });
        const pending = this.unidentified;
        this.byConn.set(ev.conn, s);
        this.log.debug(`conn ${ev.conn}: opened by pid ${ev.pid} uid ${ev.uid}`);
        // Anyone who can reach the socket can connect; until hello proves an
        // identity, a connection costs router fds and buffers, so bound them.
        if (pending >= MAX_UNIDENTIFIED) {
          this.log.warn(`refused pid ${ev.pid} uid ${ev.uid}: ${pending} connections already wait for their hello`);
          this.close(s, 'too many connections without hello');
          return;
        }
        s.helloTimer = setTimeout(() => {
          if (s.state !== SessionState.Connecting) return;
          this.log.warn(`${s.describe()}: closing: no hello within ${HELLO_DEADLINE_MS} ms`);
          this.close(s, 'no hello in time');
        }, HELLO_DEADLINE_MS);
        s.helloTimer.unref();
        return;
      }
      case 'message': {
        const s = this.byConn.get(ev.conn);
        if (s === undefined) {
          // A frame racing our own closeConn: nobody owns its fds but us.
          this.closeFds(ev.fds);
          return;
        }
        this.onMessage(s, ev.body, ev.fds);
        return;
      }
      case 'close': {
        const s = this.byConn.get(ev.conn);
        if (s !== undefined) this.end(s, ev.reason || 'peer closed');
        return;
      }
    }
  }

  /** Router-initiated end (container removed, protocol error, shutdown). */
  close(s: Session, reason: string): void {
    if (s.state === SessionState.Closed) return;
    try {
      this.server?.closeConn(s.conn);
    } catch (err) {
      this.log.debug(`${s.describe()}: closeConn: ${(err as Error).message}`);
    }
    this.end(s, reason);
  }

  closeAll(reason: string): void {
    for (const s of this.sessions()) this.close(s, reason);
  }

  /** Closes every session of a container (it was unregistered: its identity is gone). */
  closeContainer(c: Container, reason: string): number {
    let n = 0;
    for (const s of this.sessions()) {
      if (s.container?.name === c.name) {
        this.close(s, reason);
        n++;
      }
    }
    return n;
  }

  private onMessage(s: Session, body: Buffer, fds: number[]): void {
    let decoded;
    try {
      decoded = decodeRequest(body);
    } catch (err) {
      this.closeFds(fds);
      this.protocolError(s, toRouterError(err, 'decode'));
      return;
    }
    const { header, def } = decoded;
    s.requests++;
    if (def === undefined) {
      this.closeFds(fds);
      this.replyError(s, header.type, header.seq, enosys(`unknown message type ${header.type}`), 'unknown');
      return;
    }
    if (fds.length > def.reqFds.length) {
      this.closeFds(fds);
      this.protocolError(s, eproto(`${def.name} carries ${fds.length} fds, the schema declares ${def.reqFds.length}`));
      return;
    }
    const bag = new FdBag(fds);
    let result: HandlerResult<MessageName>;
    try {
      result = this.dispatch(s, def, decoded.fields, bag);
    } catch (err) {
      this.replyError(s, header.type, header.seq, toRouterError(err, def.name), def.name);
      return;
    } finally {
      this.closeFds(bag.leftovers());
    }
    let reply: Buffer;
    try {
      reply = encodeReply(def.name as MessageName, header.seq, result.rep as never);
    } catch (err) {
      // A reply we cannot encode is a router bug; the object exists and is
      // reclaimed with the session.
      this.closeFds(result.closeAfterSend ?? []);
      this.replyError(s, header.type, header.seq, toRouterError(err, `${def.name} reply`), def.name);
      return;
    }
    this.send(s, reply, result);
  }

  private dispatch(s: Session, def: MessageDef, fields: Record<string, unknown>, fds: FdBag): HandlerResult<MessageName> {
    if (def.name === 'hello') {
      if (s.state !== SessionState.Connecting) throw eproto('hello on an established session');
      return this.hello(s, fields as unknown as HelloReq);
    }
    if (s.state !== SessionState.Established) throw eproto(`${def.name} before a successful hello`);
    const handler = HANDLERS[def.name as MessageName] as Handler<MessageName> | undefined;
    if (handler === undefined) throw enosys(`${def.name} has no handler`);
    return handler(this.ctx, s, fields as never, fds);
  }

  private hello(s: Session, req: HelloReq): HandlerResult<'hello'> {
    if (req.abi !== FFR_ABI_VERSION) {
      throw eproto(`pid ${s.peer.pid}: shim ABI version ${req.abi}, router speaks ${FFR_ABI_VERSION}`);
    }
    // Identity comes from the kernel: SO_PEERCRED's pid (the shim's own pid
    // field is in its pid namespace) and that process's network namespace.
    const ino = pidNetnsInode(s.peer.pid);
    if (ino === undefined) {
      this.log.warn(`refused pid ${s.peer.pid} uid ${s.peer.uid}: cannot read /proc/${s.peer.pid}/ns/net`);
      throw eacces(`cannot read /proc/${s.peer.pid}/ns/net`);
    }
    const c = this.ctx.registry.findByNetnsIno(ino);
    if (c === undefined) {
      const msg = `refused pid ${s.peer.pid} uid ${s.peer.uid}: network namespace net:[${ino}] is not a registered container`;
      this.log.warn(msg);
      throw eacces(msg);
    }
    this.ctx.quota.check(c, 'sessions');
    clearTimeout(s.helloTimer);
    const sid = this.allocateSid();
    const { pageFd, doorbellFd } = this.ctx.dataPlane.addSession(sid, { tenant: c.tenantId, lid: c.lid });
    s.sid = sid;
    s.container = c;
    s.state = SessionState.Established;
    this.bySid.set(sid, s);
    this.log.info(`${s.describe()}: established (tenant ${c.tenant}, lid ${c.lid})`);
    this.emit('established', s);
    return {
      rep: deviceAttributes(sid, c, this.ctx.quota.ceiling(c)),
      fds: [pageFd, doorbellFd],
      closeAfterSend: [pageFd],
    };
  }

  private allocateSid(): number {
    for (;;) {
      const sid = this.nextSid;
      this.nextSid = sid >= 0xffff_ffff ? 1 : sid + 1;
      if (!this.bySid.has(sid)) return sid;
    }
  }

  private send(s: Session, body: Buffer, result: { fds?: number[]; closeAfterSend?: number[] }): void {
    try {
      this.server?.send(s.conn, body, result.fds ?? []);
    } catch (err) {
      this.log.info(`${s.describe()}: cannot send reply: ${(err as Error).message}`);
    } finally {
      this.closeFds(result.closeAfterSend ?? []);
    }
  }

  private replyError(s: Session, type: number, seq: number, err: RouterError, what: string): void {
    const level = err.errno === FfrErr.FFR_EIO ? LogLevel.Error : LogLevel.Info;
    const line = `${s.describe()}: ${what} failed: ${errnoName(err.errno)}: ${err.message}`;
    if (level === LogLevel.Error) {
      this.log.error(err.cause instanceof Error && err.cause.stack ? `${line}\n${err.cause.stack}` : line);
    } else if (err.errno !== FfrErr.FFR_EACCES) {
      // Refusals are logged where they are decided, with the identity.
      this.log.info(line);
    }
    this.send(s, encodeError(type, seq, err.errno), {});
  }

  private protocolError(s: Session, err: RouterError): void {
    this.log.warn(`${s.describe()}: closing the session: protocol error: ${err.message}`);
    this.close(s, `protocol error: ${err.message}`);
  }

  private end(s: Session, reason: string): void {
    if (s.state === SessionState.Closed) return;
    clearTimeout(s.helloTimer);
    const wasEstablished = s.state === SessionState.Established;
    s.state = SessionState.Closed;
    this.byConn.delete(s.conn);
    if (!wasEstablished) {
      this.log.debug(`${s.describe()}: closed before hello (${reason})`);
      this.emit('closed', s, undefined);
      return;
    }
    this.bySid.delete(s.sid);
    const counts = s.counts();
    const bytes = s.registeredBytes;
    let stats: SessionStats | undefined;
    try {
      stats = this.ctx.dataPlane.stats().find((x) => x.sid === s.sid);
    } catch (err) {
      this.log.warn(`${s.describe()}: cannot read final stats: ${(err as Error).message}`);
    }
    // A session that still holds QPs died under them: peers' RC QPs must see
    // retry-exceeded, not a clean destroy (design.md "Data-plane semantics").
    const crashed = counts.qp > 0;
    try {
      this.ctx.dataPlane.removeSession(s.sid, crashed);
    } catch (err) {
      this.log.error(`${s.describe()}: data plane removeSession failed: ${(err as Error).message}`);
    }
    for (const mr of s.mrs.values()) this.ctx.mrKeys.release(mr.key);
    for (const qp of s.qps.values()) this.ctx.qpns.free(qp.qpn);
    for (const srq of s.srqs.values()) this.ctx.srqns.free(srq.srqn);
    s.clearTables();
    const held = OBJECT_KINDS.filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`);
    this.log.info(
      `${s.describe()}: ended (${reason})${crashed ? ' with live QPs' : ''}: reclaimed ${held.length ? held.join(', ') : 'nothing'}` +
        (bytes > 0n ? `, ${bytes} registered bytes` : ''),
    );
    this.emit('closed', s, stats);
  }

  private closeFds(fds: readonly number[]): void {
    for (const fd of fds) {
      try {
        this.ctx.closeFd(fd);
      } catch (err) {
        this.log.warn(`cannot close fd ${fd}: ${(err as Error).message}`);
      }
    }
  }
}
