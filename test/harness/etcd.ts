// A single-member etcd for the tests: Debian's /usr/bin/etcd (package
// etcd-server) with a temporary data dir, on loopback ports picked free, or
// inside a network namespace on a given address. stop/kill/restart keep the
// data dir and the ports, so a test can take etcd away and bring the same
// cluster back. Every process goes through proc.ts (killed at teardown or
// exit) and runs under coreutils `timeout`, so even a test process that dies
// by SIGKILL leaves no etcd behind for long.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, spawnProc, type Proc } from './proc.js';
import { onExit } from './exit-hooks.js';

export const ETCD_BIN = '/usr/bin/etcd';

export interface EtcdOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Default: a free port (2379 inside a namespace). */
  clientPort?: number;
  /** Default: a free port (2380 inside a namespace). */
  peerPort?: number;
  /** Hard bound of each etcd process's life (default 20 min). */
  lifetimeMs?: number;
  /** Bound of a start or restart until etcd serves (default 30 s). */
  startTimeoutMs?: number;
}

const live = new Set<Etcd>();

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export class Etcd {
  readonly endpoint: string;
  private proc: Proc | undefined;
  private destroyed = false;

  private constructor(
    readonly dataDir: string,
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly opts: EtcdOptions,
  ) {
    this.endpoint = `http://${host}:${clientPort}`;
  }

  static async start(opts: EtcdOptions = {}): Promise<Etcd> {
    const host = opts.host ?? '127.0.0.1';
    const inNs = opts.netns !== undefined;
    const clientPort = opts.clientPort ?? (inNs ? 2379 : await freePort(host));
    let peerPort = opts.peerPort ?? (inNs ? 2380 : await freePort(host));
    while (peerPort === clientPort) peerPort = await freePort(host);
    const dataDir = mkdtempSync(join(tmpdir(), 'ffr-etcd-'));
    const etcd = new Etcd(dataDir, host, clientPort, peerPort, opts);
    live.add(etcd);
    try {
      await etcd.launch();
    } catch (err) {
      await etcd.destroy();
      throw err;
    }
    return etcd;
  }

  get running(): boolean {
    return this.proc !== undefined && !this.proc.exited;
  }

  /** What etcd printed since its last (re)start. */
  get output(): string {
    return this.proc ? this.proc.describe() : '(not running)';
  }

  private async launch(): Promise<void> {
    if (this.destroyed) throw new Error('etcd destroyed');
    const peer = `http://${this.host}:${this.peerPort}`;
    const lifetimeS = Math.ceil((this.opts.lifetimeMs ?? 20 * 60_000) / 1000);
    const etcdArgs = [
      ETCD_BIN,
      '--name', 'ffr-test',
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.endpoint,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `ffr-test=${peer}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    // `timeout` forwards SIGTERM to etcd and kills it when the bound runs out.
    const bounded = ['timeout', '-k', '5', `${lifetimeS}s`, ...etcdArgs];
    const [file, ...args] = this.opts.netns !== undefined ? ['ip', 'netns', 'exec', this.opts.netns, ...bounded] : bounded;
    const proc = spawnProc(file!, args, { timeoutMs: lifetimeS * 1000 + 10_000, label: `etcd ${this.endpoint}` });
    this.proc = proc;
    const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    // zap says "serving client traffic ...", capnslog "ready to serve client requests".
    await proc.waitForOutput(/serving client traffic|ready to serve client requests/, timeoutMs);
    // Reachable from here only outside a namespace; inside, the log line is all we have.
    if (this.opts.netns !== undefined) return;
    for (;;) {
      try {
        const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: unknown };
        if (body.health === 'true') return;
      } catch { /* not yet */ }
      if (proc.exited) throw new Error(`etcd exited while starting:\n${proc.describe()}`);
      if (Date.now() > deadline) throw new Error(`etcd not healthy within ${timeoutMs} ms:\n${proc.describe()}`);
      await sleep(100);
    }
  }

  /** SIGSTOP: etcd hangs with its connections open, as behind a network partition. */
  pause(): void {
    if (this.running) this.proc!.killGroup('SIGSTOP');
  }

  resume(): void {
    if (this.running) this.proc!.killGroup('SIGCONT');
  }

  /** SIGTERM and wait (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exited) return;
    p.signal('SIGTERM');
    p.killGroup('SIGCONT'); // a paused etcd acts on the TERM only once running
    if ((await p.waitExit(10_000)) === undefined) {
      p.killGroup('SIGKILL');
      await p.waitExit(5000);
    }
  }

  /** SIGKILL, as a crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exited) return;
    p.killGroup('SIGKILL');
    await p.waitExit(5000);
  }

  /** Starts etcd again on the same data dir and ports (stopping it first if it runs). */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Kills etcd and removes its data dir. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
    live.delete(this);
  }
}

onExit(() => {
  for (const e of live) rmSync(e.dataDir, { recursive: true, force: true });
});
