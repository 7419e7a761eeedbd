import { FFR_MAX_INLINE, FFR_MAX_QP_WR, FFR_MAX_SGE } from '../../proto/gen/ffproto.js';
import { einval, eopnotsupp } from '../errors.js';
import { QpType, qpStateName, qpTypeName } from '../verbs/constants.js';
import { MAX_QP_RD_ATOM, nodeGuid, portGid } from '../verbs/device.js';
import { applyModify, resetQpAttrs, type AddressVector } from '../verbs/qp-state.js';
import { nextPow2, type HandlerTable, type VerbsContext } from './context.js';
import type { QpCaps, QpObj } from './objects.js';
import { chargeRing, checkQuota, pdOf } from './resources.js';
import type { Container } from '../registry/registry.js';
import type { Session } from './session.js';

/** ffr_swqe header bytes before the SGEs or the inline data (design.md "Shared memory and rings"). */
const SWQE_BYTES = 80;
const SGE_BYTES = 16;

function round16(n: number): number {
  return (n + 15) & ~15;
}

/**
 * Rounds requested send capabilities up to what the SQ slot stride holds, as
 * real providers report (mlx5 derives max_inline_data and max_send_sge from
 * its WQE size): stride = round16(80 + max(16·sge, inline)).
 */
export function sendSlot(maxSendSge: number, maxInline: number): { stride: number; sge: number; inline: number } {
  const stride = round16(SWQE_BYTES + Math.max(SGE_BYTES * Math.max(1, maxSendSge), maxInline));
  const room = stride - SWQE_BYTES;
  return { stride, sge: Math.min(FFR_MAX_SGE, Math.floor(room / SGE_BYTES)), inline: Math.min(FFR_MAX_INLINE, room) };
}

function qpOf(s: Session, handle: number): QpObj {
  const qp = s.qps.get(handle);
  if (qp === undefined) throw einval(`no qp ${handle}`);
  return qp;
}

/** The QP's state as the data plane sees it; it moves QPs to ERR on its own. */
function refreshState(ctx: VerbsContext, s: Session, qp: QpObj): number {
  const state = ctx.dataPlane.qpState(s.sid, qp.handle);
  qp.attrs.qp_state = state;
  return state;
}

const GID_PREFIX = Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0]);

/**
 * Tenancy at connect time: the address vector of an RC/UC QP must name a
 * port of the QP's own tenant, by LID or (global AH) by port GID. This is
 * the router-side wall; the data plane checks again per message.
 */
function checkPeer(ctx: VerbsContext, s: Session, qp: QpObj, av: AddressVector): Container {
  const me = s.owner;
  const refuse = (why: string): never => {
    ctx.log.warn(`${s.describe()}: qpn ${qp.qpn} refused to connect: ${why}`);
    throw einval(why);
  };
  if (av.isGlobal) {
    const gid = av.dgid;
    const guid = gid.readBigUInt64BE(8);
    const lid = Number(guid & 0xffffn);
    const peer = gid.subarray(0, 8).equals(GID_PREFIX) ? ctx.registry.findByLid(me.tenantId, lid) : undefined;
    if (peer === undefined || !portGid(peer.tenantId, peer.lid).equals(gid) || nodeGuid(peer.tenantId, peer.lid) !== guid) {
      refuse(`dgid ${formatGid(gid)} is not the port GID of a container of tenant ${me.tenant}`);
    }
    if (av.dlid !== 0 && ctx.registry.findByLid(me.tenantId, av.dlid) === undefined) {
      refuse(`dlid ${av.dlid} is not a LID of tenant ${me.tenant}`);
    }
    return peer!;
  }
  const dest = av.dlid === 0 ? undefined : ctx.registry.findByLid(me.tenantId, av.dlid);
  if (dest === undefined) refuse(`dlid ${av.dlid} is not a LID of tenant ${me.tenant}`);
  return dest!;
}

function formatGid(gid: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(gid.readUInt16BE(i).toString(16).padStart(4, '0'));
  return parts.join(':');
}

