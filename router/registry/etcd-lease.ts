// This router's presence in the cluster: its record `P/routers/<host>`
// attached to a lease that this class keeps alive. The keepalive is driven
// by the registry (one request at a time, each with a deadline) rather than
// by the library's stream, so that a failure is seen at once and the
// registry decides what to do.
import { EtcdLeaseInvalidError, type Etcd3, type Lease } from 'etcd3';
import type { Logger } from '../log.js';
import { bounded, errorMessage } from './etcd-client.js';

export class RouterLease {
  private lease: Lease | undefined;

  constructor(
    private readonly client: Etcd3,
    /** `P/routers/<host>`. */
    private readonly key: string,
    private readonly record: () => string,
    readonly ttlS: number,
    private readonly callTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Warns when the record exists already: a previous run whose lease is still alive, or a name clash. */
  async checkPrevious(): Promise<void> {
    const prev = await bounded(this.client.get(this.key).string(), this.callTimeoutMs + 500, 'router record');
    if (prev === null) return;
    this.log.warn(
      `${this.key} exists (${prev}): a previous run of this router whose lease has not expired yet, ` +
        `or another router with the same host name (then give one of them another --host-name)`,
    );
  }

  /** One keepalive; throws when etcd does not answer within `ms` or the lease is gone (then the next announce takes a new one). */
  async keepalive(ms: number): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) throw new EtcdLeaseInvalidError('no lease');
    try {
      await bounded(lease.keepaliveOnce({ deadline: Date.now() + ms }), ms + 500, 'lease keepalive');
    } catch (err) {
      if (err instanceof EtcdLeaseInvalidError && this.lease === lease) this.lease = undefined;
      throw err;
    }
  }

  /**
   * Makes sure the lease lives (a new one if it expired) and the record is
   * on it. `closed` is asked after the grant: a lease granted while the
   * registry closed is left to expire unused.
   */
  async announce(closed: () => boolean): Promise<void> {
    if (this.lease !== undefined) {
      try {
        await this.keepalive(this.callTimeoutMs);
      } catch (err) {
        if (!(err instanceof EtcdLeaseInvalidError)) throw err;
        this.log.warn(`the router lease expired while etcd was unreachable: announcing this router again with a new lease`);
      }
    }
    if (this.lease === undefined) {
      const lease = this.client.lease(this.ttlS, { autoKeepAlive: false });
      // 'lost' is also reported by the keepalive's own rejection, handled there.
      lease.on('lost', () => undefined);
      await bounded(lease.grant(), this.callTimeoutMs + 500, 'lease grant');
      if (closed()) {
        lease.release();
        throw new Error('registry closed');
      }
      this.lease = lease;
    }
    await bounded(this.lease.put(this.key).value(this.record()).exec(), this.callTimeoutMs + 500, 'router record put');
  }

  /** Revokes (the record goes at once) or, with `revoke` false, stops the keepalive so the record goes after the TTL. */
  async close(revoke: boolean, timeoutMs: number): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    if (!revoke) {
      lease.release();
      return;
    }
    await bounded(lease.revoke({ deadline: Date.now() + timeoutMs }), timeoutMs + 500, 'lease revoke').catch((err) =>
      this.log.warn(`could not revoke the router lease (others see this router until its ${this.ttlS} s TTL runs out): ${errorMessage(err)}`),
    );
  }
}
