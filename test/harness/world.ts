// One test file's world: a bridge with container namespaces, a router, and
// the containers registered with it. teardown() is idempotent and safe to call
// from afterAll even when setup failed halfway.
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Ffctl } from './ffctl.js';
import { ASAN, ASAN_LOG_DIR } from './paths.js';
import { Net, type Container } from './netns.js';
import { killAll } from './proc.js';
import { Router, type RouterOptions } from './router.js';

export interface ContainerDef { name: string; tenant?: string | number; register?: boolean }

export class World {
  net!: Net;
  router?: Router;
  ctl?: Ffctl;

  static async create(defs: ContainerDef[], ropts: RouterOptions = {}): Promise<World> {
    const w = new World();
    try {
      w.net = Net.create(defs.map((d) => d.name));
      w.router = await Router.start(ropts);
      w.ctl = new Ffctl(w.router.adminSocket);
      for (const d of defs) {
        if (d.register === false) continue;
        const c = w.net.get(d.name);
        await w.ctl.addContainer(d.name, { tenant: d.tenant ?? 1, vip: c.ip, netns: c.ns });
      }
    } catch (e) {
      await w.teardown();
      throw e;
    }
    return w;
  }

  c(name: string): Container { return this.net.get(name); }

  get socket(): string {
    if (!this.router) throw new Error('no router');
    return this.router.socket;
  }

  /** Router logs for failure messages. */
  logs = (): string => (this.router ? `ROUTER\n${this.router.logs()}` : '(no router)');

  /** Starts a fresh router (e.g. after a test stopped it) and registers the given containers again. */
  async restartRouter(defs: ContainerDef[], ropts: RouterOptions = {}): Promise<void> {
    if (this.router?.alive) await this.router.stop();
    this.router?.removeDir();
    this.router = await Router.start(ropts);
    this.ctl = new Ffctl(this.router.adminSocket);
    for (const d of defs) {
      if (d.register === false) continue;
      const c = this.net.get(d.name);
      await this.ctl.addContainer(d.name, { tenant: d.tenant ?? 1, vip: c.ip, netns: c.ns });
    }
  }

  async teardown(): Promise<void> {
    // the router first (gracefully), then whatever else still runs
    if (this.router?.alive) await this.router.stop('SIGTERM', 5000);
    this.router?.removeDir();
    await killAll();
    this.net?.destroy();
    if (ASAN) assertNoSanitizerReports();
  }
}

/** FFR_ASAN mode: fails (once per report) if ASan/UBSan wrote a report since the last check. */
export function assertNoSanitizerReports(): void {
  let files: string[] = [];
  try { files = readdirSync(ASAN_LOG_DIR).filter((f) => !f.startsWith('seen.')); } catch { return; }
  if (!files.length) return;
  const text = files.map((f) => {
    const p = join(ASAN_LOG_DIR, f);
    const body = readFileSync(p, 'utf8');
    renameSync(p, join(ASAN_LOG_DIR, `seen.${f}`));
    return `==== ${f}\n${body}`;
  }).join('\n');
  throw new Error(`sanitizer reports:\n${text}`);
}
