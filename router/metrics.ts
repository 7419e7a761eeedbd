import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, type Registry as PromRegistry } from 'prom-client';
import type { Logger } from './log.js';
import type { SessionStats } from './native.js';
import type { Container } from './registry/registry.js';
import { OBJECT_KINDS } from './session/objects.js';
import type { Session } from './session/session.js';
import { wcStatusName } from './verbs/constants.js';

/** Where metric values come from; pulled at scrape time, nothing is pushed per work request. */
export interface MetricsSource {
  sessions(): Session[];
  containers(): Container[];
  stats(): SessionStats[];
}

interface Totals {
  bytesOut: number;
  bytesIn: number;
  wrsOut: number;
  wrsIn: number;
  throttledNs: number;
  busyNs: number;
  completions: Map<string, number>;
}

function emptyTotals(): Totals {
  return { bytesOut: 0, bytesIn: 0, wrsOut: 0, wrsIn: 0, throttledNs: 0, busyNs: 0, completions: new Map() };
}

function addStats(t: Totals, st: SessionStats): void {
  t.bytesOut += st.bytesOut;
  t.bytesIn += st.bytesIn;
  t.wrsOut += st.wrsOut;
  t.wrsIn += st.wrsIn;
  t.throttledNs += st.throttledNs;
  t.busyNs += st.busyNs;
  for (const [status, n] of Object.entries(st.completions)) {
    const name = wcStatusName(Number(status));
    t.completions.set(name, (t.completions.get(name) ?? 0) + n);
  }
}

/** A scrape reads the data plane once even though four metrics need it. */
const SNAPSHOT_TTL_MS = 100;

/**
 * The router's Prometheus metrics, all `ffr_`-prefixed, on an injected
 * registry. Counters are per container: the data plane counts per session,
 * so the totals of sessions that ended are kept here and added to the live
 * ones at every scrape, and a container's series vanish when it is removed.
 */
export class RouterMetrics {
  private readonly retired = new Map<string, Totals>();
  private snapshot: { at: number; totals: Map<string, Totals> } | undefined;

  constructor(
    readonly registry: PromRegistry,
    private readonly source: MetricsSource,
    private readonly log: Logger,
  ) {
    const self = this;
    const registers = [registry];
    collectDefaultMetrics({ register: registry, prefix: 'ffr_' });

    new Gauge({
      name: 'ffr_sessions',
      help: 'Established control sessions (one per process using the virtual device).',
      registers,
      collect() {
        this.set(self.source.sessions().length);
      },
    });
    new Gauge({
      name: 'ffr_containers',
      help: 'Registered containers.',
      registers,
      collect() {
        this.set(self.source.containers().length);
      },
    });
    new Gauge({
      name: 'ffr_objects',
      help: 'Live verbs objects per container and kind.',
      labelNames: ['container', 'kind'] as const,
      registers,
      collect() {
        this.reset();
        for (const c of self.source.containers()) for (const kind of OBJECT_KINDS) this.set({ container: c.name, kind }, 0);
        for (const s of self.source.sessions()) {
          if (!s.container) continue;
          const counts = s.counts();
          for (const kind of OBJECT_KINDS) this.inc({ container: s.container.name, kind }, counts[kind]);
        }
      },
    });
    new Gauge({
      name: 'ffr_registered_bytes',
      help: 'Bytes currently registered as memory regions per container.',
      labelNames: ['container'] as const,
      registers,
      collect() {
        this.reset();
        for (const c of self.source.containers()) this.set({ container: c.name }, 0);
        for (const s of self.source.sessions()) {
          if (s.container) this.inc({ container: s.container.name }, Number(s.registeredBytes));
        }
      },
    });
    new Counter({
      name: 'ffr_bytes_total',
      help: 'Payload bytes moved by the data plane per container (out = sent by it, in = delivered to it).',
      labelNames: ['container', 'direction'] as const,
      registers,
      collect() {
        this.reset();
        for (const [container, t] of self.totals()) {
          this.inc({ container, direction: 'out' }, t.bytesOut);
          this.inc({ container, direction: 'in' }, t.bytesIn);
        }
      },
    });
    new Counter({
      name: 'ffr_work_requests_total',
      help: 'Work requests executed per container (out = posted by it, in = receives it had consumed).',
      labelNames: ['container', 'direction'] as const,
      registers,
      collect() {
        this.reset();
        for (const [container, t] of self.totals()) {
          this.inc({ container, direction: 'out' }, t.wrsOut);
          this.inc({ container, direction: 'in' }, t.wrsIn);
        }
      },
    });
    const perTenant = (name: string, help: string, value: (t: Totals) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['tenant', 'container'] as const,
        registers,
        collect() {
          this.reset();
          const tenantOf = new Map(self.source.containers().map((c) => [c.name, c.tenant]));
          for (const [container, t] of self.totals()) {
            this.inc({ tenant: tenantOf.get(container) ?? '', container }, value(t) / 1e9);
          }
        },
      });
    };
    perTenant('ffr_throttled_seconds_total', 'Time the head work requests of a container\'s QPs waited on a rate cap (its own or its tenant\'s), summed over its QPs.', (t) => t.throttledNs);
    perTenant('ffr_dataplane_seconds_total', 'Data-plane time spent serving a container\'s send queues: the router CPU its traffic costs.', (t) => t.busyNs);
    new Counter({
      name: 'ffr_completions_total',
      help: 'Completions written per container by ibv_wc_status (success, wr_flush_err, retry_exc_err, ...).',
      labelNames: ['container', 'status'] as const,
      registers,
      collect() {
        this.reset();
        for (const [container, t] of self.totals()) {
          for (const [status, n] of t.completions) this.inc({ container, status }, n);
        }
      },
    });
  }

  /** Keeps an ended session's last counters so the container's totals never go backwards. */
  sessionClosed(s: Session, stats: SessionStats | undefined): void {
    if (!s.container || !stats) return;
    const t = this.retired.get(s.container.name) ?? emptyTotals();
    addStats(t, stats);
    this.retired.set(s.container.name, t);
    this.snapshot = undefined;
  }

  containerRemoved(c: Container): void {
    this.retired.delete(c.name);
    this.snapshot = undefined;
  }

  private totals(): Map<string, Totals> {
    const now = Date.now();
    if (this.snapshot && now - this.snapshot.at < SNAPSHOT_TTL_MS) return this.snapshot.totals;
    const totals = new Map<string, Totals>();
    const of = (name: string): Totals => {
      let t = totals.get(name);
      if (t === undefined) totals.set(name, (t = emptyTotals()));
      return t;
    };
    for (const [name, r] of this.retired) {
      const t = of(name);
      addStats(t, { ...r, sid: 0, completions: {} });
      for (const [status, n] of r.completions) t.completions.set(status, (t.completions.get(status) ?? 0) + n);
    }
    const bySid = new Map<number, string>();
    for (const s of this.source.sessions()) if (s.container) bySid.set(s.sid, s.container.name);
    let stats: SessionStats[] = [];
    try {
      stats = this.source.stats();
    } catch (err) {
      this.log.warn(`metrics: data plane stats failed: ${(err as Error).message}`);
    }
    for (const st of stats) {
      const name = bySid.get(st.sid);
      if (name !== undefined) addStats(of(name), st);
    }
    this.snapshot = { at: now, totals };
    return totals;
  }
}

/** `GET /metrics` on host:port; anything else is 404. */
export class MetricsServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: PromRegistry,
    private readonly log: Logger,
  ) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try GET /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => {
          this.log.error(`metrics: ${err.message}`);
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
        },
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
