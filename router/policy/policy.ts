import { einval } from '../errors.js';
import { BYTE_QUOTAS, QUOTA_KEYS, type Quotas } from './quotas.js';
import { parseRate, parseSize } from './units.js';

/** Scheduling classes (docs/isolation.md). */
export const SCHED_CLASSES = ['latency', 'default', 'bulk'] as const;
export type SchedClass = (typeof SCHED_CLASSES)[number];

/**
 * One tenant's or one container's policy. Every field is optional: an unset
 * quota of a container falls back to the router's `quotas` defaults, an
 * unset quota of a tenant means the tenant as a whole is not limited (its
 * containers still are), as an rdma cgroup's "max".
 */
export interface Policy extends Partial<Quotas> {
  /** Share of the router's capacity when contended. @default 1 */
  weight?: number;
  /** Cap in bytes per second. */
  rate?: number;
  /** Cap in work requests per second. */
  msgRate?: number;
  class?: SchedClass;
}

export type PolicyKey = keyof Policy;
export type PolicyScope = 'tenant' | 'container';

const SCHED_KEYS = ['weight', 'rate', 'msgRate', 'class'] as const;
export const POLICY_KEYS: readonly PolicyKey[] = [...SCHED_KEYS, ...QUOTA_KEYS];

/** The ffctl flag of each field (`--max-mr-bytes` is the quota kept as maxRegisteredBytes). */
export const POLICY_FLAGS: Readonly<Record<PolicyKey, string>> = {
  weight: 'weight',
  rate: 'rate',
  msgRate: 'msg-rate',
  class: 'class',
  maxPd: 'max-pd',
  maxMr: 'max-mr',
  maxCq: 'max-cq',
  maxQp: 'max-qp',
  maxSrq: 'max-srq',
  maxAh: 'max-ah',
  maxChannel: 'max-channel',
  maxRegisteredBytes: 'max-mr-bytes',
  maxSessions: 'max-sessions',
  maxCqe: 'max-cqe',
  maxRingBytes: 'max-ring-bytes',
};

const FLAG_TO_KEY = new Map<string, PolicyKey>(Object.entries(POLICY_FLAGS).map(([k, f]) => [f, k as PolicyKey]));

/** A policy field named as the config file (camelCase) or the CLI (--flag form without dashes) names it. */
export function policyKeyOf(name: string): PolicyKey | undefined {
  if ((POLICY_KEYS as readonly string[]).includes(name)) return name as PolicyKey;
  return FLAG_TO_KEY.get(name);
}

/** Largest weight: weights are ratios, and a scheduler's arithmetic needs a bound. */
export const WEIGHT_MAX = 10_000;
/** Object quotas are 24-bit (device attribute fields are u32, handles 24-bit); CQ entries u32. */
const COUNT_MAX = 0xff_ffff;

function positiveInt(field: string, v: unknown, hi: number, parse: (t: string) => number | undefined, unit: string): number {
  const n = typeof v === 'string' ? parse(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > hi) {
    throw einval(`${field}: expected ${unit} from 1 to ${hi}, got ${JSON.stringify(v)}`);
  }
  return n;
}

const plainInt = (t: string): number | undefined => (/^\s*\d+\s*$/.test(t) ? Number(t) : undefined);

/** One field's value, checked; `null` (clear the field) is handled by the caller. */
export function checkField(key: PolicyKey, v: unknown, where = ''): Policy[PolicyKey] {
  const field = `${where}${POLICY_FLAGS[key]}`;
  switch (key) {
    case 'class':
      if (typeof v !== 'string' || !(SCHED_CLASSES as readonly string[]).includes(v)) {
        throw einval(`${field}: expected one of ${SCHED_CLASSES.join(', ')}, got ${JSON.stringify(v)}`);
      }
      return v as SchedClass;
    case 'weight':
      return positiveInt(field, v, WEIGHT_MAX, plainInt, 'an integer');
    case 'rate':
      return positiveInt(field, v, Number.MAX_SAFE_INTEGER, parseRate, 'a rate (bytes/s, or like 10Gbit, 500M/s)');
    case 'msgRate':
      return positiveInt(field, v, 0xffff_ffff, plainInt, 'work requests per second');
    default:
      if (BYTE_QUOTAS.has(key)) return positiveInt(field, v, Number.MAX_SAFE_INTEGER, parseSize, 'a size (bytes, or like 4G, 512MiB)');
      return positiveInt(field, v, key === 'maxCqe' ? 0xffff_ffff : COUNT_MAX, plainInt, 'an integer');
  }
}

/**
 * A change to a policy: each field a value, or null to clear it. Throws
 * EINVAL naming the first bad field.
 */
export function checkPatch(raw: unknown, where = ''): Partial<Record<PolicyKey, Policy[PolicyKey] | null>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw einval(`${where || 'policy'}: expected an object of fields`);
  const out: Partial<Record<PolicyKey, Policy[PolicyKey] | null>> = {};
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = policyKeyOf(name);
    if (key === undefined) throw einval(`${where}${name}: unknown policy field (known: ${POLICY_KEYS.map((k) => POLICY_FLAGS[k]).join(', ')})`);
    if (v === null) {
      out[key] = null;
      continue;
    }
    out[key] = checkField(key, v, where);
  }
  return out;
}

/** A whole policy (config file, stored state): a patch without nulls. */
export function checkPolicy(raw: unknown, where = ''): Policy {
  const p = checkPatch(raw, where);
  for (const [k, v] of Object.entries(p)) if (v === null) throw einval(`${where}${POLICY_FLAGS[k as PolicyKey]}: null is only meaningful in a change`);
  return p as Policy;
}

/** `base` with `patch` applied: values replace, nulls remove. */
export function applyPatch(base: Policy, patch: Partial<Record<PolicyKey, Policy[PolicyKey] | null>>): Policy {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out as Policy;
}
