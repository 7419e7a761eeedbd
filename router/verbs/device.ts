import {
  FFR_MAX_CQE,
  FFR_MAX_INLINE,
  FFR_MAX_QP_WR,
  FFR_MAX_SGE,
  FFR_MAX_SRQ_WR,
  FFR_VENDOR_ID,
  FFR_VENDOR_PART_ID,
  type HelloRep,
} from '../../proto/gen/ffproto.js';
import type { Container } from '../registry/registry.js';
import type { Quotas } from '../options.js';

/** Reported by ibv_devinfo as fw_ver. */
export const FW_VERSION = '0.1.0';
export const DEVICE_NAME = 'ffr0';
export const MAX_QP_RD_ATOM = 16;
/** IBV_MTU_4096. */
export const ACTIVE_MTU = 5;
export const MAX_MR_SIZE = 1n << 40n;

const GUID_PREFIX = 0x02ff_ff00_0000_0000n;

/** `0x02ff_ff00_0000_0000 | (tenant << 16) | lid` (design.md "Device"). */
export function nodeGuid(tenantId: number, lid: number): bigint {
  return GUID_PREFIX | (BigInt(tenantId) << 16n) | BigInt(lid);
}

/** gid[0]: the link-local prefix fe80::/64 followed by the port GUID, big-endian. */
export function portGid(tenantId: number, lid: number): Buffer {
  const gid = Buffer.alloc(16);
  gid.writeUInt16BE(0xfe80, 0);
  gid.writeBigUInt64BE(nodeGuid(tenantId, lid), 8);
  return gid;
}

/** The hello reply: the router is the authority on every limit the shim reports. */
export function deviceAttributes(sid: number, c: Container, q: Quotas): HelloRep {
  const guid = nodeGuid(c.tenantId, c.lid);
  return {
    session: sid,
    lid: c.lid,
    gid: portGid(c.tenantId, c.lid),
    node_guid: guid,
    sys_image_guid: guid,
    vendor_id: FFR_VENDOR_ID,
    vendor_part_id: FFR_VENDOR_PART_ID,
    hw_ver: 0,
    fw_ver: FW_VERSION,
    dev_name: DEVICE_NAME,
    container: c.name,
    max_qp: q.maxQp,
    max_qp_wr: FFR_MAX_QP_WR,
    max_sge: FFR_MAX_SGE,
    max_cq: q.maxCq,
    max_cqe: FFR_MAX_CQE,
    max_mr: q.maxMr,
    max_mr_size: MAX_MR_SIZE,
    max_pd: q.maxPd,
    max_srq: q.maxSrq,
    max_srq_wr: FFR_MAX_SRQ_WR,
    max_srq_sge: FFR_MAX_SGE,
    max_ah: q.maxAh,
    max_inline: FFR_MAX_INLINE,
    max_qp_rd_atom: MAX_QP_RD_ATOM,
    active_mtu: ACTIVE_MTU,
  };
}