export const qpHandlers: HandlerTable = {
  create_qp(ctx, s, req) {
    const pd = pdOf(s, req.pd);
    if (req.qp_type !== QpType.RC && req.qp_type !== QpType.UC && req.qp_type !== QpType.UD) {
      throw eopnotsupp(`qp_type ${req.qp_type}: only RC (2), UC (3) and UD (4) are supported`);
    }
    const type = req.qp_type as QpType;
    const sendCq = s.cqs.get(req.send_cq);
    if (sendCq === undefined) throw einval(`no send_cq ${req.send_cq}`);
    const recvCq = s.cqs.get(req.recv_cq);
    if (recvCq === undefined) throw einval(`no recv_cq ${req.recv_cq}`);
    const srq = req.srq === 0 ? undefined : s.srqs.get(req.srq);
    if (req.srq !== 0 && srq === undefined) throw einval(`no srq ${req.srq}`);
    if (req.max_send_wr > FFR_MAX_QP_WR) throw einval(`max_send_wr ${req.max_send_wr} exceeds ${FFR_MAX_QP_WR}`);
    if (req.max_send_sge > FFR_MAX_SGE) throw einval(`max_send_sge ${req.max_send_sge} exceeds ${FFR_MAX_SGE}`);
    if (req.max_inline_data > FFR_MAX_INLINE) throw einval(`max_inline_data ${req.max_inline_data} exceeds ${FFR_MAX_INLINE}`);
    if (srq === undefined) {
      if (req.max_recv_wr > FFR_MAX_QP_WR) throw einval(`max_recv_wr ${req.max_recv_wr} exceeds ${FFR_MAX_QP_WR}`);
      if (req.max_recv_sge > FFR_MAX_SGE) throw einval(`max_recv_sge ${req.max_recv_sge} exceeds ${FFR_MAX_SGE}`);
    }
    checkQuota(ctx, s, 'qp');

    // Ring capacity is `entries` (free-running indexes), so no slot is
    // sacrificed. The SQ always exists (its header mirrors the QP state) and
    // so does an RQ without an SRQ, even for max_recv_wr 0, because the shim
    // maps one ring per queue and refuses an empty one.
    const sqEntries = nextPow2(Math.max(1, req.max_send_wr));
    const slot = sendSlot(req.max_send_sge, req.max_inline_data);
    const rqEntries = srq !== undefined ? 0 : nextPow2(Math.max(1, req.max_recv_wr));
    const caps: QpCaps = {
      max_send_wr: sqEntries,
      max_recv_wr: rqEntries,
      max_send_sge: slot.sge,
      max_recv_sge: rqEntries ? Math.max(1, req.max_recv_sge) : 0,
      max_inline_data: slot.inline,
    };
    const sqSigAll = req.sq_sig_all ? 1 : 0;
    const handle = s.qps.allocate();
    const qpn = ctx.qpns.allocate();
    let ring;
    try {
      ring = ctx.dataPlane.createQp(s.sid, handle, {
        qpn,
        type,
        pd: pd.handle,
        sendCq: sendCq.handle,
        recvCq: recvCq.handle,
        srq: srq?.handle ?? 0,
        sqEntries,
        rqEntries,
        maxSendSge: caps.max_send_sge,
        maxRecvSge: caps.max_recv_sge,
        maxInline: caps.max_inline_data,
        sqSigAll,
        tenant: s.owner.tenantId,
        lid: s.owner.lid,
      });
    } catch (err) {
      ctx.qpns.free(qpn);
      throw err;
    }
    chargeRing(ctx, s, ring, () => {
      ctx.dataPlane.destroyQp(s.sid, handle);
      ctx.qpns.free(qpn);
    });
    if (ring.sqStride !== slot.stride || (ring.sqEntries ?? sqEntries) !== sqEntries || (ring.rqEntries ?? rqEntries) !== rqEntries) {
      ctx.log.warn(
        `${s.describe()}: qpn ${qpn}: data plane built sq ${ring.sqEntries}x${ring.sqStride} rq ${ring.rqEntries}x${ring.rqStride}, ` +
          `router asked sq ${sqEntries}x${slot.stride} rq ${rqEntries}`,
      );
    }
    s.qps.set(handle, {
      handle,
      qpn,
      type,
      pd: pd.handle,
      sendCq: sendCq.handle,
      recvCq: recvCq.handle,
      srq: srq?.handle ?? 0,
      sqSigAll,
      caps,
      attrs: resetQpAttrs(),
      ringBytes: ring.ringBytes,
    });
    pd.qps++;
    sendCq.qps++;
    if (recvCq !== sendCq) recvCq.qps++;
    if (srq) srq.qps++;
    ctx.log.debug(`${s.describe()}: created ${qpTypeName(type)} qpn ${qpn} (sq ${sqEntries}, rq ${rqEntries}${srq ? `, srq ${srq.srqn}` : ''})`);
    return {
      rep: {
        qp: handle,
        qpn,
        ...caps,
        ring_bytes: ring.ringBytes,
        sq_offset: ring.sqOffset,
        sq_entries: sqEntries,
        sq_stride: ring.sqStride,
        rq_offset: ring.rqOffset,
        rq_entries: rqEntries,
        rq_stride: ring.rqStride,
      },
      fds: [ring.fd],
      closeAfterSend: [ring.fd],
    };
  },

  modify_qp(ctx, s, req) {
    const qp = qpOf(s, req.qp);
    const actualState = refreshState(ctx, s, qp);
    let peer: number | undefined;
    const next = applyModify(qp.attrs, req, {
      type: qp.type,
      actualState,
      maxRdAtom: MAX_QP_RD_ATOM,
      checkPeer: (av) => {
        if (qp.type === QpType.UD) return;
        const dest = checkPeer(ctx, s, qp, av);
        peer = ctx.peerOf(dest, `connect qpn ${qp.qpn} to ${dest.name}`);
      },
    });
    ctx.dataPlane.modifyQp(s.sid, qp.handle, {
      state: next.qp_state,
      accessFlags: next.qp_access_flags,
      qkey: next.qkey,
      destQpn: next.dest_qp_num,
      dlid: next.dlid,
      isGlobal: next.is_global,
      dgid: next.dgid,
      minRnrTimer: next.min_rnr_timer,
      rnrRetry: next.rnr_retry,
      retryCnt: next.retry_cnt,
      timeout: next.timeout,
      pathMtu: next.path_mtu,
      sl: next.sl,
      pkeyIndex: next.pkey_index,
      ...(peer !== undefined ? { peer } : {}),
    });
    qp.attrs = next;
    if (next.qp_state !== actualState) {
      ctx.log.debug(`${s.describe()}: qpn ${qp.qpn} ${qpStateName(actualState)} -> ${qpStateName(next.qp_state)}`);
    }
    return { rep: { qp_state: next.qp_state } };
  },

  query_qp(ctx, s, req) {
    const qp = qpOf(s, req.qp);
    const state = refreshState(ctx, s, qp);
    const a = qp.attrs;
    return {
      rep: {
        ...a,
        qp_state: state,
        cur_qp_state: state,
        sq_draining: 0,
        ...qp.caps,
        sq_sig_all: qp.sqSigAll,
      },
    };
  },

  destroy_qp(ctx, s, req) {
    const qp = qpOf(s, req.qp);
    ctx.dataPlane.destroyQp(s.sid, qp.handle);
    s.qps.delete(qp.handle);
    s.ringBytes -= qp.ringBytes;
    ctx.qpns.free(qp.qpn);
    const pd = s.pds.get(qp.pd);
    if (pd) pd.qps--;
    const sendCq = s.cqs.get(qp.sendCq);
    if (sendCq) sendCq.qps--;
    const recvCq = qp.recvCq === qp.sendCq ? undefined : s.cqs.get(qp.recvCq);
    if (recvCq) recvCq.qps--;
    const srq = s.srqs.get(qp.srq);
    if (srq) srq.qps--;
    return { rep: {} };
  },
};

