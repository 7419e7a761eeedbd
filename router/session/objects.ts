import type { QpType } from '../verbs/constants.js';
import type { QpAttrs } from '../verbs/qp-state.js';

/*
 * Per-session verbs objects as the router tracks them. Reference counts are
 * the dependencies that make a destroy EBUSY, as ib_core's usecnt does.
 */

export interface PdObj {
  handle: number;
  mrs: number;
  qps: number;
  srqs: number;
  ahs: number;
}

export interface MrObj {
  handle: number;
  pd: number;
  key: number;
  addr: bigint;
  length: bigint;
  iova: bigint;
  access: number;
}

export interface ChannelObj {
  handle: number;
  cqs: number;
}

export interface CqObj {
  handle: number;
  channel: number;
  cqe: number;
  entries: number;
  qps: number;
  /** Its ring's shared memory, charged to the maxRingBytes quota. */
  ringBytes: number;
}

export interface SrqObj {
  handle: number;
  pd: number;
  srqn: number;
  maxWr: number;
  maxSge: number;
  limit: number;
  entries: number;
  qps: number;
  /** Its ring's shared memory, charged to the maxRingBytes quota. */
  ringBytes: number;
}

/** The capabilities a QP was created with, after rounding (what the app is told). */
export interface QpCaps {
  max_send_wr: number;
  max_recv_wr: number;
  max_send_sge: number;
  max_recv_sge: number;
  max_inline_data: number;
}

export interface QpObj {
  handle: number;
  qpn: number;
  type: QpType;
  pd: number;
  sendCq: number;
  recvCq: number;
  srq: number;
  sqSigAll: number;
  caps: QpCaps;
  /** Committed attributes; qp_state is refreshed from the data plane before use. */
  attrs: QpAttrs;
  /** Its rings' shared memory, charged to the maxRingBytes quota. */
  ringBytes: number;
}

export interface AhObj {
  handle: number;
  pd: number;
  dlid: number;
  isGlobal: boolean;
}

export const OBJECT_KINDS = ['pd', 'mr', 'cq', 'qp', 'srq', 'ah', 'channel'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];
export type ObjectCounts = Record<ObjectKind, number>;
