// ffctl (dist/router/ctl/main.js) against a router's admin socket.
import { PATHS, ROOT } from './paths.js';
import { describeOutput, run, type RunResult } from './proc.js';

export interface CtlResult extends RunResult { json?: unknown }

export async function ffctlRaw(adminSocket: string, args: string[], json = false): Promise<CtlResult> {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const r: CtlResult = await run(process.execPath, [PATHS.ctlMain, '--admin-socket', adminSocket, ...(json ? ['--json'] : []), ...args], {
    timeoutMs: 20_000, env, cwd: ROOT, label: 'ffctl',
  });
  if (json && r.code === 0) {
    try { r.json = JSON.parse(r.stdout); } catch { /* caller sees undefined */ }
  }
  return r;
}

export interface ContainerSpec { tenant: string | number; vip: string; netns: string }

export class Ffctl {
  constructor(readonly adminSocket: string) {}

  async raw(args: string[], json = false): Promise<CtlResult> { return ffctlRaw(this.adminSocket, args, json); }

  /** Runs and throws (with the output) on non-zero exit. */
  async ok(args: string[], json = false): Promise<CtlResult> {
    const r = await this.raw(args, json);
    if (r.code !== 0) throw new Error(`ffctl failed:\n${describeOutput(r)}`);
    if (json && r.json === undefined) throw new Error(`ffctl --json printed no JSON:\n${describeOutput(r)}`);
    return r;
  }

  async addContainer(name: string, spec: ContainerSpec): Promise<void> {
    await this.ok(['container', 'add', name, '--tenant', String(spec.tenant), '--vip', spec.vip, '--netns', spec.netns]);
  }

  async rmContainer(name: string): Promise<void> { await this.ok(['container', 'rm', name]); }

  async containers(): Promise<Record<string, unknown>[]> { return asList((await this.ok(['container', 'ls'], true)).json, 'containers'); }
  async sessions(): Promise<Record<string, unknown>[]> { return asList((await this.ok(['sessions'], true)).json, 'sessions'); }
  async qps(): Promise<Record<string, unknown>[]> { return asList((await this.ok(['qps'], true)).json, 'qps'); }

  /** `ffctl env NAME` parsed into KEY -> VALUE (accepts `KEY=V`, `export KEY=V`, quoted values). */
  async env(name: string): Promise<Record<string, string>> {
    return parseEnvLines((await this.ok(['env', name])).stdout);
  }
}

/** Accepts either a bare array or an object holding the array under `key` (or the only array field). */
export function asList(json: unknown, key: string): Record<string, unknown>[] {
  if (Array.isArray(json)) return json as Record<string, unknown>[];
  if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if (Array.isArray(o[key])) return o[key] as Record<string, unknown>[];
    const arrays = Object.values(o).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as Record<string, unknown>[];
  }
  throw new Error(`unexpected ffctl JSON for ${key}: ${JSON.stringify(json).slice(0, 500)}`);
}

export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/^export\s+/, '');
    const m = line.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"'))) v = v.slice(1, -1);
    env[m[1]!] = v;
  }
  return env;
}

/** True if any string/number field of the record equals value (tolerant of field naming). */
export function mentions(rec: Record<string, unknown>, value: string | number): boolean {
  const walk = (v: unknown): boolean => {
    if (v === value || (typeof v === 'number' && String(v) === String(value))) return true;
    if (v && typeof v === 'object') return Object.values(v as Record<string, unknown>).some(walk);
    return false;
  };
  return walk(rec);
}
