import { Counter, Gauge, type Registry as PromRegistry } from 'prom-client';
import type { Logger } from '../log.js';
import type { DataPlane, PeerStats } from '../native.js';
import type { Registry, RouterRecord } from '../registry/registry.js';

/** How often connection changes are looked for (they are logged, not pushed by the addon). */
const WATCH_MS = 1000;
/**
 * A router whose record vanished is dropped only after this long: a record
 * also vanishes when its lease lapses during an etcd outage, and the router
 * re-announces itself when etcd returns, while its connections never broke.
 */
const FORGET_MS = 30_000;

export interface PeerView extends PeerStats {
  host: string;
}

/**
 * Keeps the data plane's peer table equal to the routers the registry
 * knows (docs/cluster.md): one entry per other router with a peer address.
 * The data plane owns the connections; this class logs their changes and
 * exports them as metrics.
 */
export class PeerLinks {
  private readonly hosts = new Map<number, RouterRecord>();
  private readonly seen = new Map<number, { up: number; lastError: string }>();
  private readonly forgetting = new Map<number, NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly dataPlane: DataPlane,
    private readonly pool: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const r of this.registry.routers()) this.up(r);
    this.registry.on('routerUp', this.onUp);
    this.registry.on('routerDown', this.onDown);
    this.timer = setInterval(() => this.watch(), WATCH_MS);
    this.timer.unref();
  }

  stop(): void {
    this.registry.off('routerUp', this.onUp);
    this.registry.off('routerDown', this.onDown);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.forgetting.values()) clearTimeout(t);
    this.forgetting.clear();
  }

  /** The host a peer's hostId belongs to, for logs and the admin API. */
  hostOf(hostId: number): string {
    return this.hosts.get(hostId)?.host ?? `host ${hostId}`;
  }

  list(): PeerView[] {
    return this.dataPlane.peerStats().map((p) => ({ ...p, host: this.hostOf(p.hostId) }));
  }

  registerMetrics(registry: PromRegistry): void {
    const self = this;
    const registers = [registry];
    const counter = (name: string, help: string, pick: (p: PeerStats) => [string, number][]): void => {
      new Counter({
        name,
        help,
        labelNames: ['peer', 'direction'] as const,
        registers,
        collect() {
          this.reset();
          for (const p of self.list()) for (const [direction, v] of pick(p)) this.inc({ peer: p.host, direction }, v);
        },
      });
    };
    counter('ffr_peer_bytes_total', 'Bytes on the peer connections, headers included, per peer router.', (p) => [
      ['out', p.bytesOut],
      ['in', p.bytesIn],
    ]);
    counter('ffr_peer_frames_total', 'Frames on the peer connections per peer router.', (p) => [
      ['out', p.framesOut],
      ['in', p.framesIn],
    ]);
    new Gauge({
      name: 'ffr_peer_connections',
      help: 'Physical connections up to each peer router (the pool size when healthy).',
      labelNames: ['peer'] as const,
      registers,
      collect() {
        this.reset();
        for (const p of self.list()) this.set({ peer: p.host }, p.connectionsUp);
      },
    });
    const simple = (name: string, help: string, pick: (p: PeerStats) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['peer'] as const,
        registers,
        collect() {
          this.reset();
          for (const p of self.list()) this.inc({ peer: p.host }, pick(p));
        },
      });
    };
    simple('ffr_peer_reconnects_total', 'Peer connections lost (each is redialled by the lower hostId).', (p) => p.disconnects);
    simple('ffr_peer_retransmits_total', 'Times an RC QP to this peer went back to resend (RNR NAK, timeout, lost connection).', (p) => p.retransmits);
  }

  private readonly onUp = (r: RouterRecord): void => this.up(r);

  private readonly onDown = (r: RouterRecord): void => {
    if (r.hostId === this.registry.hostId || !this.hosts.has(r.hostId) || this.forgetting.has(r.hostId)) return;
    this.log.info(`peer ${r.host} (hostId ${r.hostId}) left the registry; its connections are dropped in ${FORGET_MS / 1000} s unless it returns`);
    const t = setTimeout(() => {
      this.forgetting.delete(r.hostId);
      this.hosts.delete(r.hostId);
      this.seen.delete(r.hostId);
      try {
        this.dataPlane.removePeer(r.hostId);
      } catch {
        return;  // closing
      }
      this.log.info(`peer ${r.host} (hostId ${r.hostId}) forgotten: its connections are closed`);
    }, FORGET_MS);
    t.unref();
    this.forgetting.set(r.hostId, t);
  };

  private up(r: RouterRecord): void {
    if (r.hostId === this.registry.hostId) return;
    const pending = this.forgetting.get(r.hostId);
    if (pending) {
      clearTimeout(pending);
      this.forgetting.delete(r.hostId);
    }
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(r.peer);
    if (!m) {
      this.log.warn(`peer ${r.host} (hostId ${r.hostId}) announces no usable peer address (${JSON.stringify(r.peer)}): not connecting`);
      return;
    }
    const prev = this.hosts.get(r.hostId);
    this.hosts.set(r.hostId, r);
    try {
      this.dataPlane.addPeer(r.hostId, { address: m[1]!, port: Number(m[2]), pool: this.pool });
    } catch (err) {
      this.log.error(`peer ${r.host}: ${(err as Error).message}`);
      return;
    }
    if (prev?.peer !== r.peer) {
      const role = this.registry.hostId < r.hostId ? 'dialling' : 'accepting from';
      this.log.info(`peer ${r.host} (hostId ${r.hostId}) at ${r.peer}: ${role} it, ${this.pool} connection(s)`);
    }
  }

  private watch(): void {
    let stats: PeerStats[];
    try {
      stats = this.dataPlane.peerStats();
    } catch {
      return;  // the data plane is closing
    }
    for (const p of stats) {
      const before = this.seen.get(p.hostId) ?? { up: 0, lastError: '' };
      const host = this.hostOf(p.hostId);
      if (p.connectionsUp !== before.up) {
        const msg = `peer ${host}: ${p.connectionsUp}/${p.pool} connection(s) up`;
        if (p.connectionsUp < before.up) this.log.warn(`${msg}${p.lastError ? ` (${p.lastError})` : ''}`);
        else this.log.info(msg);
      } else if (p.lastError !== '' && p.lastError !== before.lastError && p.connectionsUp < p.pool) {
        this.log.warn(`peer ${host}: ${p.lastError}`);
      }
      this.seen.set(p.hostId, { up: p.connectionsUp, lastError: p.lastError });
    }
  }
}
