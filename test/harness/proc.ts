// Child processes with hard time bounds. Every process the harness starts is
// registered here and killed (its whole process group) at teardown or exit,
// so a failing test never leaves an app, a router or a server behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { onExit } from './exit-hooks.js';

export interface RunResult {
  cmd: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface SpawnOptions {
  /** Hard bound: after this the process group gets SIGKILL and timedOut is set. */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  label?: string;
  /** Data written to stdin then closed (default: stdin is /dev/null). */
  input?: string;
}

const MAX_CAPTURE = 4 << 20; // keep at most 4 MiB of each stream (the tail)
const live = new Set<Proc>();

function append(cur: string, chunk: string): string {
  const s = cur + chunk;
  return s.length > MAX_CAPTURE ? s.slice(s.length - MAX_CAPTURE) : s;
}

export class Proc {
  readonly child: ChildProcess;
  readonly cmd: string;
  readonly label: string;
  stdout = '';
  stderr = '';
  timedOut = false;
  exited = false;
  readonly started = Date.now();
  readonly done: Promise<RunResult>;
  private timer: NodeJS.Timeout;
  private waiters: (() => void)[] = [];

  constructor(file: string, args: string[], opts: SpawnOptions) {
    this.cmd = [file, ...args].map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
    this.label = opts.label ?? file;
    this.child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: true, // own process group: we can kill everything it started
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) this.child.stdin!.end(opts.input);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => { this.stdout = append(this.stdout, d); this.wake(); });
    this.child.stderr!.on('data', (d: string) => { this.stderr = append(this.stderr, d); this.wake(); });
    live.add(this);
    this.timer = setTimeout(() => { this.timedOut = true; this.killGroup('SIGKILL'); }, opts.timeoutMs);
    this.done = new Promise<RunResult>((resolveDone) => {
      let spawnError: Error | undefined;
      this.child.on('error', (e) => { spawnError = e; });
      this.child.on('close', (code, signal) => {
        clearTimeout(this.timer);
        this.exited = true;
        live.delete(this);
        // the group may still hold grandchildren (servers that forked)
        this.killGroup('SIGKILL');
        if (spawnError) this.stderr += `\n[harness] spawn error: ${spawnError.message}`;
        this.wake();
        resolveDone({
          cmd: this.cmd, code, signal, stdout: this.stdout, stderr: this.stderr,
          timedOut: this.timedOut, durationMs: Date.now() - this.started,
        });
      });
    });
  }

  get pid(): number | undefined { return this.child.pid; }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Signal the process itself (not its group). */
  signal(sig: NodeJS.Signals): void {
    if (this.exited || !this.child.pid) return;
    try { process.kill(this.child.pid, sig); } catch { /* gone */ }
  }

  killGroup(sig: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.child.pid) return;
    try { process.kill(-this.child.pid, sig); } catch { /* gone */ }
  }

  /** Resolves when stdout+stderr match re; rejects on exit or timeout. */
  async waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = (this.stdout + '\n' + this.stderr).match(re);
      if (m) return m;
      if (this.exited) throw new Error(`${this.label} exited before printing ${re}:\n${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${re} within ${timeoutMs} ms:\n${this.describe()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** Waits for exit at most timeoutMs; returns undefined if still running. */
  async waitExit(timeoutMs: number): Promise<RunResult | undefined> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.done,
      new Promise<undefined>((res) => { t = setTimeout(() => res(undefined), timeoutMs); }),
    ]);
    clearTimeout(t);
    return r;
  }

  describe(): string {
    return describeOutput({ cmd: this.cmd, stdout: this.stdout, stderr: this.stderr });
  }
}

export function describeOutput(r: { cmd: string; stdout: string; stderr: string; code?: number | null; signal?: string | null; timedOut?: boolean; durationMs?: number }, max = 6000): string {
  const tail = (s: string) => (s.length > max ? `...[${s.length - max} chars cut]...\n${s.slice(-max)}` : s);
  const st = r.code !== undefined ? ` exit=${r.code}${r.signal ? ` signal=${r.signal}` : ''}${r.timedOut ? ' TIMED OUT' : ''}${r.durationMs !== undefined ? ` in ${r.durationMs} ms` : ''}` : '';
  return `$ ${r.cmd}${st}\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`;
}

export function spawnProc(file: string, args: string[], opts: SpawnOptions): Proc {
  return new Proc(file, args, opts);
}

export async function run(file: string, args: string[], opts: SpawnOptions): Promise<RunResult> {
  return spawnProc(file, args, opts).done;
}

/** Kills every process the harness started that is still alive. */
export async function killAll(): Promise<void> {
  const procs = [...live];
  for (const p of procs) p.killGroup('SIGKILL');
  await Promise.all(procs.map((p) => p.waitExit(5000)));
}

export function liveCount(): number { return live.size; }

onExit(() => { for (const p of live) p.killGroup('SIGKILL'); });

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
