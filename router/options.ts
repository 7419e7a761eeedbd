import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import { LOG_LEVEL_NAMES } from './log.js';
import { BYTE_QUOTAS, DEFAULT_QUOTAS, QUOTA_KEYS, type Quotas } from './policy/quotas.js';
import { checkName } from './registry/spec.js';
import { checkPolicy, type Policy } from './policy/policy.js';
import { EMPTY_POLICY_CONFIG, type PolicyConfig } from './policy/store.js';

export interface RouterOptions {
  /** Control socket the shims connect to (`FFR_SOCKET`). @default /run/ffrouter/ffrouter.sock */
  socket: string;
  /** Admin API socket (HTTP/JSON, mode 0600). @default /run/ffrouter/admin.sock */
  adminSocket: string;
  /** Prometheus port; 0 disables the metrics listener. @default 9464 */
  metricsPort: number;
  /** Address the metrics listener binds. @default 127.0.0.1 */
  metricsHost: string;
  /** Where containers.json lives. @default /var/lib/ffrouter */
  stateDir: string;
  /** Data-plane spin time before it arms the doorbell and sleeps. @default 200 */
  idleSpinUs: number;
  /** Work requests the data plane takes from one ring per sweep. @default 32 */
  maxBatch: number;
  /**
   * KiB in which large local WRITEs and READs are copied: what a latency-class
   * request waits behind at most, against the scheduler's cost per piece
   * (docs/isolation.md has the measurement). @default 64
   */
  chunkKib: number;
  /**
   * CPUs the data-plane thread may run on (`"2"`, `"2-3"`, `"0,2"` or an
   * array); empty = wherever the process may. A router sharing a core with
   * an app that spins on memory waits for that app's scheduler slice: give
   * it cores of its own. @default []
   */
  dataplaneCpus: number[];
  /** error | warn | info | debug. @default info */
  logLevel: string;
  quotas: Quotas;
  /**
   * Tenant and container policies (docs/isolation.md): `{"tenants": {NAME:
   * {...}}, "containers": {NAME: {...}}}`, the base that `ffctl tenant set`
   * and `ffctl container set` change. @default none
   */
  policies: PolicyConfig;
  /** This router's name in the cluster (docs/cluster.md). @default os.hostname() */
  hostName: string;
  /** etcd endpoints (`http://host:port`); empty = the embedded single-host registry. @default [] */
  etcd: string[];
  /** Root of every etcd key. @default /ffr/v1 */
  etcdPrefix: string;
  /** TTL of the router's etcd lease, seconds. @default 10 */
  leaseTtlS: number;
  /** `ADDR:PORT` the peer transport listens on; "" = no peer transport. Required with etcd. @default "" */
  peerListen: string;
  /** `ADDR:PORT` other routers dial; defaults to peerListen (which must then not bind 0.0.0.0). @default peerListen */
  peerAdvertise: string;
  /** TCP connections per pair of routers. @default 1 */
  peerPool: number;
}

export const DEFAULT_OPTIONS: Readonly<RouterOptions> = Object.freeze({
  socket: '/run/ffrouter/ffrouter.sock',
  adminSocket: '/run/ffrouter/admin.sock',
  metricsPort: 9464,
  metricsHost: '127.0.0.1',
  stateDir: '/var/lib/ffrouter',
  idleSpinUs: 200,
  maxBatch: 32,
  chunkKib: 64,
  dataplaneCpus: [],
  logLevel: 'info',
  quotas: DEFAULT_QUOTAS,
  policies: EMPTY_POLICY_CONFIG,
  hostName: '',
  etcd: [],
  etcdPrefix: '/ffr/v1',
  leaseTtlS: 10,
  peerListen: '',
  peerAdvertise: '',
  peerPool: 1,
});

export class OptionsError extends Error {
  override name = 'OptionsError';
}

export { DEFAULT_QUOTAS, type Quotas };

const TOP_KEYS = [
  'socket', 'adminSocket', 'metricsPort', 'metricsHost', 'stateDir', 'idleSpinUs', 'maxBatch', 'chunkKib', 'dataplaneCpus', 'logLevel', 'quotas', 'policies',
  'hostName', 'etcd', 'etcdPrefix', 'leaseTtlS', 'peerListen', 'peerAdvertise', 'peerPool',
] as const;
const HOST_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `ADDR:PORT` with a dotted IPv4 address; port 0 only where a listener may pick one. */
export function parseHostPort(where: string, v: unknown, allowZeroPort: boolean): { address: string; port: number } {
  const m = typeof v === 'string' ? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(v.trim()) : null;
  if (!m || !isIPv4(m[1]!)) throw new OptionsError(`${where}: expected IPV4:PORT, got ${JSON.stringify(v)}`);
  const port = int(where, m[2], allowZeroPort ? 0 : 1, 65535);
  return { address: m[1]!, port };
}

