import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { LOG_LEVEL_NAMES } from './log.js';

/** Per-container limits; they are also the device attributes the container sees (max_qp, ...). */
export interface Quotas {
  /** Protection domains. @default 4096 */
  maxPd: number;
  /** Memory regions. @default 65536 */
  maxMr: number;
  /** Completion queues. @default 16384 */
  maxCq: number;
  /** Queue pairs. @default 16384 */
  maxQp: number;
  /** Shared receive queues. @default 4096 */
  maxSrq: number;
  /** Address handles. @default 65536 */
  maxAh: number;
  /** Completion channels. @default 4096 */
  maxChannel: number;
  /** Bytes registered at once across all MRs of the container. @default 64 GiB */
  maxRegisteredBytes: number;
  /** Live control sessions (one per process) of the container. @default 1024 */
  maxSessions: number;
}

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
  /** error | warn | info | debug. @default info */
  logLevel: string;
  quotas: Quotas;
}

export const DEFAULT_QUOTAS: Readonly<Quotas> = Object.freeze({
  maxPd: 4096,
  maxMr: 65536,
  maxCq: 16384,
  maxQp: 16384,
  maxSrq: 4096,
  maxAh: 65536,
  maxChannel: 4096,
  maxRegisteredBytes: 64 * 1024 ** 3,
  maxSessions: 1024,
});

export const DEFAULT_OPTIONS: Readonly<RouterOptions> = Object.freeze({
  socket: '/run/ffrouter/ffrouter.sock',
  adminSocket: '/run/ffrouter/admin.sock',
  metricsPort: 9464,
  metricsHost: '127.0.0.1',
  stateDir: '/var/lib/ffrouter',
  idleSpinUs: 200,
  maxBatch: 32,
  logLevel: 'info',
  quotas: DEFAULT_QUOTAS,
});

export class OptionsError extends Error {
  override name = 'OptionsError';
}

const TOP_KEYS = ['socket', 'adminSocket', 'metricsPort', 'metricsHost', 'stateDir', 'idleSpinUs', 'maxBatch', 'logLevel', 'quotas'] as const;
const QUOTA_KEYS = Object.keys(DEFAULT_QUOTAS) as (keyof Quotas)[];
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
    const hi = k === 'maxRegisteredBytes' ? Number.MAX_SAFE_INTEGER : 0xff_ffff;
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
    logLevel,
    quotas,
  };
  if (opts.socket === opts.adminSocket) throw new OptionsError('socket and adminSocket must differ');
  return opts;
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
