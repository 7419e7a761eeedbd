// Running (unmodified) programs inside container namespaces with the shim
// preloaded, server/client pairs that meet over TCP inside the test network,
// and parsers for what perftest and the ibverbs-utils pingpongs print.
import type { Container } from './netns.js';
import { ASAN, libasan, PATHS, sanitizerEnv } from './paths.js';
import { describeOutput, run, sleep, spawnProc, type Proc, type RunResult } from './proc.js';

export const PORT = 18515;

export interface AppOptions {
  /** Router socket path (FFR_SOCKET); omit to run without a router. */
  socket?: string;
  /** Extra environment for the app. */
  env?: Record<string, string>;
  /** LD_PRELOAD the shim (default true). */
  preload?: boolean;
  timeoutMs?: number;
  label?: string;
  /** Run under `stdbuf -oL -eL` so output arrives line by line through the pipe (default true). */
  lineBuffered?: boolean;
}

/** The environment an app gets: shim preloaded (plus libasan in FFR_ASAN mode) and FFR_SOCKET. */
export function appEnv(opts: AppOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (opts.preload !== false) {
    env.LD_PRELOAD = ASAN ? `${libasan()} ${PATHS.shim}` : PATHS.shim;
    if (ASAN) Object.assign(env, sanitizerEnv());
  }
  if (opts.socket) env.FFR_SOCKET = opts.socket;
  return { ...env, ...opts.env };
}

function nsName(c: Container | string): string { return typeof c === 'string' ? c : c.ns; }

/** argv for `ip netns exec NS env K=V... cmd args...` (ip and env exec, so the pid is the app's). */
export function nsArgv(c: Container | string, argv: string[], env: Record<string, string>, lineBuffered = true): string[] {
  // stdbuf appends its library to LD_PRELOAD (libasan stays first) and execs the app
  const pre = lineBuffered ? ['stdbuf', '-oL', '-eL'] : [];
  return ['netns', 'exec', nsName(c), 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...pre, ...argv];
}

export function startApp(c: Container | string, argv: string[], opts: AppOptions = {}): Proc {
  const penv = { ...process.env };
  delete penv.LD_PRELOAD;
  return spawnProc('ip', nsArgv(c, argv, appEnv(opts), opts.lineBuffered !== false), {
    timeoutMs: opts.timeoutMs ?? 60_000,
    env: penv,
    label: opts.label ?? `${nsName(c)}: ${argv[0]}`,
  });
}

export async function runApp(c: Container | string, argv: string[], opts: AppOptions = {}): Promise<RunResult> {
  return startApp(c, argv, opts).done;
}

/** A plain command in a namespace (no shim), e.g. ss or ping. */
export async function nsExec(c: Container | string, argv: string[], timeoutMs = 15_000): Promise<RunResult> {
  return run('ip', ['netns', 'exec', nsName(c), ...argv], { timeoutMs, label: `${nsName(c)}: ${argv[0]}` });
}

/** True if something listens on TCP port inside the namespace. */
export async function isListening(c: Container | string, port: number): Promise<boolean> {
  const r = await nsExec(c, ['ss', '-Htln', `sport = :${port}`], 5000);
  return r.code === 0 && r.stdout.trim().length > 0;
}

/** Polls until TCP port listens inside the namespace; fails early if proc exits. */
export async function waitListening(c: Container | string, port: number, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isListening(c, port)) return;
    if (proc?.exited) throw new Error(`${proc.label} exited before listening on ${port}:\n${proc.describe()}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${nsName(c)}:${port} after ${timeoutMs} ms${proc ? `:\n${proc.describe()}` : ''}`);
    await sleep(100);
  }
}

export interface PairOptions extends AppOptions {
  server: Container;
  client: Container;
  /** Server argv (e.g. ['ib_write_bw', '-d', 'ffr0']). */
  serverArgv: string[];
  /** Client argv; the server's IP is appended unless clientArgvFn is given. */
  clientArgv?: string[];
  clientArgvFn?: (serverIp: string) => string[];
  port?: number;
  /** Bound for each side (default 120 s). */
  timeoutMs?: number;
  /** After one side fails, how long the other may still run (default 10 s). */
  graceMs?: number;
  /** Per-side router sockets when the two containers live on different hosts (default: socket). */
  serverSocket?: string;
  clientSocket?: string;
}

export interface PairResult { server: RunResult; client: RunResult }

