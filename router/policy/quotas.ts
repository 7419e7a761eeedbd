// The quota fields and their defaults: a leaf module, so options and policies can both import it.

/**
 * Per-container limits (the defaults of every container's policy, see
 * docs/isolation.md); with the tenant's they are also the device attributes
 * the container sees (max_qp, ...).
 */
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
  /** CQ entries (each CQ's cqe, as the device rounded it) summed over all CQs. @default 4194304 */
  maxCqe: number;
  /** Shared memory of the CQ, QP and SRQ rings the router creates for the container. @default 1 GiB */
  maxRingBytes: number;
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
  maxCqe: 4 * 1024 * 1024,
  maxRingBytes: 1024 ** 3,
});

export const QUOTA_KEYS = Object.keys(DEFAULT_QUOTAS) as (keyof Quotas)[];
/** Quotas counted in bytes (the others count objects or entries). */
export const BYTE_QUOTAS: ReadonlySet<keyof Quotas> = new Set(['maxRegisteredBytes', 'maxRingBytes']);
