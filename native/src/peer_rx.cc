// Receiving peer frames: the parser (headers through a small staging buffer,
// payloads straight into mapped memory), the responder (placing SEND and
// WRITE, answering READ and atomics, ACK/NAK), and the requester's side of
// responses. Nothing in a frame is trusted beyond "a router sent it": every
// QP, key and range is checked here as for a local WR.
#include <infiniband/verbs.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addr.h"
#include "dataplane.h"
#include "fault_guard.h"
#include "ring.h"

namespace ffr {
namespace {

constexpr uint64_t kReadBudget = 1u << 20;  // bytes per connection per pass: others get their turn
constexpr uint32_t kMaxMsg = 0x80000000u;

// Does the connected QP d name the port (tenant, lid) as its peer?
bool av_names(const Qp& d, uint32_t tenant, uint32_t lid) {
  if (d.dlid != 0 && d.dlid == lid) return true;
  if (!d.is_global) return false;
  uint8_t g[16];
  port_gid(tenant, lid, g);
  return std::memcmp(g, d.dgid, 16) == 0;
}

// The bytes [off, off+len) of a scatter list, as a new scatter list.
void slice(const std::vector<Seg>& all, uint64_t off, uint64_t len, std::vector<Seg>* out) {
  out->clear();
  slice_into(all, off, len, out);
}

}  // namespace

std::shared_ptr<Mr> DataPlane::mr_ref(const Mr* m) {
  auto it = t_.mrs.find(obj_key(m->sid, m->handle));
  return it == t_.mrs.end() ? nullptr : it->second;
}

RemoteState& DataPlane::remote_of(Qp& qp) {
  if (!qp.remote) qp.remote = std::make_unique<RemoteState>();
  return *qp.remote;
}

// The responder QP a request frame is for, or null: unknown, another
// tenant, another type, not receiving, or not connected to the sender.
Qp* DataPlane::responder(const ffr_peer_hdr& h, const PeerConn& c) {
  auto it = t_.qp_by_qpn.find(h.dst_qpn);
  if (it == t_.qp_by_qpn.end()) return nullptr;
  Qp& d = *it->second;
  if (d.tenant != h.tenant || d.type != h.code || !receives(d)) return nullptr;
  if (d.type == IBV_QPT_UD) return d.lid == h.dst_lid && d.qkey == h.qkey ? &d : nullptr;
  if (d.peer != c.host_id || d.dest_qpn != h.src_qpn || !av_names(d, h.tenant, h.src_lid)) return nullptr;
  return &d;
}

// The requester QP a response frame is for.
Qp* DataPlane::requester(const ffr_peer_hdr& h, const PeerConn& c) {
  auto it = t_.qp_by_qpn.find(h.dst_qpn);
  if (it == t_.qp_by_qpn.end()) return nullptr;
  Qp& q = *it->second;
  if (q.type != IBV_QPT_RC || q.peer != c.host_id || q.dest_qpn != h.src_qpn || !q.remote) return nullptr;
  return &q;
}

// A frame answering `req`: addressed back to its sender, same PSN.
static TxFrame answer_to(const ffr_peer_hdr& req, uint32_t op) {
  TxFrame f;
  f.hdr.op = static_cast<uint8_t>(op);
  f.hdr.tenant = req.tenant;
  f.hdr.src_qpn = req.dst_qpn;
  f.hdr.dst_qpn = req.src_qpn;
  f.hdr.psn = req.psn;
  f.hdr.src_lid = req.dst_lid;
  f.hdr.dst_lid = req.src_lid;
  return f;
}

void DataPlane::reply(PeerConn& c, const ffr_peer_hdr& req, uint32_t op, uint32_t code, uint32_t imm) {
  TxFrame f = answer_to(req, op);
  f.hdr.code = static_cast<uint16_t>(code);
  f.hdr.imm = imm;
  enqueue(c, std::move(f));
}

void DataPlane::rx_abort(Qp& d) {
  if (!d.remote) return;
  RemoteState& rs = *d.remote;
  if (rs.rx_active && rs.rx_reserved && d.recv_cq) {
    d.recv_cq->reserved--;
    // A receive WQE already taken for a message that will never finish
    // still completes: flushed, as the rest of the RQ is.
    if (rs.rx_has_rwqe) {
      ffr_cqe e{};
      e.wr_id = rs.rx_wr_id;
      e.status = IBV_WC_WR_FLUSH_ERR;
      e.opcode = IBV_WC_RECV;
      e.qp_num = d.qpn;
      cq_push(*d.recv_cq, e, false);
    }
  }
  rs.rx_active = false;
  rs.rx_reserved = false;
  rs.rx_has_rwqe = false;
  rs.rx_segs.clear();
  rs.rx_refs.clear();
}

// The responder refused a receive WQE it had taken: complete it in error
// and move the QP to ERR (as recv_error does locally); the requester gets
// the matching NAK.
void DataPlane::rx_fail(PeerConn& c, Qp& d, const ffr_peer_hdr& h, uint32_t wc_status, uint32_t nak) {
  RemoteState& rs = remote_of(d);
  if (rs.rx_has_rwqe && d.recv_cq) {
    if (rs.rx_reserved) d.recv_cq->reserved--;
    rs.rx_reserved = false;
    ffr_cqe e{};
    e.wr_id = rs.rx_wr_id;
    e.status = wc_status;
    e.opcode = IBV_WC_RECV;
    e.qp_num = d.qpn;
    e.src_qp = h.src_qpn;
    cq_push(*d.recv_cq, e, true);
    rs.rx_has_rwqe = false;
  }
  rx_abort(d);
  if (d.type == IBV_QPT_RC) reply(c, h, FFR_PEER_NAK, nak, 0);
  if (rs.rx_has_rwqe || wc_status != IBV_WC_SUCCESS) set_state(d, FFR_QPS_ERR);
}

// Takes the receive WQE (and a CQ slot) for a SEND or WRITE_WITH_IMM that
// starts. Returns false after answering (RNR NAK, error) or dropping.
bool DataPlane::rx_take_rwqe(PeerConn& c, Qp& d, const ffr_peer_hdr& h, bool scatter) {
  RemoteState& rs = remote_of(d);
  RecvRing* rr = recv_ring(d);
  alignas(16) uint8_t rbuf[sizeof(ffr_rwqe) + sizeof(ffr_sge) * FFR_MAX_SGE];
  if (!cq_room(*d.recv_cq) || rr == nullptr || rr->stride > sizeof(rbuf) || !peek_rwqe(*rr, rbuf)) {
    // No receive posted (or no CQ room): RC says "not ready", UC/UD drop.
    if (d.type == IBV_QPT_RC) reply(c, h, FFR_PEER_NAK, FFR_NAK_RNR, d.min_rnr_timer);
    return false;
  }
  ffr_rwqe rw;
  std::memcpy(&rw, rbuf, sizeof(rw));
  pop_rwqe(*rr);
  rs.rx_active = true;
  rs.rx_has_rwqe = true;
  rs.rx_wr_id = rw.wr_id;
  rs.rx_reserved = true;
  d.recv_cq->reserved++;
  if (!scatter) return true;
  if (rw.num_sge > rr->max_sge) {
    rx_fail(c, d, h, IBV_WC_LOC_QP_OP_ERR, FFR_NAK_REM_OP);
    return false;
  }
  uint64_t cap = 0;
  const uint32_t rpd = d.srq ? d.srq->pd : d.pd;
  std::vector<Mr*> mrs;
  int st = gather_local(d.sid, rpd, rbuf + sizeof(ffr_rwqe), rw.num_sge, true, &rs.rx_segs, &cap, &mrs);
  if (st != 0) {
    rx_fail(c, d, h, static_cast<uint32_t>(st), FFR_NAK_REM_OP);
    return false;
  }
  const uint64_t need = static_cast<uint64_t>(h.msg_len) + (d.type == IBV_QPT_UD ? FFR_UD_GRH_BYTES : 0);
  if (cap < need) {
    rx_fail(c, d, h, IBV_WC_LOC_LEN_ERR, FFR_NAK_INV_REQ);
    return false;
  }
  refs_of(mrs, &rs.rx_refs);
  return true;
}

// A header is complete: decide where its payload goes.
bool DataPlane::begin_frame(PeerConn& c, uint64_t now, std::string* why) {
  const ffr_peer_hdr& h = c.rh;
  c.dst.clear();
  c.dst_refs.clear();
  c.dst_i = 0;
  c.dst_off = 0;
  c.into_small = false;
  c.copy_failed = false;
  c.job = Job::kDiscard;
  if (c.state == ConnState::kAwaitHello) {
    if (h.op != FFR_PEER_HELLO || h.len != sizeof(ffr_peer_hello)) {
      *why = "first frame is not HELLO";
      return false;
    }
    c.into_small = true;
    c.job = Job::kHello;
    return true;
  }
  if (h.op == FFR_PEER_HELLO || h.op == 0 || h.op > FFR_PEER_PROBE) {
    *why = "unexpected frame type " + std::to_string(h.op);
    return false;
  }
  if (h.len > FFR_PEER_SEG || h.msg_len > kMaxMsg || h.offset > h.msg_len || h.len > h.msg_len - h.offset) {
    if (!(h.op == FFR_PEER_ATOMIC_REQ || h.op == FFR_PEER_ATOMIC_RESP) || h.len > sizeof(ffr_peer_atomic)) {
      *why = "frame length fields out of range";
      return false;
    }
  }
  if (Peer* p = peer_of(c)) p->frames_in++;
  switch (h.op) {
    case FFR_PEER_SEND:
    case FFR_PEER_WRITE:
      rx_data_begin(c, now);
      return true;
    case FFR_PEER_ATOMIC_REQ:
    case FFR_PEER_ATOMIC_RESP:
      if (h.len != sizeof(ffr_peer_atomic)) {
        *why = "atomic frame without its 16-byte payload";
        return false;
      }
      c.into_small = true;
      c.job = h.op == FFR_PEER_ATOMIC_REQ ? Job::kAtomicReq : Job::kAtomicResp;
      return true;
    case FFR_PEER_READ_RESP: {
      Qp* q = requester(h, c);
      if (q == nullptr) return true;
      for (InFlight& e : q->remote->inflight) {
        if (e.psn != h.psn) continue;
        if (e.opcode == IBV_WR_RDMA_READ && !e.acked && h.msg_len == e.len) {
          slice(e.local, h.offset, h.len, &c.dst);
          c.job = Job::kReadResp;
        }
        break;
      }
      return true;
    }
    default:
      if (h.len != 0) {
        *why = "control frame with a payload";
        return false;
      }
      c.job = Job::kControl;
      return true;
  }
}

void DataPlane::rx_data_begin(PeerConn& c, uint64_t now) {
  (void)now;
  const ffr_peer_hdr& h = c.rh;
  Qp* d = responder(h, c);
  if (d == nullptr) return;  // silently dropped: the requester times out, as on a real fabric
  RemoteState& rs = remote_of(*d);
  const bool rc = d->type == IBV_QPT_RC;
  const bool first = h.offset == 0;
  if (rc && psn_before(h.psn, rs.expect_psn)) {
    // Already placed before a reconnect: acknowledge again, place nothing.
    if (h.offset + h.len == h.msg_len) c.job = Job::kDupAck;
    return;
  }
  if (rc && h.psn != rs.expect_psn) return;  // after a NAK: the requester goes back
  const bool imm = (h.flags & FFR_PF_IMM) != 0;
  if (first) {
    const bool restart = rs.rx_active && rs.rx_psn == h.psn && rc;
    if (!restart) {
      if (rs.rx_active) rx_abort(*d);  // UC: a message that never finished
      if (h.op == FFR_PEER_SEND || imm) {
        if (!rx_take_rwqe(c, *d, h, h.op == FFR_PEER_SEND)) return;
      }
      if (h.op == FFR_PEER_WRITE && h.msg_len > 0) {
        Mr* mr = remote_mr(*d, h.rkey, h.raddr, h.msg_len, IBV_ACCESS_REMOTE_WRITE);
        if (mr == nullptr) {
          // The WQE taken for the immediate goes back untouched (it was
          // popped: complete nothing, hand it back by un-popping is not
          // possible, so the write fails as a remote access error that
          // also ends the responder, as real HCAs do for class C errors).
          if (rs.rx_has_rwqe) {
            rx_fail(c, *d, h, IBV_WC_REM_ACCESS_ERR, FFR_NAK_REM_ACCESS);
          } else if (rc) {
            reply(c, h, FFR_PEER_NAK, FFR_NAK_REM_ACCESS, 0);
          }
          return;
        }
        rs.rx_segs.assign(1, Seg{mr->base + (h.raddr - mr->iova), h.msg_len});
        rs.rx_refs.assign(1, mr_ref(mr));
      }
      rs.rx_active = true;
      rs.rx_op = h.op;
      rs.rx_flags = h.flags;
      rs.rx_imm = h.imm;
      rs.rx_psn = h.psn;
      rs.rx_src_qpn = h.src_qpn;
      rs.rx_src_lid = h.src_lid;
      rs.rx_msg_len = h.msg_len;
      if (d->type == IBV_QPT_UD && (h.flags & FFR_PF_GLOBAL) != 0) {
        alignas(8) uint8_t grh[FFR_UD_GRH_BYTES] = {};
        grh[0] = 0x60;
        grh[4] = static_cast<uint8_t>(h.msg_len >> 8);
        grh[5] = static_cast<uint8_t>(h.msg_len);
        grh[6] = 0x1b;
        grh[7] = 0xff;
        port_gid(h.tenant, h.src_lid, grh + 8);
        port_gid(h.tenant, h.dst_lid, grh + 24);
        std::vector<Seg> g{{grh, FFR_UD_GRH_BYTES}}, to;
        slice(rs.rx_segs, 0, FFR_UD_GRH_BYTES, &to);
        if (guarded_copy(g, to) != Fault::kNone) c.copy_failed = true;
      }
    }
    rs.rx_next_off = 0;
  } else if (!rs.rx_active || rs.rx_psn != h.psn || rs.rx_next_off != h.offset || rs.rx_msg_len != h.msg_len ||
             rs.rx_op != h.op) {
    return;  // the rest of a message that was refused or dropped (or a segment that contradicts its start)
  }
  const uint64_t base = d->type == IBV_QPT_UD && rs.rx_op == FFR_PEER_SEND ? FFR_UD_GRH_BYTES : 0;
  if (rs.rx_op == FFR_PEER_SEND || (rs.rx_op == FFR_PEER_WRITE && rs.rx_msg_len > 0))
    slice(rs.rx_segs, base + h.offset, h.len, &c.dst);
  c.dst_refs = rs.rx_refs;
  c.job = Job::kData;
  c.job_qpn = d->qpn;
}

// The payload of the current frame is in: act on it.
bool DataPlane::end_frame(PeerConn& c, uint64_t now, std::string* why) {
  const ffr_peer_hdr h = c.rh;
  const Job job = c.job;
  c.dst.clear();
  c.dst_refs.clear();
  switch (job) {
    case Job::kDiscard:
      return true;
    case Job::kHello:
      bind_conn(c);  // may close c
      return true;
    case Job::kDupAck:
      reply(c, h, FFR_PEER_ACK, 0, 0);
      return true;
    case Job::kData:
      rx_data_end(c, h, now);
      return true;
    case Job::kAtomicReq:
      rx_atomic(c, h);
      return true;
    case Job::kAtomicResp:
    case Job::kReadResp:
    case Job::kControl:
      on_response(c, h, job, now);
      return true;
  }
  *why = "bad frame state";
  return false;
}

void DataPlane::rx_data_end(PeerConn& c, const ffr_peer_hdr& h, uint64_t now) {
  (void)now;
  auto it = t_.qp_by_qpn.find(c.job_qpn);
  if (it == t_.qp_by_qpn.end() || !it->second->remote) return;
  Qp& d = *it->second;
  RemoteState& rs = *d.remote;
  if (!rs.rx_active || rs.rx_psn != h.psn) return;
  if (c.copy_failed) {
    // The receiver's own memory vanished under the copy (its app shrank the
    // memfd): its WQE completes in error; a WRITE target is an access error.
    if (rs.rx_has_rwqe) rx_fail(c, d, h, IBV_WC_LOC_PROT_ERR, FFR_NAK_REM_OP);
    else {
      rx_abort(d);
      if (d.type == IBV_QPT_RC) reply(c, h, FFR_PEER_NAK, FFR_NAK_REM_ACCESS, 0);
    }
    return;
  }
  rs.rx_next_off = h.offset + h.len;
  if (rs.rx_next_off < rs.rx_msg_len) return;
  // Last segment: the message is placed.
  const bool imm = (rs.rx_flags & FFR_PF_IMM) != 0;
  if (rs.rx_has_rwqe) {
    ffr_cqe e{};
    e.wr_id = rs.rx_wr_id;
    e.status = IBV_WC_SUCCESS;
    const bool ud = d.type == IBV_QPT_UD;
    if (rs.rx_op == FFR_PEER_SEND) {
      e.opcode = IBV_WC_RECV;
      e.byte_len = rs.rx_msg_len + (ud ? FFR_UD_GRH_BYTES : 0);
    } else {
      e.opcode = IBV_WC_RECV_RDMA_WITH_IMM;
      e.byte_len = rs.rx_msg_len;
    }
    if (imm) {
      e.imm_data = rs.rx_imm;
      e.wc_flags |= IBV_WC_WITH_IMM;
    }
    if (ud && (rs.rx_flags & FFR_PF_GLOBAL) != 0) e.wc_flags |= IBV_WC_GRH;
    e.qp_num = d.qpn;
    e.src_qp = rs.rx_src_qpn;
    e.slid = static_cast<uint16_t>(rs.rx_src_lid);
    e.sl = static_cast<uint8_t>(d.sl);
    if (rs.rx_reserved) d.recv_cq->reserved--;
    rs.rx_reserved = false;
    rs.rx_has_rwqe = false;
    cq_push(*d.recv_cq, e, (rs.rx_flags & FFR_PF_SOLICITED) != 0);
  }
  count(d.sid, 0, rs.rx_msg_len, 0, rs.rx_op == FFR_PEER_SEND || imm ? 1 : 0);
  rs.rx_active = false;
  rs.rx_segs.clear();
  rs.rx_refs.clear();
  if (d.type == IBV_QPT_RC) {
    rs.expect_psn = h.psn + 1;
    reply(c, h, FFR_PEER_ACK, 0, 0);
  }
}

void DataPlane::rx_read(PeerConn& c, const ffr_peer_hdr& h) {
  Qp* d = responder(h, c);
  if (d == nullptr || d->type != IBV_QPT_RC) return;
  RemoteState& rs = remote_of(*d);
  const bool dup = psn_before(h.psn, rs.expect_psn);
  if (!dup && h.psn != rs.expect_psn) return;
  std::shared_ptr<Mr> ref;
  uint8_t* src = nullptr;
  if (h.msg_len > 0) {
    Mr* mr = remote_mr(*d, h.rkey, h.raddr, h.msg_len, IBV_ACCESS_REMOTE_READ);
    if (mr == nullptr) {
      reply(c, h, FFR_PEER_NAK, FFR_NAK_REM_ACCESS, 0);
      if (!dup) rs.expect_psn = h.psn + 1;
      return;
    }
    ref = mr_ref(mr);
    src = mr->base + (h.raddr - mr->iova);
  }
  // Reads are idempotent: a duplicate is simply answered again.
  uint32_t off = 0;
  do {
    const uint32_t n = std::min<uint32_t>(FFR_PEER_SEG, h.msg_len - off);
    TxFrame f = answer_to(h, FFR_PEER_READ_RESP);
    f.hdr.msg_len = h.msg_len;
    f.hdr.offset = off;
    f.hdr.len = n;
    if (n > 0) {
      f.mem.push_back({src + off, n});
      f.refs.push_back(ref);
    }
    enqueue(c, std::move(f));
    off += n;
  } while (off < h.msg_len);
  count(d->sid, h.msg_len, 0, 0, 0);
  if (!dup) rs.expect_psn = h.psn + 1;
}

void DataPlane::rx_atomic(PeerConn& c, const ffr_peer_hdr& h) {
  Qp* d = responder(h, c);
  if (d == nullptr || d->type != IBV_QPT_RC) return;
  RemoteState& rs = remote_of(*d);
  ffr_peer_atomic a;
  std::memcpy(&a, c.small, sizeof(a));
  auto answer = [&](uint64_t orig) {
    TxFrame f = answer_to(h, FFR_PEER_ATOMIC_RESP);
    f.hdr.msg_len = sizeof(ffr_peer_atomic);
    f.hdr.len = sizeof(ffr_peer_atomic);
    ffr_peer_atomic r{};
    r.compare_add = orig;
    std::memcpy(f.small, &r, sizeof(r));
    f.small_len = sizeof(r);
    enqueue(c, std::move(f));
  };
  if (psn_before(h.psn, rs.expect_psn)) {
    // A duplicate must not run twice: answer from the results kept.
    for (const auto& r : rs.atomics)
      if (r.valid && r.psn == h.psn) return answer(r.orig);
    reply(c, h, FFR_PEER_NAK, FFR_NAK_INV_REQ, 0);
    return;
  }
  if (h.psn != rs.expect_psn) return;
  rs.expect_psn = h.psn + 1;
  Mr* mr = (h.raddr & 7) == 0 ? remote_mr(*d, h.rkey, h.raddr, 8, IBV_ACCESS_REMOTE_ATOMIC) : nullptr;
  uint8_t* p = mr ? mr->base + (h.raddr - mr->iova) : nullptr;
  if (p == nullptr || (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reply(c, h, FFR_PEER_NAK, FFR_NAK_REM_ACCESS, 0);
    return;
  }
  uint64_t orig = 0;
  if (!atomic_at(p, (h.flags & FFR_PF_CAS) != 0, a.compare_add, a.swap, &orig)) {
    reply(c, h, FFR_PEER_NAK, FFR_NAK_REM_ACCESS, 0);
    return;
  }
  rs.atomics[rs.atomic_next++ % 8] = {h.psn, true, orig};
  count(d->sid, 8, 8, 0, 0);
  answer(orig);
}

// ACK, NAK, READ_RESP and ATOMIC_RESP at the requester.
// A requester in RNR probing asks whether a receive is posted now.
void DataPlane::rx_probe(PeerConn& c, const ffr_peer_hdr& h) {
  Qp* d = responder(h, c);
  if (d == nullptr || d->type != IBV_QPT_RC) return;
  RemoteState& rs = remote_of(*d);
  if (h.psn != rs.expect_psn && !psn_before(h.psn, rs.expect_psn)) return;
  RecvRing* rr = recv_ring(*d);
  alignas(16) uint8_t rbuf[sizeof(ffr_rwqe) + sizeof(ffr_sge) * FFR_MAX_SGE];
  const bool ready = psn_before(h.psn, rs.expect_psn) ||
                     (cq_room(*d->recv_cq) && rr != nullptr && rr->stride <= sizeof(rbuf) && peek_rwqe(*rr, rbuf));
  // READY acknowledges psn - 1: everything before the probed message is
  // placed already (the responder works in order).
  ffr_peer_hdr prev = h;
  prev.psn = h.psn - 1;
  if (ready) reply(c, prev, FFR_PEER_ACK, FFR_ACK_READY, 0);
  else reply(c, h, FFR_PEER_NAK, FFR_NAK_RNR, d->min_rnr_timer);
}

// A response frame completes what it answers now, not at the next sweep of
// the QP: a frame read right after it on this connection (the peer's own
// SEND, sent after this ACK) completes on this side after it, as on an HCA.
// Only what needs no waiting is done here: a full send CQ (which leaves the
// QP's wait state alone) or a QP no longer sending is left to process_remote.
void DataPlane::complete_on_arrival(Qp& q, uint64_t now) {
  if (q.state != FFR_QPS_RTS || q.cqe_pending) return;
  (void)complete_remote_head(q, now, false);
}

void DataPlane::on_response(PeerConn& c, const ffr_peer_hdr& h, Job job, uint64_t now) {
  if (h.op == FFR_PEER_READ_REQ) return rx_read(c, h);
  if (h.op == FFR_PEER_PROBE) return rx_probe(c, h);
  Qp* q = requester(h, c);
  if (q == nullptr) return;
  RemoteState& rs = *q->remote;
  const uint64_t t = q->timeout == 0 ? 0 : 4096ull << q->timeout;
  if (h.op == FFR_PEER_NAK && h.code == FFR_NAK_RNR && rs.probing && h.psn == rs.next_psn) {
    // The probe met no receive either: wait another RNR period.
    if (q->rnr_retry != 7 && q->rnr_used >= q->rnr_retry) {
      fail_head(*q, IBV_WC_RNR_RETRY_EXC_ERR);
      rs.probing = false;
      return;
    }
    q->rnr_used++;
    q->wait = Wait::kRnr;
    q->wait_until_ns = now + rnr_timer_ns(h.imm);
    rs.probe_sent = false;
    rs.ack_deadline_ns = now + t;
    return;
  }
  if (h.op == FFR_PEER_ACK) {
    if (h.code == FFR_ACK_READY && rs.probing && h.psn + 1 == rs.next_psn) {
      rs.probing = false;
      rs.probe_sent = false;
      rs.retries = 0;
      rs.ack_deadline_ns = now + t;
    }
    bool progress = false;
    for (InFlight& e : rs.inflight) {
      if (psn_before(h.psn, e.psn)) break;
      if (e.acked || e.opcode == IBV_WR_RDMA_READ || e.opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
          e.opcode == IBV_WR_ATOMIC_FETCH_AND_ADD)
        continue;
      e.acked = true;
      progress = true;
    }
    if (progress) {
      rs.retries = 0;
      q->rnr_used = 0;
      rs.ack_deadline_ns = now + t;
      complete_on_arrival(*q, now);
    }
    return;
  }
  auto e = rs.inflight.begin();
  while (e != rs.inflight.end() && e->psn != h.psn) ++e;
  if (e == rs.inflight.end() || e->acked) return;
  if (job == Job::kReadResp) {
    if (c.copy_failed) {
      fail_from(*q, e, IBV_WC_LOC_PROT_ERR);
      return;
    }
    if (h.offset + h.len < h.msg_len) return;
    e->acked = true;
    e->status = IBV_WC_SUCCESS;
  } else if (h.op == FFR_PEER_ATOMIC_RESP) {
    ffr_peer_atomic a;
    std::memcpy(&a, c.small, sizeof(a));
    std::vector<Seg> from{{reinterpret_cast<uint8_t*>(&a.compare_add), 8}};
    if (guarded_copy(from, e->local) != Fault::kNone) {
      fail_from(*q, e, IBV_WC_LOC_PROT_ERR);
      return;
    }
    e->acked = true;
    e->status = IBV_WC_SUCCESS;
  } else if (h.op == FFR_PEER_NAK) {
    if (h.code == FFR_NAK_RNR) {
      if (q->rnr_retry != 7 && q->rnr_used >= q->rnr_retry) {
        fail_from(*q, e, IBV_WC_RNR_RETRY_EXC_ERR);
        return;
      }
      q->rnr_used++;
      rewind_to(*q, e);
      q->wait = Wait::kRnr;
      q->wait_until_ns = now + rnr_timer_ns(h.imm);
      rs.ack_deadline_ns = now + t;
      rs.probing = true;
      rs.probe_sent = false;
      return;
    }
    const uint32_t st = h.code == FFR_NAK_REM_ACCESS ? IBV_WC_REM_ACCESS_ERR
                        : h.code == FFR_NAK_INV_REQ  ? IBV_WC_REM_INV_REQ_ERR
                                                     : IBV_WC_REM_OP_ERR;
    fail_from(*q, e, st);
    return;
  } else {
    return;
  }
  rs.retries = 0;
  q->rnr_used = 0;
  rs.ack_deadline_ns = now + t;
  complete_on_arrival(*q, now);
}

// Reads what the socket has, frame by frame. False: the connection failed
// or broke the protocol (why says which).
bool DataPlane::conn_read(PeerConn& c, uint64_t now, std::string* why) {
  uint64_t moved = 0;
  const uint64_t token = c.token;
  for (;;) {
    if (t_.conn_by_token.count(token) == 0) return true;  // closed by HELLO handling
    if (c.pay_left == 0 && c.rh_got < sizeof(ffr_peer_hdr)) {
      if (c.stage_off == c.stage_len) {
        if (moved >= kReadBudget) return true;
        const ssize_t r = ::recv(c.fd.get(), c.stage, sizeof(c.stage), 0);
        if (r == 0) {
          *why = "peer closed the connection";
          return false;
        }
        if (r < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
          if (errno == EINTR) continue;
          *why = std::string("recv failed: ") + std::strerror(errno);
          return false;
        }
        c.stage_len = static_cast<uint32_t>(r);
        c.stage_off = 0;
        moved += static_cast<uint64_t>(r);
        if (Peer* p = peer_of(c)) p->bytes_in += static_cast<uint64_t>(r);
      }
      const uint32_t take = std::min<uint32_t>(sizeof(ffr_peer_hdr) - c.rh_got, c.stage_len - c.stage_off);
      std::memcpy(reinterpret_cast<uint8_t*>(&c.rh) + c.rh_got, c.stage + c.stage_off, take);
      c.rh_got += take;
      c.stage_off += take;
      if (c.rh_got < sizeof(ffr_peer_hdr)) continue;
      if (!begin_frame(c, now, why)) return false;
      c.pay_left = c.rh.len;
    } else if (c.pay_left > 0) {
      if (c.stage_off < c.stage_len) {
        const uint32_t n = std::min<uint32_t>(c.pay_left, c.stage_len - c.stage_off);
        place_bytes(c, c.stage + c.stage_off, n);
        c.stage_off += n;
      } else {
        if (moved >= kReadBudget) return true;
        iovec iov[16];
        int n = 0;
        uint64_t want = c.pay_left;
        if (c.into_small) {
          iov[n++] = {c.small + (c.rh.len - c.pay_left), c.pay_left};
        } else if (c.dst_i < c.dst.size()) {
          uint64_t off = c.dst_off;
          for (size_t i = c.dst_i; i < c.dst.size() && n < 16 && want > 0; i++) {
            const uint64_t len = std::min(c.dst[i].len - off, want);
            iov[n++] = {c.dst[i].p + off, len};
            want -= len;
            off = 0;
          }
        } else {
          iov[n++] = {discard_, std::min<uint64_t>(c.pay_left, sizeof(discard_))};
        }
        const ssize_t r = ::readv(c.fd.get(), iov, n);
        if (r == 0) {
          *why = "peer closed the connection mid-frame";
          return false;
        }
        if (r < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
          if (errno == EINTR) continue;
          if (errno == EFAULT) {
            // The destination memfd shrank: the rest of this frame is
            // drained into the scratch buffer and the message fails.
            c.copy_failed = true;
            c.dst.clear();
            c.dst_i = 0;
            continue;
          }
          *why = std::string("recv failed: ") + std::strerror(errno);
          return false;
        }
        moved += static_cast<uint64_t>(r);
        if (Peer* p = peer_of(c)) p->bytes_in += static_cast<uint64_t>(r);
        advance_dst(c, static_cast<uint64_t>(r));
      }
    }
    if (c.rh_got == sizeof(ffr_peer_hdr) && c.pay_left == 0) {
      c.rh_got = 0;
      if (!end_frame(c, now, why)) return false;
    }
  }
}

// Bytes of payload that came in with the staging buffer.
void DataPlane::place_bytes(PeerConn& c, const uint8_t* src, uint32_t n) {
  if (c.into_small) {
    std::memcpy(c.small + (c.rh.len - c.pay_left), src, n);
    c.pay_left -= n;
    return;
  }
  if (c.dst_i < c.dst.size()) {
    uint64_t left = n;
    std::vector<Seg> from{{const_cast<uint8_t*>(src), n}}, to;
    uint64_t off = c.dst_off;
    for (size_t i = c.dst_i; i < c.dst.size() && left > 0; i++) {
      const uint64_t len = std::min(c.dst[i].len - off, left);
      to.push_back({c.dst[i].p + off, len});
      left -= len;
      off = 0;
    }
    if (guarded_copy(from, to) != Fault::kNone) {
      c.copy_failed = true;
      c.dst.clear();
      c.dst_i = 0;
      c.pay_left -= n;
      return;
    }
  }
  advance_dst(c, n);
}

void DataPlane::advance_dst(PeerConn& c, uint64_t n) {
  c.pay_left -= static_cast<uint32_t>(n);
  if (c.into_small) return;
  while (n > 0 && c.dst_i < c.dst.size()) {
    const uint64_t take = std::min(c.dst[c.dst_i].len - c.dst_off, n);
    c.dst_off += take;
    n -= take;
    if (c.dst_off == c.dst[c.dst_i].len) {
      c.dst_i++;
      c.dst_off = 0;
    }
  }
}

}  // namespace ffr
