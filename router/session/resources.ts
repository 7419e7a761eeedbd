import { FFR_MAX_CQE, FFR_MAX_SGE, FFR_MAX_SRQ_WR } from '../../proto/gen/ffproto.js';
import { ebusy, einval, eopnotsupp } from '../errors.js';
import { Access, SrqAttr } from '../verbs/constants.js';
import { MAX_MR_SIZE } from '../verbs/device.js';
import { nextPow2, type HandlerTable, type VerbsContext } from './context.js';
import type { ObjectKind, PdObj } from './objects.js';
import type { Session } from './session.js';

const U64_LIMIT = 1n << 64n;
const PAGE = 4096n;

/** One more object of this kind, within the container's and the tenant's quotas (EAGAIN otherwise). */
export function checkQuota(ctx: VerbsContext, s: Session, kind: ObjectKind): void {
  ctx.quota.check(s.owner, kind);
}

/**
 * Ring memory is known exactly only once the data plane has laid the ring
 * out, so it is charged after the create: over the quota, `undo` destroys
 * the new object (its fd included) and the create fails with the quota's
 * EAGAIN. At most one object's ring exists beyond the quota, briefly.
 */
export function chargeRing(ctx: VerbsContext, s: Session, ring: { ringBytes: number; fd: number }, undo: () => void): void {
  try {
    ctx.quota.check(s.owner, 'ringBytes', ring.ringBytes);
  } catch (err) {
    undo();
    ctx.closeFd(ring.fd);
    throw err;
  }
  s.ringBytes += ring.ringBytes;
}

export function pdOf(s: Session, handle: number): PdObj {
  const pd = s.pds.get(handle);
  if (pd === undefined) throw einval(`no pd ${handle}`);
  return pd;
}

/*
 * MR access flags. Known but unsupported features fail honestly; optional
 * hints (IBV_ACCESS_OPTIONAL_RANGE, HUGETLB) are ignored as providers do.
 */
const MR_ACCESS_SUPPORTED =
  Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ | Access.REMOTE_ATOMIC | Access.MW_BIND | Access.HUGETLB | Access.OPTIONAL_RANGE;
const MR_ACCESS_UNSUPPORTED = Access.ZERO_BASED | Access.ON_DEMAND | Access.FLUSH_GLOBAL | Access.FLUSH_PERSISTENT;

export function checkMrAccess(access: number): void {
  const unknown = access & ~(MR_ACCESS_SUPPORTED | MR_ACCESS_UNSUPPORTED);
  if (unknown) throw einval(`access 0x${access.toString(16)} has unknown bits 0x${(unknown >>> 0).toString(16)}`);
  if (access & MR_ACCESS_UNSUPPORTED) {
    throw eopnotsupp(`access 0x${access.toString(16)}: zero-based, on-demand paging and flush MRs are not supported`);
  }
  if (access & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC) && !(access & Access.LOCAL_WRITE)) {
    throw einval('REMOTE_WRITE and REMOTE_ATOMIC require LOCAL_WRITE');
  }
}

