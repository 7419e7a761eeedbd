import type { MessageName, MessageTypes } from '../../proto/gen/ffproto.js';
import { ebadf } from '../errors.js';
import type { Logger } from '../log.js';
import type { DataPlane } from '../native.js';
import type { QuotaGuard } from '../policy/guard.js';
import type { Container, Registry } from '../registry/registry.js';
import type { MrKeyAllocator, NumberAllocator } from '../verbs/allocators.js';
import type { NumberSource } from '../verbs/qpn-blocks.js';
import type { Session } from './session.js';

/** What every request handler may use. The data plane is already behind nativeBoundary. */
export interface VerbsContext {
  dataPlane: DataPlane;
  closeFd(fd: number): void;
  registry: Registry;
  /** Every create is checked here first (container and tenant quotas). */
  quota: QuotaGuard;
  qpns: NumberSource;
  srqns: NumberAllocator;
  mrKeys: MrKeyAllocator;
  log: Logger;
  /**
   * The peer router (hostId) that serves a destination container; 0 when it
   * is on this host. Throws EAGAIN while the registry is unreachable and
   * EHOSTUNREACH when the container's router is not up; `what` is for the error.
   */
  peerOf(dest: Container, what: string): number;
}

/**
 * The fds that arrived with a request. A handler takes the ones it hands on
 * (to the data plane, which then owns them); the dispatcher closes the rest
 * whatever happens, so an error path cannot leak a memfd or an eventfd.
 */
export class FdBag {
  private readonly taken = new Set<number>();

  constructor(private readonly fds: readonly number[]) {}

  take(index: number, what: string): number {
    const fd = this.fds[index];
    if (fd === undefined || fd < 0) throw ebadf(`the request carries no ${what} fd`);
    this.taken.add(index);
    return fd;
  }

  /** The fds nobody took; the caller closes them. */
  leftovers(): number[] {
    return this.fds.filter((_, i) => !this.taken.has(i));
  }
}

/** A handler's answer: reply fields, fds to pass, and which of those the router must close once sent. */
export interface HandlerResult<N extends MessageName> {
  rep: MessageTypes[N]['rep'];
  fds?: number[];
  closeAfterSend?: number[];
}

export type Handler<N extends MessageName> = (
  ctx: VerbsContext,
  s: Session,
  req: MessageTypes[N]['req'],
  fds: FdBag,
) => HandlerResult<N>;

export type HandlerTable = { [N in MessageName]?: Handler<N> };

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
