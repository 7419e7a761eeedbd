import type { ModifyQpReq, QpAttrFields } from '../../proto/gen/ffproto.js';
import { einval, eopnotsupp } from '../errors.js';
import { Access, Mtu, QP_ATTR_KNOWN, QpAttr, QpState, QpType, qpAttrNames, qpStateName, qpTypeName } from './constants.js';

/**
 * The verbs QP state machine: which transitions exist and, per QP type, which
 * attributes each one requires and allows. This is the table of Linux's
 * ib_modify_qp_is_ok() (drivers/infiniband/core/verbs.c, IBA 1.4 §10.3 and
 * §11.2.4.2) for RC, UC and UD, which is what an application on a real HCA
 * gets checked against, including RESET→ERR being valid (added upstream).
 * IB_QP_STATE is implied in every entry.
 */
interface Transition {
  req: Readonly<Partial<Record<QpType, number>>>;
  opt: Readonly<Partial<Record<QpType, number>>>;
}

const A = QpAttr;
const S = QpState;
const BARE: Transition = { req: {}, opt: {} };

const TABLE: ReadonlyMap<number, Transition> = new Map<number, Transition>([
  [key(S.RESET, S.RESET), BARE],
  [key(S.RESET, S.ERR), BARE],
  [
    key(S.RESET, S.INIT),
    {
      req: {
        [QpType.RC]: A.PKEY_INDEX | A.PORT | A.ACCESS_FLAGS,
        [QpType.UC]: A.PKEY_INDEX | A.PORT | A.ACCESS_FLAGS,
        [QpType.UD]: A.PKEY_INDEX | A.PORT | A.QKEY,
      },
      opt: {},
    },
  ],
  [key(S.INIT, S.RESET), BARE],
  [key(S.INIT, S.ERR), BARE],
  [
    key(S.INIT, S.INIT),
    {
      req: {},
      opt: {
        [QpType.RC]: A.PKEY_INDEX | A.PORT | A.ACCESS_FLAGS,
        [QpType.UC]: A.PKEY_INDEX | A.PORT | A.ACCESS_FLAGS,
        [QpType.UD]: A.PKEY_INDEX | A.PORT | A.QKEY,
      },
    },
  ],
  [
    key(S.INIT, S.RTR),
    {
      req: {
        [QpType.RC]: A.AV | A.PATH_MTU | A.DEST_QPN | A.RQ_PSN | A.MAX_DEST_RD_ATOMIC | A.MIN_RNR_TIMER,
        [QpType.UC]: A.AV | A.PATH_MTU | A.DEST_QPN | A.RQ_PSN,
      },
      opt: {
        [QpType.RC]: A.ALT_PATH | A.ACCESS_FLAGS | A.PKEY_INDEX,
        [QpType.UC]: A.ALT_PATH | A.ACCESS_FLAGS | A.PKEY_INDEX,
        [QpType.UD]: A.PKEY_INDEX | A.QKEY,
      },
    },
  ],
  [key(S.RTR, S.RESET), BARE],
  [key(S.RTR, S.ERR), BARE],
  [
    key(S.RTR, S.RTS),
    {
      req: {
        [QpType.RC]: A.TIMEOUT | A.RETRY_CNT | A.RNR_RETRY | A.SQ_PSN | A.MAX_QP_RD_ATOMIC,
        [QpType.UC]: A.SQ_PSN,
        [QpType.UD]: A.SQ_PSN,
      },
      opt: {
        [QpType.RC]: A.CUR_STATE | A.ALT_PATH | A.ACCESS_FLAGS | A.MIN_RNR_TIMER | A.PATH_MIG_STATE,
        [QpType.UC]: A.CUR_STATE | A.ALT_PATH | A.ACCESS_FLAGS | A.PATH_MIG_STATE,
        [QpType.UD]: A.CUR_STATE | A.QKEY,
      },
    },
  ],
  [key(S.RTS, S.RESET), BARE],
  [key(S.RTS, S.ERR), BARE],
  [
    key(S.RTS, S.RTS),
    {
      req: {},
      opt: {
        [QpType.RC]: A.CUR_STATE | A.ACCESS_FLAGS | A.ALT_PATH | A.PATH_MIG_STATE | A.MIN_RNR_TIMER,
        [QpType.UC]: A.CUR_STATE | A.ACCESS_FLAGS | A.ALT_PATH | A.PATH_MIG_STATE,
        [QpType.UD]: A.CUR_STATE | A.QKEY,
      },
    },
  ],
  [
    key(S.RTS, S.SQD),
    {
      req: {},
      opt: {
        [QpType.RC]: A.EN_SQD_ASYNC_NOTIFY,
        [QpType.UC]: A.EN_SQD_ASYNC_NOTIFY,
        [QpType.UD]: A.EN_SQD_ASYNC_NOTIFY,
      },
    },
  ],
  [key(S.SQD, S.RESET), BARE],
  [key(S.SQD, S.ERR), BARE],
  [
    key(S.SQD, S.RTS),
    {
      req: {},
      opt: {
        [QpType.RC]: A.CUR_STATE | A.ALT_PATH | A.ACCESS_FLAGS | A.MIN_RNR_TIMER | A.PATH_MIG_STATE,
        [QpType.UC]: A.CUR_STATE | A.ALT_PATH | A.ACCESS_FLAGS | A.PATH_MIG_STATE,
        [QpType.UD]: A.CUR_STATE | A.QKEY,
      },
    },
  ],
  [
    key(S.SQD, S.SQD),
    {
      req: {},
      opt: {
        [QpType.RC]:
          A.PORT | A.AV | A.TIMEOUT | A.RETRY_CNT | A.RNR_RETRY | A.MAX_QP_RD_ATOMIC | A.MAX_DEST_RD_ATOMIC |
          A.ALT_PATH | A.ACCESS_FLAGS | A.PKEY_INDEX | A.MIN_RNR_TIMER | A.PATH_MIG_STATE,
        [QpType.UC]: A.AV | A.ALT_PATH | A.ACCESS_FLAGS | A.PKEY_INDEX | A.PATH_MIG_STATE,
        [QpType.UD]: A.PKEY_INDEX | A.QKEY,
      },
    },
  ],
  [key(S.SQE, S.RESET), BARE],
  [key(S.SQE, S.ERR), BARE],
  [
    key(S.SQE, S.RTS),
    {
      req: {},
      opt: {
        [QpType.UC]: A.CUR_STATE | A.ACCESS_FLAGS,
        [QpType.UD]: A.CUR_STATE | A.QKEY,
      },
    },
  ],
  [key(S.ERR, S.RESET), BARE],
  [key(S.ERR, S.ERR), BARE],
]);