export const resourceHandlers: HandlerTable = {
  alloc_pd(ctx, s) {
    checkQuota(ctx, s, 'pd');
    const handle = s.pds.allocate();
    s.pds.set(handle, { handle, mrs: 0, qps: 0, srqs: 0, ahs: 0 });
    return { rep: { pd: handle } };
  },

  dealloc_pd(_ctx, s, req) {
    const pd = pdOf(s, req.pd);
    if (pd.mrs || pd.qps || pd.srqs || pd.ahs) {
      throw ebusy(`pd ${pd.handle} is in use by ${pd.mrs} MRs, ${pd.qps} QPs, ${pd.srqs} SRQs, ${pd.ahs} AHs`);
    }
    s.pds.delete(pd.handle);
    return { rep: {} };
  },

  reg_mr(ctx, s, req, fds) {
    const pd = pdOf(s, req.pd);
    checkMrAccess(req.access);
    if (req.length === 0n || req.length > MAX_MR_SIZE) throw einval(`length ${req.length} out of range 1..${MAX_MR_SIZE}`);
    if (req.addr + req.length > U64_LIMIT) throw einval(`addr 0x${req.addr.toString(16)} + length wraps`);
    if (req.iova + req.length > U64_LIMIT) throw einval(`iova 0x${req.iova.toString(16)} + length wraps`);
    if (req.fd_offset + req.length > req.fd_size) {
      throw einval(`fd_offset ${req.fd_offset} + length ${req.length} exceeds fd_size ${req.fd_size}`);
    }
    // The memfd is mapped at page granularity over the range, so addr and
    // its offset in the file share their position within a page.
    if (req.fd_offset % PAGE !== req.addr % PAGE) {
      throw einval(`fd_offset ${req.fd_offset} and addr 0x${req.addr.toString(16)} differ within a page`);
    }
    checkQuota(ctx, s, 'mr');
    ctx.quota.check(s.owner, 'registeredBytes', Number(req.length));
    const handle = s.mrs.allocate();
    const key = ctx.mrKeys.allocate();
    try {
      const fd = fds.take(0, 'memory');
      ctx.dataPlane.regMr(s.sid, handle, {
        pd: pd.handle,
        key,
        addr: req.addr,
        length: req.length,
        iova: req.iova,
        access: req.access,
        fd,
        fdOffset: req.fd_offset,
        fdSize: req.fd_size,
      });
    } catch (err) {
      ctx.mrKeys.release(key);
      throw err;
    }
    s.mrs.set(handle, { handle, pd: pd.handle, key, addr: req.addr, length: req.length, iova: req.iova, access: req.access });
    pd.mrs++;
    s.registeredBytes += req.length;
    return { rep: { mr: handle, lkey: key, rkey: key } };
  },

  dereg_mr(ctx, s, req) {
    const mr = s.mrs.get(req.mr);
    if (mr === undefined) throw einval(`no mr ${req.mr}`);
    ctx.dataPlane.deregMr(s.sid, mr.handle);
    s.mrs.delete(mr.handle);
    ctx.mrKeys.release(mr.key);
    s.registeredBytes -= mr.length;
    const pd = s.pds.get(mr.pd);
    if (pd) pd.mrs--;
    return { rep: {} };
  },

  create_channel(ctx, s, _req, fds) {
    checkQuota(ctx, s, 'channel');
    const handle = s.channels.allocate();
    ctx.dataPlane.addChannel(s.sid, handle, fds.take(0, 'wake'));
    s.channels.set(handle, { handle, cqs: 0 });
    return { rep: { channel: handle } };
  },

  destroy_channel(ctx, s, req) {
    const ch = s.channels.get(req.channel);
    if (ch === undefined) throw einval(`no channel ${req.channel}`);
    if (ch.cqs) throw ebusy(`channel ${ch.handle} still has ${ch.cqs} CQs`);
    ctx.dataPlane.removeChannel(s.sid, ch.handle);
    s.channels.delete(ch.handle);
    return { rep: {} };
  },

  create_cq(ctx, s, req) {
    if (req.cqe < 1 || req.cqe > FFR_MAX_CQE) throw einval(`cqe ${req.cqe} out of range 1..${FFR_MAX_CQE}`);
    if (req.comp_vector !== 0) throw einval(`comp_vector ${req.comp_vector}: the device has one completion vector`);
    const ch = req.channel === 0 ? undefined : s.channels.get(req.channel);
    if (req.channel !== 0 && ch === undefined) throw einval(`no channel ${req.channel}`);
    checkQuota(ctx, s, 'cq');
    ctx.quota.check(s.owner, 'cqe', nextPow2(req.cqe + 1) - 1);
    const handle = s.cqs.allocate();
    const ring = ctx.dataPlane.createCq(s.sid, handle, { entries: nextPow2(req.cqe + 1), channel: req.channel });
    chargeRing(ctx, s, ring, () => ctx.dataPlane.destroyCq(s.sid, handle));
    // The ring the data plane built is the truth the shim must map.
    const entries = ring.entries ?? nextPow2(req.cqe + 1);
    s.cqs.set(handle, { handle, channel: req.channel, cqe: entries - 1, entries, qps: 0, ringBytes: ring.ringBytes });
    if (ch) ch.cqs++;
    return {
      rep: { cq: handle, cqe: entries - 1, entries, ring_bytes: ring.ringBytes },
      fds: [ring.fd],
      closeAfterSend: [ring.fd],
    };
  },

  destroy_cq(ctx, s, req) {
    const cq = s.cqs.get(req.cq);
    if (cq === undefined) throw einval(`no cq ${req.cq}`);
    if (cq.qps) throw ebusy(`cq ${cq.handle} is used by ${cq.qps} QPs`);
    ctx.dataPlane.destroyCq(s.sid, cq.handle);
    s.cqs.delete(cq.handle);
    s.ringBytes -= cq.ringBytes;
    const ch = s.channels.get(cq.channel);
    if (ch) ch.cqs--;
    return { rep: {} };
  },

  create_srq(ctx, s, req) {
    const pd = pdOf(s, req.pd);
    if (req.max_wr < 1 || req.max_wr > FFR_MAX_SRQ_WR) throw einval(`max_wr ${req.max_wr} out of range 1..${FFR_MAX_SRQ_WR}`);
    if (req.max_sge > FFR_MAX_SGE) throw einval(`max_sge ${req.max_sge} out of range 0..${FFR_MAX_SGE}`);
    const entries = nextPow2(req.max_wr);
    if (req.srq_limit > entries) throw einval(`srq_limit ${req.srq_limit} exceeds max_wr ${entries}`);
    checkQuota(ctx, s, 'srq');
    const maxSge = Math.max(1, req.max_sge);
    const handle = s.srqs.allocate();
    const srqn = ctx.srqns.allocate();
    let ring;
    try {
      ring = ctx.dataPlane.createSrq(s.sid, handle, { pd: pd.handle, entries, maxSge, limit: req.srq_limit });
    } catch (err) {
      ctx.srqns.free(srqn);
      throw err;
    }
    chargeRing(ctx, s, ring, () => {
      ctx.dataPlane.destroySrq(s.sid, handle);
      ctx.srqns.free(srqn);
    });
    const slots = ring.entries ?? entries;
    s.srqs.set(handle, { handle, pd: pd.handle, srqn, maxWr: slots, maxSge, limit: req.srq_limit, entries: slots, qps: 0, ringBytes: ring.ringBytes });
    pd.srqs++;
    return {
      rep: { srq: handle, srqn, max_wr: slots, max_sge: maxSge, entries: slots, stride: ring.stride, ring_bytes: ring.ringBytes },
      fds: [ring.fd],
      closeAfterSend: [ring.fd],
    };
  },

  modify_srq(ctx, s, req) {
    const srq = s.srqs.get(req.srq);
    if (srq === undefined) throw einval(`no srq ${req.srq}`);
    const unknown = req.attr_mask & ~(SrqAttr.MAX_WR | SrqAttr.LIMIT);
    if (unknown) throw einval(`unknown srq attr_mask bits 0x${(unknown >>> 0).toString(16)}`);
    if (req.attr_mask & SrqAttr.MAX_WR) throw eopnotsupp('resizing an SRQ is not supported');
    if (req.attr_mask & SrqAttr.LIMIT) {
      if (req.srq_limit > srq.maxWr) throw einval(`srq_limit ${req.srq_limit} exceeds max_wr ${srq.maxWr}`);
      ctx.dataPlane.modifySrq(s.sid, srq.handle, { limit: req.srq_limit });
      srq.limit = req.srq_limit;
    }
    return { rep: {} };
  },

  query_srq(_ctx, s, req) {
    const srq = s.srqs.get(req.srq);
    if (srq === undefined) throw einval(`no srq ${req.srq}`);
    return { rep: { max_wr: srq.maxWr, max_sge: srq.maxSge, srq_limit: srq.limit } };
  },

  destroy_srq(ctx, s, req) {
    const srq = s.srqs.get(req.srq);
    if (srq === undefined) throw einval(`no srq ${req.srq}`);
    if (srq.qps) throw ebusy(`srq ${srq.handle} is used by ${srq.qps} QPs`);
    ctx.dataPlane.destroySrq(s.sid, srq.handle);
    s.srqs.delete(srq.handle);
    s.ringBytes -= srq.ringBytes;
    ctx.srqns.free(srq.srqn);
    const pd = s.pds.get(srq.pd);
    if (pd) pd.srqs--;
    return { rep: {} };
  },

  create_ah(ctx, s, req) {
    const pd = pdOf(s, req.pd);
    if (req.ah_port_num !== 1) throw einval(`port_num ${req.ah_port_num}: the device has port 1 only`);
    if (req.dlid > 0xffff) throw einval(`dlid ${req.dlid} is not a 16-bit LID`);
    if (req.sl > 15) throw einval(`sl ${req.sl} out of range 0..15`);
    if (req.src_path_bits > 0x7f) throw einval(`src_path_bits ${req.src_path_bits} out of range 0..127`);
    if (req.is_global > 1) throw einval(`is_global ${req.is_global} is not 0 or 1`);
    if (req.is_global) {
      if (req.sgid_index !== 0) throw einval(`sgid_index ${req.sgid_index}: the gid table has one entry`);
      if (req.hop_limit > 255 || req.traffic_class > 255 || req.flow_label > 0xf_ffff) throw einval('GRH field out of range');
    }
    checkQuota(ctx, s, 'ah');
    // A UD AH may name any port: one of another host is reached through its
    // router; an unknown one is an AH to nowhere (datagrams are dropped).
    const lid = req.dlid !== 0 ? req.dlid : req.is_global ? Buffer.from(req.dgid).readUInt16BE(14) : 0;
    const dest = lid === 0 ? undefined : ctx.registry.findByLid(s.owner.tenantId, lid);
    const peer = dest === undefined ? 0 : ctx.peerOf(dest, `address handle to ${dest.name}`);
    const handle = s.ahs.allocate();
    ctx.dataPlane.createAh(s.sid, handle, {
      peer,
      pd: pd.handle,
      dlid: req.dlid,
      isGlobal: req.is_global,
      dgid: Buffer.from(req.dgid),
      sl: req.sl,
      srcPathBits: req.src_path_bits,
      portNum: 1,
    });
    s.ahs.set(handle, { handle, pd: pd.handle, dlid: req.dlid, isGlobal: req.is_global === 1 });
    pd.ahs++;
    return { rep: { ah: handle } };
  },

  destroy_ah(ctx, s, req) {
    const ah = s.ahs.get(req.ah);
    if (ah === undefined) throw einval(`no ah ${req.ah}`);
    ctx.dataPlane.destroyAh(s.sid, ah.handle);
    s.ahs.delete(ah.handle);
    const pd = s.pds.get(ah.pd);
    if (pd) pd.ahs--;
    return { rep: {} };
  },
};