function endpoints(v: unknown): string[] {
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : null;
  if (list === null) throw new OptionsError(`etcd: expected a comma-separated list of URLs, got ${JSON.stringify(v)}`);
  const out: string[] = [];
  for (const raw of list) {
    const e = typeof raw === 'string' ? raw.trim() : '';
    if (e === '') continue;
    let u: URL;
    try {
      u = new URL(e);
    } catch {
      throw new OptionsError(`etcd: ${JSON.stringify(raw)} is not a URL (expected http://host:port)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OptionsError(`etcd: ${e}: only http:// and https:// endpoints`);
    out.push(e);
  }
  return out;
}
/** Linux's CPU_SETSIZE: the highest CPU number a mask can name, plus one. */
const MAX_CPUS = 1024;

/** A CPU list as taskset and cpuset write it (`0,2-3`), or an array of CPU numbers. */
export function parseCpuList(where: string, v: unknown): number[] {
  const items: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? (v.trim() === '' ? [] : v.split(',')) : [v];
  const out = new Set<number>();
  for (const item of items) {
    const m = typeof item === 'string' ? /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item) : null;
    const [lo, hi] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [item, item];
    if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) ||
        lo < 0 || hi >= MAX_CPUS || lo > hi) {
      throw new OptionsError(`${where}: expected CPU numbers 0..${MAX_CPUS - 1} as a list like "2" or "0,2-3", got ${JSON.stringify(v)}`);
    }
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** Unix socket paths are limited by sockaddr_un.sun_path (108 bytes with the NUL). */
const SUN_PATH_MAX = 107;

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function int(where: string, v: unknown, lo: number, hi: number): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < lo || n > hi) {
    throw new OptionsError(`${where}: expected an integer ${lo}..${hi}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function socketPath(where: string, v: unknown): string {
  if (typeof v !== 'string' || !isAbsolute(v)) throw new OptionsError(`${where}: expected an absolute path, got ${JSON.stringify(v)}`);
  if (Buffer.byteLength(v) > SUN_PATH_MAX) throw new OptionsError(`${where}: ${v} is longer than a Unix socket path may be (${SUN_PATH_MAX} bytes)`);
  return v;
}

/**
 * Merges defaults, a config object and overrides (flags), then validates.
 * Unknown keys are errors: a typo in a config file must not silently fall
 * back to a default.
 */
export function resolveOptions(config: Record<string, unknown>, overrides: Record<string, unknown> = {}): RouterOptions {
  const merged: Record<string, unknown> = {};
  for (const [src, obj] of [['config', config], ['flag', overrides]] as const) {
    for (const [rawKey, value] of Object.entries(obj)) {
      const k = camel(rawKey);
      if (!(TOP_KEYS as readonly string[]).includes(k)) throw new OptionsError(`unknown ${src} option "${rawKey}"`);
      if (k === 'quotas') {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionsError('quotas: expected an object');
        const prev = (merged['quotas'] as Record<string, unknown> | undefined) ?? {};
        const q: Record<string, unknown> = { ...prev };
        for (const [qk, qv] of Object.entries(value)) {
          const ck = camel(qk);
          if (!(QUOTA_KEYS as string[]).includes(ck)) throw new OptionsError(`unknown quota "${qk}" (known: ${QUOTA_KEYS.join(', ')})`);
          q[ck] = qv;
        }
        merged['quotas'] = q;
      } else if (value !== undefined) {
        merged[k] = value;
      }
    }
  }
  const pick = <K extends keyof RouterOptions>(k: K): unknown => merged[k] ?? DEFAULT_OPTIONS[k];
  const stateDir = pick('stateDir');
  if (typeof stateDir !== 'string' || !isAbsolute(stateDir)) throw new OptionsError(`stateDir: expected an absolute path, got ${JSON.stringify(stateDir)}`);
  const metricsHost = pick('metricsHost');
  if (typeof metricsHost !== 'string' || metricsHost === '') throw new OptionsError('metricsHost: expected a host name or address');
  const logLevel = pick('logLevel');
  if (typeof logLevel !== 'string' || !(logLevel in LOG_LEVEL_NAMES)) {
    throw new OptionsError(`logLevel: expected one of ${Object.keys(LOG_LEVEL_NAMES).join(', ')}, got ${JSON.stringify(logLevel)}`);
  }
  const qIn = (merged['quotas'] as Record<string, unknown> | undefined) ?? {};
  const quotas = {} as Quotas;
  for (const k of QUOTA_KEYS) {
    const hi = BYTE_QUOTAS.has(k) ? Number.MAX_SAFE_INTEGER : k === 'maxCqe' ? 0xffff_ffff : 0xff_ffff;
    quotas[k] = int(`quotas.${k}`, qIn[k] ?? DEFAULT_QUOTAS[k], 1, hi);
  }
  const opts: RouterOptions = {
    socket: socketPath('socket', pick('socket')),
    adminSocket: socketPath('adminSocket', pick('adminSocket')),
    metricsPort: int('metricsPort', pick('metricsPort'), 0, 65535),
    metricsHost,
    stateDir,
    idleSpinUs: int('idleSpinUs', pick('idleSpinUs'), 0, 1_000_000),
    maxBatch: int('maxBatch', pick('maxBatch'), 1, 4096),
    chunkKib: int('chunkKib', pick('chunkKib'), 4, 1 << 20),
    dataplaneCpus: parseCpuList('dataplaneCpus', pick('dataplaneCpus')),
    logLevel,
    quotas,
    policies: policyConfig(pick('policies')),
    hostName: typeof merged['hostName'] === 'string' ? merged['hostName'] : hostname(),
    etcd: endpoints(pick('etcd')),
    etcdPrefix: String(pick('etcdPrefix')),
    leaseTtlS: int('leaseTtlS', pick('leaseTtlS'), 2, 300),
    peerListen: String(pick('peerListen')).trim(),
    peerAdvertise: String(merged['peerAdvertise'] ?? merged['peerListen'] ?? '').trim(),
    peerPool: int('peerPool', pick('peerPool'), 1, 16),
  };
  if (opts.socket === opts.adminSocket) throw new OptionsError('socket and adminSocket must differ');
  if (!HOST_NAME_RE.test(opts.hostName)) throw new OptionsError(`hostName: expected [A-Za-z0-9][A-Za-z0-9_.-]*, got ${JSON.stringify(opts.hostName)}`);
  if (!/^\/[A-Za-z0-9_./-]*[^/]$/.test(opts.etcdPrefix)) throw new OptionsError(`etcdPrefix: expected an absolute key path without a trailing slash, got ${JSON.stringify(opts.etcdPrefix)}`);
  if (opts.peerListen !== '') {
    parseHostPort('peerListen', opts.peerListen, true);
    // Port 0 here means "the port the listener got".
    const adv = parseHostPort('peerAdvertise', opts.peerAdvertise, true);
    if (adv.address === '0.0.0.0') throw new OptionsError('peerAdvertise: other routers cannot dial 0.0.0.0; give the address they reach this host at');
  } else if (opts.peerAdvertise !== '') {
    throw new OptionsError('peerAdvertise needs peerListen');
  }
  if (opts.etcd.length > 0 && opts.peerListen === '') throw new OptionsError('etcd needs peerListen: routers of a cluster reach each other through the peer transport');
  if (opts.etcd.length === 0 && opts.peerListen !== '') throw new OptionsError('peerListen needs etcd: peers are found through the registry');
  return opts;
}

function policyConfig(v: unknown): PolicyConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OptionsError('policies: expected {"tenants": {...}, "containers": {...}}');
  const out: PolicyConfig = { tenants: {}, containers: {} };
  for (const [k, group] of Object.entries(v as Record<string, unknown>)) {
    if (k !== 'tenants' && k !== 'containers') throw new OptionsError(`policies: unknown key "${k}" (known: tenants, containers)`);
    if (typeof group !== 'object' || group === null || Array.isArray(group)) throw new OptionsError(`policies.${k}: expected an object of NAME: policy`);
    const dest: Record<string, Policy> = out[k];
    for (const [name, p] of Object.entries(group as Record<string, unknown>)) {
      try {
        dest[checkName(`policies.${k} name`, name)] = checkPolicy(p, `policies.${k}.${name}.`);
      } catch (err) {
        throw new OptionsError((err as Error).message);
      }
    }
  }
  return out;
}

/** Reads a JSON config file; its top level must be an object. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OptionsError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new OptionsError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionsError(`config file ${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}
