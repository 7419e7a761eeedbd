/* Numeric values of libibverbs enums (rdma-core verbs.h); the wire carries them verbatim. */

export const QpType = { RC: 2, UC: 3, UD: 4 } as const;
export type QpType = (typeof QpType)[keyof typeof QpType];

export function qpTypeName(t: number): string {
  return t === QpType.RC ? 'RC' : t === QpType.UC ? 'UC' : t === QpType.UD ? 'UD' : `type ${t}`;
}

export const QpState = { RESET: 0, INIT: 1, RTR: 2, RTS: 3, SQD: 4, SQE: 5, ERR: 6 } as const;
export type QpState = (typeof QpState)[keyof typeof QpState];

const QP_STATE_NAMES = ['RESET', 'INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR'];
export function qpStateName(s: number): string {
  return QP_STATE_NAMES[s] ?? `state ${s}`;
}

/** enum ibv_qp_attr_mask. */
export const QpAttr = {
  STATE: 1 << 0,
  CUR_STATE: 1 << 1,
  EN_SQD_ASYNC_NOTIFY: 1 << 2,
  ACCESS_FLAGS: 1 << 3,
  PKEY_INDEX: 1 << 4,
  PORT: 1 << 5,
  QKEY: 1 << 6,
  AV: 1 << 7,
  PATH_MTU: 1 << 8,
  TIMEOUT: 1 << 9,
  RETRY_CNT: 1 << 10,
  RNR_RETRY: 1 << 11,
  RQ_PSN: 1 << 12,
  MAX_QP_RD_ATOMIC: 1 << 13,
  ALT_PATH: 1 << 14,
  MIN_RNR_TIMER: 1 << 15,
  SQ_PSN: 1 << 16,
  MAX_DEST_RD_ATOMIC: 1 << 17,
  PATH_MIG_STATE: 1 << 18,
  CAP: 1 << 19,
  DEST_QPN: 1 << 20,
  RATE_LIMIT: 1 << 25,
} as const;

/** Every bit rdma-core 44 defines; anything else in a mask is garbage. */
export const QP_ATTR_KNOWN = Object.values(QpAttr).reduce((a, b) => a | b, 0);

export function qpAttrNames(mask: number): string {
  const names = Object.entries(QpAttr)
    .filter(([, bit]) => (mask & bit) !== 0)
    .map(([name]) => name);
  const unknown = (mask & ~QP_ATTR_KNOWN) >>> 0;
  if (unknown) names.push(`0x${unknown.toString(16)}`);
  return names.length ? names.join('|') : '0';
}

/** enum ibv_access_flags. */
export const Access = {
  LOCAL_WRITE: 1 << 0,
  REMOTE_WRITE: 1 << 1,
  REMOTE_READ: 1 << 2,
  REMOTE_ATOMIC: 1 << 3,
  MW_BIND: 1 << 4,
  ZERO_BASED: 1 << 5,
  ON_DEMAND: 1 << 6,
  HUGETLB: 1 << 7,
  FLUSH_GLOBAL: 1 << 8,
  FLUSH_PERSISTENT: 1 << 9,
  /** IBV_ACCESS_OPTIONAL_RANGE: hints a provider may ignore (RELAXED_ORDERING is the first). */
  OPTIONAL_RANGE: 0x3ff0_0000,
} as const;

/** enum ibv_srq_attr_mask. */
export const SrqAttr = { MAX_WR: 1 << 0, LIMIT: 1 << 1 } as const;

/** enum ibv_mtu: 1 = 256 ... 5 = 4096. */
export const Mtu = { MIN: 1, MAX: 5 } as const;

/** ibv_wc_status_str-like names (lowercase, no IBV_WC_ prefix) used as metric labels. */
export const WC_STATUS_NAMES: readonly string[] = [
  'success',
  'loc_len_err',
  'loc_qp_op_err',
  'loc_eec_op_err',
  'loc_prot_err',
  'wr_flush_err',
  'mw_bind_err',
  'bad_resp_err',
  'loc_access_err',
  'rem_inv_req_err',
  'rem_access_err',
  'rem_op_err',
  'retry_exc_err',
  'rnr_retry_exc_err',
  'loc_rdd_viol_err',
  'rem_inv_rd_req_err',
  'rem_abort_err',
  'inv_eecn_err',
  'inv_eec_state_err',
  'fatal_err',
  'resp_timeout_err',
  'general_err',
  'tm_err',
  'tm_rndv_incomplete',
];

export function wcStatusName(status: number): string {
  return WC_STATUS_NAMES[status] ?? `status_${status}`;
}