function key(cur: number, next: number): number {
  return cur * 8 + next;
}

/**
 * Checks one transition's attribute mask, as ib_modify_qp_is_ok() does.
 * Throws EINVAL naming what is missing or not allowed.
 */
export function checkTransition(type: QpType, cur: number, next: number, mask: number): void {
  const where = `${qpTypeName(type)} ${qpStateName(cur)}->${qpStateName(next)}`;
  if (cur < S.RESET || cur > S.ERR || next < S.RESET || next > S.ERR) throw einval(`${where}: no such state`);
  const t = TABLE.get(key(cur, next));
  if (t === undefined) throw einval(`${where}: not a valid transition`);
  const req = t.req[type] ?? 0;
  const opt = t.opt[type] ?? 0;
  if ((mask & req) !== req) throw einval(`${where}: missing required attributes ${qpAttrNames(req & ~mask)}`);
  const extra = mask & ~(req | opt | A.STATE);
  if (extra) throw einval(`${where}: attributes ${qpAttrNames(extra)} are not allowed in this transition`);
}

/**
 * Every attribute the router keeps for a QP (what query_qp returns besides
 * caps): proto's qp_attr group less the fields that only qualify one call.
 */
export type QpAttrs = Omit<QpAttrFields, 'cur_qp_state' | 'sq_draining' | 'dgid'> & { dgid: Buffer };