/** Starts the server, waits until it listens, starts the client, waits for both (bounded). */
export async function runPair(o: PairOptions): Promise<PairResult> {
  const port = o.port ?? PORT;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const server = startApp(o.server, o.serverArgv, { ...o, socket: o.serverSocket ?? o.socket, timeoutMs, label: `server ${o.server.name}: ${o.serverArgv[0]}` });
  try {
    await waitListening(o.server, port, 20_000, server);
  } catch (e) {
    server.killGroup('SIGKILL');
    const sr = await server.done;
    return { server: sr, client: { cmd: '(client not started)', code: null, signal: null, stdout: '', stderr: (e as Error).message, timedOut: false, durationMs: 0 } };
  }
  const clientArgv = o.clientArgvFn ? o.clientArgvFn(o.server.ip) : [...(o.clientArgv ?? o.serverArgv), o.server.ip];
  const client = startApp(o.client, clientArgv, { ...o, socket: o.clientSocket ?? o.socket, timeoutMs, label: `client ${o.client.name}: ${clientArgv[0]}` });
  const grace = o.graceMs ?? 10_000;
  // if one side fails, the other gets a grace period and is then killed
  const watch = (a: Proc, b: Proc) => a.done.then(async (r) => {
    if (r.code !== 0 && !b.exited) { if (!(await b.waitExit(grace))) b.killGroup('SIGKILL'); }
  });
  void watch(server, client);
  void watch(client, server);
  const [sr, cr] = await Promise.all([server.done, client.done]);
  return { server: sr, client: cr };
}

export function describePair(p: PairResult, extra = ''): string {
  return `SERVER\n${describeOutput(p.server)}\n\nCLIENT\n${describeOutput(p.client)}${extra ? `\n\n${extra}` : ''}`;
}

/** Throws a readable error unless both sides exited 0. */
export function expectPairOk(p: PairResult, extra?: () => string): void {
  if (p.server.code !== 0 || p.client.code !== 0 || p.server.timedOut || p.client.timedOut) {
    throw new Error(`pair failed\n${describePair(p, extra?.() ?? '')}`);
  }
}

export function expectOk(r: RunResult, extra?: () => string): void {
  if (r.code !== 0 || r.timedOut) throw new Error(`command failed\n${describeOutput(r)}${extra ? `\n\n${extra()}` : ''}`);
}

// ---------------------------------------------------------------- parsers

export interface PerfRow { bytes: number; iterations: number; values: number[] }
export interface PerfTable { header: string; rows: PerfRow[] }

const NUM = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const ROW = new RegExp(String.raw`^\s*(\d+)\s+(\d+)((?:\s+${NUM})+)\s*$`);

/** Parses perftest's result table: the `#bytes ...` header and the numeric rows under it. */
export function parsePerftest(text: string): PerfTable | undefined {
  const lines = text.split('\n');
  const h = lines.findIndex((l) => /^\s*#bytes\s/.test(l));
  if (h < 0) return undefined;
  const rows: PerfRow[] = [];
  for (const l of lines.slice(h + 1)) {
    const m = l.match(ROW);
    if (m) {
      rows.push({ bytes: Number(m[1]), iterations: Number(m[2]), values: m[3]!.trim().split(/\s+/).map(Number) });
    } else if (rows.length && /^-{10,}/.test(l.trim())) {
      break;
    }
  }
  return { header: lines[h]!.trim(), rows };
}

export interface PingpongResult { bytes: number; seconds: number; mbps: number; iters: number; usecPerIter: number }

/** Parses "N bytes in X seconds = Y Mbit/sec" and "N iters in X seconds = Y usec/iter". */
export function parsePingpong(text: string): PingpongResult | undefined {
  const b = text.match(/(\d+) bytes in ([\d.]+) seconds = ([\d.]+) Mbit\/sec/);
  const i = text.match(/(\d+) iters in ([\d.]+) seconds = ([\d.]+) usec\/iter/);
  if (!b || !i) return undefined;
  return { bytes: Number(b[1]), seconds: Number(b[2]), mbps: Number(b[3]), iters: Number(i[1]), usecPerIter: Number(i[3]) };
}

/** Lines `ok NAME` / `not ok NAME: detail` printed by test/c/verbs_check. */
export function parseTap(text: string): { ok: string[]; notOk: { name: string; detail: string }[] } {
  const ok: string[] = [];
  const notOk: { name: string; detail: string }[] = [];
  for (const l of text.split('\n')) {
    let m = l.match(/^not ok (\S+)(?::\s*(.*))?$/);
    if (m) { notOk.push({ name: m[1]!, detail: m[2] ?? '' }); continue; }
    m = l.match(/^ok (\S+)/);
    if (m) ok.push(m[1]!);
  }
  return { ok, notOk };
}
