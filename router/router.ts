import { chmodSync, mkdirSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { Registry as PromRegistry } from 'prom-client';
import { AdminServer, type AdminBackend, type PolicyView, type QpView, type RouterInfo, type SessionView } from './admin/server.js';
import { Logger, LOG_LEVEL_NAMES } from './log.js';
import { MetricsServer, RouterMetrics } from './metrics.js';
import { loadNative, nativeBoundary, type ControlServer, type CtlEvent, type DataPlane, type NativeModule } from './native.js';
import type { RouterOptions } from './options.js';
import { packageVersion } from './paths.js';
import { PeerLinks, type PeerView } from './cluster/peers.js';
import { ehostunreach } from './errors.js';
import { parseHostPort } from './options.js';
import { EmbeddedRegistry } from './registry/embedded.js';
import { EtcdRegistry } from './registry/etcd.js';
import type { Container, Registry } from './registry/registry.js';
import { QpnBlocks, type NumberSource } from './verbs/qpn-blocks.js';
import { QuotaGuard, type Usage } from './policy/guard.js';
import { RateCaps } from './policy/caps.js';
import { SchedWeights } from './policy/weights.js';
import { registerQuotaMetrics } from './policy/metrics.js';
import { EtcdPolicyStore } from './policy/etcd-store.js';
import { FilePolicyStore, type PolicyStore } from './policy/store.js';
import type { PolicyScope } from './policy/policy.js';
import { SessionManager } from './session/manager.js';
import type { Session } from './session/session.js';
import { prepareSocketPath, unlinkQuietly } from './sockets.js';
import { MrKeyAllocator, NumberAllocator } from './verbs/allocators.js';
import { qpStateName, qpTypeName } from './verbs/constants.js';

export enum RouterState {
  Starting = 'starting',
  Running = 'running',
  Stopping = 'stopping',
  Stopped = 'stopped',
}

export interface RouterEvents {
  state: [RouterState];
  sessionEstablished: [Session];
  sessionClosed: [Session];
}

/** Collaborators a test (or an embedding) may supply; production uses the defaults. */
export interface RouterDeps {
  /** The addon; defaults to native/build/Release/ffr_native.node. */
  native?: NativeModule;
  /** Prometheus registry to register on; defaults to a fresh one. */
  metricsRegistry?: PromRegistry;
  logger?: Logger;
  /** Container registry; defaults to the embedded one in stateDir. */
  registry?: Registry;
}


/**
 * The per-host daemon wired together: registry, data plane, control server,
 * sessions, admin API and metrics. `Router.start()` resolves when it serves;
 * `stop()` is the graceful path (data plane to STOPPING, QPs flushed,
 * sessions closed).
 */
export class Router extends EventEmitter<RouterEvents> implements AdminBackend {
  private stateValue = RouterState.Starting;
  readonly log: Logger;
  readonly metricsRegistry: PromRegistry;
  registry!: Registry;
  private native!: NativeModule;
  private dataPlane: DataPlane | undefined;
  private control: ControlServer | undefined;
  private manager!: SessionManager;
  private metrics: RouterMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  private metricsAddress: string | null = null;
  private admin: AdminServer | undefined;
  private stopping: Promise<void> | undefined;
  private peers: PeerLinks | undefined;
  policies!: PolicyStore;
  private quota!: QuotaGuard;

  private constructor(
    readonly options: RouterOptions,
    private readonly deps: RouterDeps,
  ) {
    super();
    this.log = deps.logger ?? new Logger(LOG_LEVEL_NAMES[options.logLevel]);
    this.metricsRegistry = deps.metricsRegistry ?? new PromRegistry();
  }

  get state(): RouterState {
    return this.stateValue;
  }

  static async start(options: RouterOptions, deps: RouterDeps = {}): Promise<Router> {
    const r = new Router(options, deps);
    try {
      await r.init();
    } catch (err) {
      await r.stop().catch(() => undefined);
      throw err;
    }
    return r;
  }

  private setState(s: RouterState): void {
    this.stateValue = s;
    this.emit('state', s);
  }

  private async init(): Promise<void> {
    const o = this.options;
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    this.native = this.deps.native ?? loadNative();
    const native = this.native;
    const dataPlane = nativeBoundary(new native.DataPlane({ idleSpinUs: o.idleSpinUs, maxBatch: o.maxBatch, chunkBytes: o.chunkKib * 1024, cpus: o.dataplaneCpus }), 'dataPlane');
    this.dataPlane = dataPlane;
    // The listener first: the router announces the port it really got.
    let peerAddr = '';
    if (o.peerListen !== '') {
      const listen = parseHostPort('peerListen', o.peerListen, true);
      const port = dataPlane.peerListen(listen.address, listen.port);
      const adv = parseHostPort('peerAdvertise', o.peerAdvertise, true);
      peerAddr = `${adv.address}:${adv.port === 0 ? port : adv.port}`;
    }
    this.registry =
      this.deps.registry ??
      (o.etcd.length > 0
        ? await EtcdRegistry.open({
            endpoints: o.etcd,
            prefix: o.etcdPrefix,
            hostName: o.hostName,
            peer: peerAddr,
            leaseTtlS: o.leaseTtlS,
            log: this.log.child('registry'),
            version: packageVersion(),
          })
        : await EmbeddedRegistry.open(o.stateDir, this.log.child('registry'), o.hostName));
    const registry = this.registry;
    let qpns: NumberSource = new NumberAllocator('QPN');
    if (o.etcd.length > 0) {
      dataPlane.setHostId(registry.hostId);
      qpns = await QpnBlocks.open(() => registry.claimQpnBlock(), this.log.child('qpn'));
      this.peers = new PeerLinks(registry, dataPlane, o.peerPool, this.log.child('peer'));
      this.peers.start();
      this.peers.registerMetrics(this.metricsRegistry);
    }

    // In a cluster, policies live in etcd beside the containers, so one command sets them on every router.
    this.policies =
      registry instanceof EtcdRegistry
        ? new EtcdPolicyStore(registry, o.policies, this.log.child('policy'))
        : await FilePolicyStore.open(o.stateDir, o.policies, this.log.child('policy'));
    this.quota = new QuotaGuard(this.policies, o.quotas, { usage: (scope, name) => this.manager.usage(scope, name) }, this.log.child('quota'));
    const sessionLog = this.log.child('session');
    this.manager = new SessionManager(
      {
        dataPlane,
        closeFd: (fd) => native.closeFd(fd),
        registry: this.registry,
        quota: this.quota,
        qpns,
        peerOf: (dest, what) => this.peerOf(dest, what),
        srqns: new NumberAllocator('SRQN'),
        mrKeys: new MrKeyAllocator(),
        log: sessionLog,
      },
      sessionLog,
    );
    this.manager.on('established', (s) => this.emit('sessionEstablished', s));
    this.manager.on('closed', (s, stats) => {
      this.metrics?.sessionClosed(s, stats);
      this.emit('sessionClosed', s);
    });
    this.registry.on('removed', (c) => {
      const n = this.manager.closeContainer(c, `container ${c.name} was removed`);
      if (n) this.log.info(`container ${c.name} removed: closed its ${n} sessions`);
      this.metrics?.containerRemoved(c);
      this.quota.forget(c.name);
    });

    this.metrics = new RouterMetrics(
      this.metricsRegistry,
      {
        sessions: () => this.manager.established(),
        containers: () => this.registry.list().filter((c) => c.host === this.registry.hostName),
        stats: () => dataPlane.stats(),
      },
      this.log.child('metrics'),
    );
    new RateCaps(dataPlane, registry, this.policies, this.log.child('caps')).start();
    new SchedWeights(dataPlane, registry, this.policies, this.log.child('sched')).start();
    registerQuotaMetrics(this.metricsRegistry, this.quota, {
      containers: () => this.registry.list().filter((c) => c.host === this.registry.hostName),
      usage: (scope, name) => this.manager.usage(scope, name),
    });

    await prepareSocketPath(o.socket);
    const onEvent = (ev: CtlEvent): void => {
      // Called from the addon's thread-safe function: an exception here
      // would be an uncaught error in native code's callback.
      try {
        this.manager.onEvent(ev);
      } catch (err) {
        this.log.error(`control event ${ev.type} on conn ${ev.conn}: ${(err as Error).stack ?? String(err)}`);
      }
    };
    this.control = nativeBoundary(new native.ControlServer(o.socket, onEvent), 'controlServer');
    this.manager.attach(this.control);
    // Identity is the caller's network namespace, not its uid: any process of
    // a registered container may connect, whatever user it runs as.
    chmodSync(o.socket, 0o666);

    this.admin = new AdminServer(this, this.log.child('admin'));
    await this.admin.listen(o.adminSocket);

    if (o.metricsPort !== 0) {
      this.metricsServer = new MetricsServer(this.metricsRegistry, this.log.child('metrics'));
      const addr = await this.metricsServer.listen(o.metricsHost, o.metricsPort);
      this.metricsAddress = `${addr.address}:${addr.port}`;
    }
    this.setState(RouterState.Running);
    this.log.info(
      `running: control ${o.socket}, admin ${o.adminSocket}, metrics ${this.metricsAddress ?? 'disabled'}, ` +
        (o.etcd.length > 0
          ? `host ${registry.hostName} (hostId ${registry.hostId}), etcd ${o.etcd.join(',')}, peers on ${peerAddr} (pool ${o.peerPool}), `
          : `state ${o.stateDir}, `) +
        `${this.registry.list().length} containers` +
        (o.dataplaneCpus.length > 0 ? `, data plane on CPUs ${o.dataplaneCpus.join(',')}` : ''),
    );
  }

  /** See VerbsContext.peerOf. */
  private peerOf(dest: Container, what: string): number {
    const reg = this.registry;
    if (dest.host === reg.hostName) return 0;
    reg.requireHealthy(what);
    const r = reg.routers().find((x) => x.host === dest.host);
    if (r === undefined || r.peer === '') {
      throw ehostunreach(`${what}: container ${dest.name} lives on host ${dest.host}, whose router is not up`);
    }
    return r.hostId;
  }

  /** The peer routers and their connections (ffctl peers). */
  peerList(): PeerView[] {
    return this.peers?.list() ?? [];
  }

  /** Graceful stop; idempotent, and safe on a router that failed half way through start. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.setState(RouterState.Stopping);
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.error(`stop: ${what}: ${(err as Error).message}`);
      }
    };
    const sessions = this.manager?.established().length ?? 0;
    this.peers?.stop();
    // Shutdown first: router_state = STOPPING and every QP flushed while the
    // sessions can still see it, then the sockets close.
    if (this.dataPlane) await step('data plane shutdown', () => this.dataPlane!.shutdown());
    if (this.manager) await step('closing sessions', () => this.manager.closeAll('router stopping'));
    if (this.control) {
      await step('control server close', () => this.control!.close());
      // Only ours to remove if we bound it: a router that failed to start
      // must not unlink the socket of the one already running.
      unlinkQuietly(this.options.socket);
    }
    if (this.dataPlane) await step('data plane close', () => this.dataPlane!.close());
    if (this.admin) await step('admin close', () => this.admin!.close(this.options.adminSocket));
    if (this.metricsServer) await step('metrics close', () => this.metricsServer!.close());
    if (this.registry) await step('registry close', () => this.registry.close());
    if (this.policies) await step('policy store close', () => this.policies.close());
    this.control = undefined;
    this.dataPlane = undefined;
    this.setState(RouterState.Stopped);
    this.log.info(`stopped (${sessions} sessions closed)`);
  }

  // AdminBackend

  info(): RouterInfo {
    return {
      version: packageVersion(),
      state: this.stateValue,
      socket: this.options.socket,
      adminSocket: this.options.adminSocket,
      metrics: this.metricsAddress,
      stateDir: this.options.stateDir,
      pid: process.pid,
      host: this.registry?.hostName ?? this.options.hostName,
      hostId: this.registry?.hostId ?? 0,
      registry: this.options.etcd.length > 0 ? `etcd ${this.options.etcd.join(',')}` : 'embedded',
      registryHealthy: this.registry?.healthy ?? false,
    };
  }

  policyView(scope: PolicyScope, name: string): PolicyView {
    const local = this.registry.list().filter((c) => c.host === this.registry.hostName);
    const c = scope === 'container' ? this.registry.get(name) : undefined;
    const limits = scope === 'container' ? this.quota.limits({ name, tenant: c?.tenant ?? '' }).container : this.quota.limits({ name: '', tenant: name }).tenant;
    const usage: Usage = this.manager.usage(scope, name);
    const members = scope === 'tenant' ? local.filter((x) => x.tenant === name).map((x) => x.name) : c ? [c.tenant] : [];
    return { scope, name, policy: this.policies.get(scope, name), limits, usage, members };
  }

  tenantNames(): string[] {
    const names = new Set(this.registry.list().filter((c) => c.host === this.registry.hostName).map((c) => c.tenant));
    for (const [t] of this.policies.list('tenant')) names.add(t);
    return [...names].sort();
  }

  sessions(): SessionView[] {
    return this.manager.sessions().map((s) => ({
      id: s.sid,
      conn: s.conn,
      pid: s.peer.pid,
      uid: s.peer.uid,
      container: s.container?.name ?? null,
      tenant: s.container?.tenant ?? null,
      state: s.state,
      openedAt: s.openedAt.toISOString(),
      requests: s.requests,
      objects: s.counts(),
      registeredBytes: s.registeredBytes.toString(),
    }));
  }

  qps(): QpView[] {
    const out: QpView[] = [];
    for (const s of this.manager.established()) {
      for (const qp of s.qps.values()) {
        let state = qp.attrs.qp_state;
        try {
          state = this.dataPlane?.qpState(s.sid, qp.handle) ?? state;
        } catch {
          // Listing must not fail because one QP is being torn down.
        }
        out.push({
          container: s.owner.name,
          session: s.sid,
          pid: s.peer.pid,
          qpn: qp.qpn,
          type: qpTypeName(qp.type),
          state: qpStateName(state),
          destQpn: qp.attrs.dest_qp_num,
          dlid: qp.attrs.dlid,
          isGlobal: qp.attrs.is_global === 1,
        });
      }
    }
    return out.sort((a, b) => a.qpn - b.qpn);
  }
}