/** A QP's attributes after create and after a transition to RESET: all zero, like a fresh QP context. */
export function resetQpAttrs(): QpAttrs {
  return {
    qp_state: S.RESET,
    path_mtu: 0,
    qkey: 0,
    rq_psn: 0,
    sq_psn: 0,
    dest_qp_num: 0,
    qp_access_flags: 0,
    pkey_index: 0,
    port_num: 0,
    max_rd_atomic: 0,
    max_dest_rd_atomic: 0,
    min_rnr_timer: 0,
    timeout: 0,
    retry_cnt: 0,
    rnr_retry: 0,
    en_sqd_async_notify: 0,
    dlid: 0,
    sl: 0,
    src_path_bits: 0,
    static_rate: 0,
    is_global: 0,
    dgid: Buffer.alloc(16),
    flow_label: 0,
    sgid_index: 0,
    hop_limit: 0,
    traffic_class: 0,
    ah_port_num: 0,
  };
}

/** The address vector of a modify, handed to the tenancy check. */
export interface AddressVector {
  dlid: number;
  isGlobal: boolean;
  dgid: Buffer;
}

export interface ModifyContext {
  type: QpType;
  /** The QP's state as the data plane sees it now (it may have moved it to ERR). */
  actualState: number;
  /** Device limit for max_rd_atomic and max_dest_rd_atomic. */
  maxRdAtom: number;
  /** Throws EINVAL when the address vector does not name a port of the QP's own tenant. */
  checkPeer(av: AddressVector): void;
}

const QP_ACCESS_ALLOWED = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC;
const PSN_MASK = 0xff_ffff;

function range(name: string, v: number, lo: number, hi: number): void {
  if (v < lo || v > hi) throw einval(`${name} ${v} out of range ${lo}..${hi}`);
}

/**
 * Validates a modify_qp request against the state machine and the value of
 * every attribute it sets, and returns the QP's attributes after it. Pure:
 * the caller commits the result only after the data plane accepted it.
 */
export function applyModify(current: QpAttrs, req: ModifyQpReq, ctx: ModifyContext): QpAttrs {
  const mask = req.attr_mask >>> 0;
  if (mask & ~QP_ATTR_KNOWN) throw einval(`unknown attribute mask bits ${qpAttrNames(mask & ~QP_ATTR_KNOWN)}`);
  if (mask & (A.ALT_PATH | A.PATH_MIG_STATE)) throw eopnotsupp('alternate paths (ALT_PATH, PATH_MIG_STATE) are not supported');

  let cur = ctx.actualState;
  if (mask & A.CUR_STATE) {
    // The kernel honours cur_qp_state only for these, and a real HCA's
    // firmware refuses a claim that differs from the QP's context.
    if (req.cur_qp_state !== S.RTR && req.cur_qp_state !== S.RTS && req.cur_qp_state !== S.SQD && req.cur_qp_state !== S.SQE) {
      throw einval(`cur_qp_state ${qpStateName(req.cur_qp_state)} cannot be asserted`);
    }
    if (req.cur_qp_state !== cur) {
      throw einval(`cur_qp_state ${qpStateName(req.cur_qp_state)} but the QP is in ${qpStateName(cur)}`);
    }
    cur = req.cur_qp_state;
  }
  const next = mask & A.STATE ? req.qp_state : cur;
  if (next < S.RESET || next > S.ERR) throw einval(`qp_state ${next} is not a QP state`);
  checkTransition(ctx.type, cur, next, mask);
  // The data plane has no drain; the table stays complete so masks are
  // judged first, as the kernel would, before the honest refusal.
  if (next === S.SQD) throw eopnotsupp('SQ drain (SQD) is not supported');

  if (next === S.RESET) return resetQpAttrs();
  const out: QpAttrs = { ...current, dgid: Buffer.from(current.dgid), qp_state: next };

  if (mask & A.EN_SQD_ASYNC_NOTIFY) out.en_sqd_async_notify = req.en_sqd_async_notify ? 1 : 0;
  if (mask & A.ACCESS_FLAGS) {
    if (req.qp_access_flags & ~QP_ACCESS_ALLOWED) {
      throw einval(`qp_access_flags 0x${req.qp_access_flags.toString(16)} has bits other than LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ|REMOTE_ATOMIC`);
    }
    out.qp_access_flags = req.qp_access_flags;
  }
  if (mask & A.PKEY_INDEX) {
    if (req.pkey_index !== 0) throw einval(`pkey_index ${req.pkey_index}: the pkey table has one entry`);
    out.pkey_index = 0;
  }
  if (mask & A.PORT) {
    if (req.port_num !== 1) throw einval(`port_num ${req.port_num}: the device has port 1 only`);
    out.port_num = 1;
  }
  if (mask & A.QKEY) out.qkey = req.qkey >>> 0;
  if (mask & A.PATH_MTU) {
    range('path_mtu', req.path_mtu, Mtu.MIN, Mtu.MAX);
    out.path_mtu = req.path_mtu;
  }
  if (mask & A.TIMEOUT) {
    range('timeout', req.timeout, 0, 31);
    out.timeout = req.timeout;
  }
  if (mask & A.RETRY_CNT) {
    range('retry_cnt', req.retry_cnt, 0, 7);
    out.retry_cnt = req.retry_cnt;
  }
  if (mask & A.RNR_RETRY) {
    range('rnr_retry', req.rnr_retry, 0, 7);
    out.rnr_retry = req.rnr_retry;
  }
  if (mask & A.MIN_RNR_TIMER) {
    range('min_rnr_timer', req.min_rnr_timer, 0, 31);
    out.min_rnr_timer = req.min_rnr_timer;
  }
  // PSNs are 24-bit; providers keep the low bits as the hardware does.
  if (mask & A.RQ_PSN) out.rq_psn = req.rq_psn & PSN_MASK;
  if (mask & A.SQ_PSN) out.sq_psn = req.sq_psn & PSN_MASK;
  if (mask & A.MAX_QP_RD_ATOMIC) {
    range('max_rd_atomic', req.max_rd_atomic, 0, ctx.maxRdAtom);
    out.max_rd_atomic = req.max_rd_atomic;
  }
  if (mask & A.MAX_DEST_RD_ATOMIC) {
    range('max_dest_rd_atomic', req.max_dest_rd_atomic, 0, ctx.maxRdAtom);
    out.max_dest_rd_atomic = req.max_dest_rd_atomic;
  }
  if (mask & A.DEST_QPN) {
    range('dest_qp_num', req.dest_qp_num, 0, PSN_MASK);
    out.dest_qp_num = req.dest_qp_num;
  }
  if (mask & A.AV) applyAv(out, req, ctx);
  return out;
}

