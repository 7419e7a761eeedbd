// A real ffrouter process (node dist/router/main.js) with its own temporary
// socket, admin socket and state directory and a free metrics port.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonNeedsAsan, ASAN, libasan, PATHS, requireProducts, ROOT, sanitizerEnv } from './paths.js';
import { describeOutput, run as runProc, sleep, spawnProc, type Proc, type RunResult } from './proc.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** One HTTP request over a Unix socket; resolves with status and body. */
export function unixHttp(socketPath: string, method: string, path: string, body?: unknown, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({
      socketPath, method, path, timeout: timeoutMs,
      headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

export interface RouterOptions {
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  /** Hard bound on the router's life (it is a test fixture). */
  lifetimeMs?: number;
  /** Run inside this network namespace (a "host" of a cluster test). */
  netns?: string;
  /** Reuse this directory (sockets, state) instead of a fresh one: a restarted router keeps its paths. */
  dir?: string;
}

export class Router {
  readonly dir: string;
  readonly socket: string;
  readonly adminSocket: string;
  readonly stateDir: string;
  readonly metricsPort: number;
  readonly proc: Proc;
  readonly netns: string | undefined;

  private constructor(dir: string, metricsPort: number, opts: RouterOptions) {
    this.netns = opts.netns;
    this.dir = dir;
    this.socket = join(dir, 'ffrouter.sock');
    this.adminSocket = join(dir, 'admin.sock');
    this.stateDir = join(dir, 'state');
    this.metricsPort = metricsPort;
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
    delete env.LD_PRELOAD;
    // FFR_ASAN=1, or an addon that happens to be the sanitizer build
    if (ASAN || addonNeedsAsan()) {
      env.LD_PRELOAD = libasan();
      Object.assign(env, sanitizerEnv());
    }
    const argv = [
      PATHS.routerMain,
      '--socket', this.socket,
      '--admin-socket', this.adminSocket,
      '--metrics-port', String(metricsPort),
      '--state-dir', this.stateDir,
      ...(opts.extraArgs ?? []),
    ];
    const [cmd, args] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, process.execPath, ...argv]] : [process.execPath, argv];
    this.proc = spawnProc(cmd, args, { timeoutMs: opts.lifetimeMs ?? 30 * 60_000, env, cwd: ROOT, label: `ffrouter${opts.netns ? ` (${opts.netns})` : ''}` });
  }

  static async start(opts: RouterOptions = {}): Promise<Router> {
    requireProducts('routerMain', 'addon');
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ffr-test-'));
    const r = new Router(dir, await freePort(), opts);
    try {
      await r.waitReady(opts.startTimeoutMs ?? 20_000);
    } catch (e) {
      await r.stop('SIGKILL');
      throw e;
    }
    return r;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.proc.exited) throw new Error(`ffrouter exited during start:\n${this.proc.describe()}`);
      try {
        const r = await unixHttp(this.adminSocket, 'GET', '/containers', undefined, 1000);
        if (r.status > 0) return;
      } catch (e) { last = (e as Error).message; }
      await sleep(100);
    }
    throw new Error(`ffrouter admin socket did not answer within ${timeoutMs} ms (${last}):\n${this.proc.describe()}`);
  }

  get alive(): boolean { return !this.proc.exited; }

  /** Router stdout+stderr so far (for failure messages). */
  logs(): string { return describeOutput({ cmd: this.proc.cmd, stdout: this.proc.stdout, stderr: this.proc.stderr }); }

  /** SIGTERM (or the given signal), then SIGKILL after graceMs. Removes the temp dir. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<RunResult> {
    this.proc.signal(signal);
    let r = await this.proc.waitExit(graceMs);
    if (!r) {
      this.proc.killGroup('SIGKILL');
      r = await this.proc.done;
    }
    this.removeDir();
    return r;
  }

  /** Removes the temporary directory (sockets, state). */
  removeDir(): void { rmSync(this.dir, { recursive: true, force: true }); }

  metricsUrl(): string { return `http://127.0.0.1:${this.metricsPort}/metrics`; }

  /** The /metrics text, fetched from inside the router's namespace when it has one. */
  async metricsText(): Promise<string> {
    if (!this.netns) {
      const r = await fetch(this.metricsUrl());
      return await r.text();
    }
    const script = `fetch(${JSON.stringify(this.metricsUrl())}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
    const r = await runProc('ip', ['netns', 'exec', this.netns, process.execPath, '-e', script], { timeoutMs: 10_000, label: 'metrics fetch' });
    if (r.code !== 0) throw new Error(`metrics fetch in ${this.netns} failed:\n${describeOutput(r)}`);
    return r.stdout;
  }
}