function applyAv(out: QpAttrs, req: ModifyQpReq, ctx: ModifyContext): void {
  range('ah_attr.dlid', req.dlid, 0, 0xffff);
  range('ah_attr.sl', req.sl, 0, 15);
  range('ah_attr.src_path_bits', req.src_path_bits, 0, 0x7f);
  range('ah_attr.static_rate', req.static_rate, 0, 63);
  range('ah_attr.is_global', req.is_global, 0, 1);
  if (req.ah_port_num !== 1) throw einval(`ah_attr.port_num ${req.ah_port_num}: the device has port 1 only`);
  if (req.is_global) {
    if (req.sgid_index !== 0) throw einval(`ah_attr.grh.sgid_index ${req.sgid_index}: the gid table has one entry`);
    range('ah_attr.grh.hop_limit', req.hop_limit, 0, 255);
    range('ah_attr.grh.traffic_class', req.traffic_class, 0, 255);
    range('ah_attr.grh.flow_label', req.flow_label, 0, 0xf_ffff);
  }
  const dgid = Buffer.from(req.dgid);
  ctx.checkPeer({ dlid: req.dlid, isGlobal: req.is_global === 1, dgid });
  out.dlid = req.dlid;
  out.sl = req.sl;
  out.src_path_bits = req.src_path_bits;
  out.static_rate = req.static_rate;
  out.is_global = req.is_global;
  out.ah_port_num = 1;
  if (req.is_global) {
    out.dgid = dgid;
    out.sgid_index = 0;
    out.hop_limit = req.hop_limit;
    out.traffic_class = req.traffic_class;
    out.flow_label = req.flow_label;
  } else {
    out.dgid = Buffer.alloc(16);
    out.sgid_index = 0;
    out.hop_limit = 0;
    out.traffic_class = 0;
    out.flow_label = 0;
  }
}
