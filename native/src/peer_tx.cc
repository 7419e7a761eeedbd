// The requester side of QPs whose peer is on another host: WRs become
// frames (segmented so other QPs' frames interleave), RC messages stay in
// flight until acknowledged, and completions are written in SQ order.
#include <infiniband/verbs.h>

#include <cstring>

#include "addr.h"
#include "dataplane.h"
#include "ring.h"

namespace ffr {
namespace {

// Queued bytes per connection before requesters wait: enough to keep a
// socket busy, small enough that a new small message is not far behind.
constexpr uint64_t kTxQueueCap = 4u << 20;

// Room to wait for (send CQ, connection queue): retried like a CQ-room wait.
void wait_room(Qp& qp, uint64_t now) {
  qp.wait = Wait::kResource;
  qp.wait_until_ns = now + 20000;
}

uint32_t peer_op_of(uint32_t wr_opcode) {
  switch (wr_opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM:
      return FFR_PEER_WRITE;
    case IBV_WR_RDMA_READ:
      return FFR_PEER_READ_REQ;
    case IBV_WR_ATOMIC_CMP_AND_SWP:
    case IBV_WR_ATOMIC_FETCH_AND_ADD:
      return FFR_PEER_ATOMIC_REQ;
    default:
      return FFR_PEER_SEND;
  }
}

}  // namespace

uint64_t DataPlane::rc_timeout_ns(const Qp& qp) { return qp.timeout == 0 ? 0 : 4096ull << qp.timeout; }

// Go back to the oldest unacknowledged WR: everything after it is sent again.
void DataPlane::rewind(Qp& qp) {
  if (!qp.remote) return;
  RemoteState& rs = *qp.remote;
  if (rs.inflight.empty()) {
    rs.tx_off = 0;
    rs.probe_sent = false;
    return;
  }
  rewind_to(qp, rs.inflight.begin());
}

void DataPlane::rewind_to(Qp& qp, std::deque<InFlight>::iterator from) {
  RemoteState& rs = *qp.remote;
  rs.probe_sent = false;  // a probe lost with its connection is asked again
  // Acknowledged entries before `from` still complete; `from` and after
  // are forgotten and framed again from the ring.
  rs.sq_sent = from->slot;
  rs.next_psn = from->psn;
  rs.tx_off = 0;
  rs.inflight.erase(from, rs.inflight.end());
  if (Peer* p = t_.peers.count(qp.peer) ? t_.peers[qp.peer].get() : nullptr) p->retransmits++;
}

// The WR `e` failed: it completes with `status` once it is the head, and
// the QP sends nothing more (it goes to ERR when that completion is written).
void DataPlane::fail_from(Qp& qp, std::deque<InFlight>::iterator e, uint32_t status) {
  RemoteState& rs = *qp.remote;
  e->acked = true;
  e->status = status;
  rs.sq_sent = e->slot + 1;
  rs.next_psn = e->psn + 1;
  rs.tx_off = 0;
  rs.inflight.erase(e + 1, rs.inflight.end());
  rs.stopped = true;
}

// The oldest unacknowledged WR fails: one in flight, or else the next one
// to send (rewound, or never sent because the link is dead; its slot is
// still in the ring, nothing completed it).
void DataPlane::fail_head(Qp& qp, uint32_t status) {
  RemoteState& rs = *qp.remote;
  for (auto it = rs.inflight.begin(); it != rs.inflight.end(); ++it)
    if (!it->acked) return fail_from(qp, it, status);
  ffr_swqe w;
  std::memcpy(&w, qp.sq_slots + static_cast<size_t>(rs.sq_sent & (qp.sq_entries - 1)) * qp.sq_stride, sizeof(w));
  InFlight e;
  e.psn = rs.next_psn;
  e.slot = rs.sq_sent;
  e.wr_id = w.wr_id;
  e.opcode = w.opcode;
  rs.inflight.push_back(std::move(e));
  fail_from(qp, rs.inflight.end() - 1, status);
}

// Builds the frames of one UD datagram to another host; unreliable, so it
// is complete once queued (or dropped when there is no connection).
void DataPlane::send_ud_remote(Qp& qp, const Ah& ah, const ffr_swqe& w, const std::vector<Seg>& src, uint64_t len,
                               const uint8_t* inline_data) {
  PeerConn* c = conn_for(ah.peer, flow_of(qp));
  count(qp.sid, len, 0, 1, 0);
  if (c == nullptr) return;
  TxFrame f;
  // The AH may be global only: our GIDs carry the LID in their last bytes.
  const uint32_t dlid = ah.dlid != 0 ? ah.dlid : (ah.dgid[14] << 8 | ah.dgid[15]);
  f.hdr = request_hdr(qp, FFR_PEER_SEND, w.ud_remote_qpn & 0xffffff, dlid, 0);
  f.hdr.qkey = (w.ud_remote_qkey & 0x80000000u) != 0 ? qp.qkey : w.ud_remote_qkey;
  f.hdr.msg_len = static_cast<uint32_t>(len);
  f.hdr.len = static_cast<uint32_t>(len);
  f.hdr.flags = static_cast<uint8_t>((w.opcode == IBV_WR_SEND_WITH_IMM ? FFR_PF_IMM : 0) |
                                     ((w.send_flags & IBV_SEND_SOLICITED) ? FFR_PF_SOLICITED : 0) |
                                     (ah.is_global ? FFR_PF_GLOBAL : 0));
  f.hdr.imm = w.imm_data;
  if (inline_data != nullptr) {
    f.own.assign(inline_data, inline_data + len);
  } else {
    f.mem = src;
    refs_of(seg_a_mrs_, &f.refs);
  }
  enqueue(*c, std::move(f));
}

// Keeps the MRs behind a gathered list mapped while frames refer to them
// (a WR names a few MRs, often one MR several times).
void DataPlane::refs_of(const std::vector<Mr*>& mrs, std::vector<std::shared_ptr<Mr>>* refs) {
  refs->clear();
  for (size_t i = 0; i < mrs.size(); i++) {
    if (i > 0 && mrs[i] == mrs[i - 1]) continue;
    if (auto r = mr_ref(mrs[i])) refs->push_back(std::move(r));
  }
}

// The header of a request this QP sends: addressing and type; the caller
// adds what the operation needs.
ffr_peer_hdr DataPlane::request_hdr(const Qp& qp, uint32_t op, uint32_t dst_qpn, uint32_t dst_lid, uint32_t psn) {
  ffr_peer_hdr h{};
  h.op = static_cast<uint8_t>(op);
  h.code = static_cast<uint16_t>(qp.type);
  h.tenant = qp.tenant;
  h.src_qpn = qp.qpn;
  h.dst_qpn = dst_qpn;
  h.psn = psn;
  h.src_lid = static_cast<uint16_t>(qp.lid);
  h.dst_lid = static_cast<uint16_t>(dst_lid);
  return h;
}

bool DataPlane::complete_remote_head(Qp& qp, uint64_t now, bool may_wait) {
  RemoteState& rs = *qp.remote;
  bool work = false;
  while (!rs.inflight.empty() && rs.inflight.front().acked) {
    InFlight& e = rs.inflight.front();
    const bool failed = e.status != IBV_WC_SUCCESS;
    const bool cqe = failed || e.signaled || qp.sq_sig_all;
    if (cqe && !cq_room(*qp.send_cq)) {
      if (may_wait) wait_room(qp, now);
      return work;
    }
    ffr_cqe c{};
    c.wr_id = e.wr_id;
    c.status = e.status;
    c.opcode = wc_opcode_of(e.opcode);
    c.byte_len = e.len;
    c.qp_num = qp.qpn;
    const bool reply_in = e.opcode == IBV_WR_RDMA_READ || e.opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
                          e.opcode == IBV_WR_ATOMIC_FETCH_AND_ADD;
    if (!failed) count(qp.sid, reply_in ? 0 : e.len, reply_in ? e.len : 0, 1, 0);
    rs.inflight.pop_front();
    // Slot released before the CQE shows (see process_sq).
    qp.sq_cons++;
    store_release(&qp.sq_hdr->cons, qp.sq_cons);
    if (cqe) cq_push(*qp.send_cq, c, false);
    work = true;
    if (failed) {
      count(qp.sid, 0, 0, 1, 0);
      set_state(qp, FFR_QPS_ERR);
      return true;
    }
  }
  return work;
}

bool DataPlane::process_remote(Qp& qp, uint64_t now) {
  RemoteState& rs = remote_of(qp);
  bool work = false;
  if (!write_pending_cqe(qp, now, &work)) return false;
  if (qp.state != FFR_QPS_RTS) return work;
  const bool rc = qp.type == IBV_QPT_RC;
  const bool capped = qp.wait == Wait::kThrottle;
  PeerConn* c = conn_for(qp.peer, flow_of(qp));
  if (rc) {
    work |= complete_remote_head(qp, now);
    if (qp.state != FFR_QPS_RTS) return true;
    const uint64_t t = rc_timeout_ns(qp);
    const uint32_t posted = load_acquire(&qp.sq_hdr->prod);
    if (posted == qp.sq_cons) {
      rs.timer_on = false;
    } else if (!rs.timer_on) {
      rs.timer_on = true;
      rs.ack_deadline_ns = now + t;
    }
    // Nothing on the fabric, the head held by a rate cap here: the timer
    // measures the fabric, so it starts when the head is sent.
    if (capped && rs.inflight.empty()) rs.ack_deadline_ns = now + t;
    const bool head_done = !rs.inflight.empty() && rs.inflight.front().acked;
    // (now is the sweep's start: the connection may have moved since.)
    if (rs.timer_on && t != 0 && now >= rs.ack_deadline_ns && c != nullptr && !c->txq.empty() &&
        now < c->tx_progress_ns + t) {
      // Our own queue is still draining into a live socket: the head may
      // not even be on the wire yet. The RC timer measures the fabric, not
      // local congestion, so it starts over.
      rs.ack_deadline_ns = now + t;
    }
    if (rs.timer_on && t != 0 && now >= rs.ack_deadline_ns && !head_done && qp.wait != Wait::kRnr) {
      // The transport timer: nothing acknowledged in time (or nothing could
      // even be sent). Retry from the oldest WR, at most retry_cnt times,
      // then the oldest completes with RETRY_EXC_ERR.
      if (rs.retries >= qp.retry_cnt) {
        fail_head(qp, IBV_WC_RETRY_EXC_ERR);
        return complete_remote_head(qp, now) || true;
      }
      rs.retries++;
      rewind(qp);
      rs.ack_deadline_ns = now + t;
      work = true;
    }
    if (qp.wait == Wait::kRnr && now < qp.wait_until_ns) return work;
    if (qp.wait == Wait::kRnr) qp.wait = Wait::kNone;
  }
  if (qp.wait == Wait::kThrottle) {
    if (now < qp.wait_until_ns) return work;
    qp.wait = Wait::kNone;
  }
  if (rs.stopped) return work;
  if (rs.probing) {
    if (!rs.probe_sent && c != nullptr) {
      TxFrame f;
      f.hdr = request_hdr(qp, FFR_PEER_PROBE, qp.dest_qpn, qp.dlid, rs.next_psn);
      enqueue(*c, std::move(f));
      rs.probe_sent = true;
      work = true;
    }
    return work;
  }
  alignas(16) uint8_t buf[kMaxSqStride];
  for (uint32_t n = 0; n < max_batch_ && sweep_bytes_ < kSweepByteBudget; n++) {
    const uint32_t prod = load_acquire(&qp.sq_hdr->prod);
    if (prod - qp.sq_cons > qp.sq_entries) {
      // A lying shim: forget the excess, as process_sq does.
      qp.sq_cons = prod - qp.sq_entries;
      if (psn_before(rs.sq_sent, qp.sq_cons)) rs.sq_sent = qp.sq_cons;
    }
    if (rs.sq_sent == prod) break;
    if (c != nullptr && c->tx_bytes >= kTxQueueCap) {
      wait_room(qp, now);
      break;
    }
    std::memcpy(buf, qp.sq_slots + static_cast<size_t>(rs.sq_sent & (qp.sq_entries - 1)) * qp.sq_stride,
                qp.sq_stride);
    ffr_swqe w;
    std::memcpy(&w, buf, sizeof(w));
    uint64_t len = 0;
    const uint8_t* inline_data = nullptr;
    const uint32_t st = prepare_wr(qp, w, buf + sizeof(ffr_swqe), &len, &inline_data);
    const bool signaled = qp.sq_sig_all || (w.send_flags & IBV_SEND_SIGNALED) != 0;
    if (st != IBV_WC_SUCCESS) {
      if (rc) {
        InFlight e;
        e.psn = rs.next_psn++;
        e.slot = rs.sq_sent++;
        e.wr_id = w.wr_id;
        e.opcode = w.opcode;
        e.acked = true;
        e.status = st;
        rs.inflight.push_back(std::move(e));
        rs.stopped = true;
        complete_remote_head(qp, now);
      } else {
        uc_complete(qp, w, st, now);
      }
      return true;
    }
    const uint32_t op = peer_op_of(w.opcode);
    const bool data = op == FFR_PEER_SEND || op == FFR_PEER_WRITE;
    // The scheduler charges each segment as it enters the connection, the
    // caps a new message before its first; READs (their response bytes)
    // and atomics are charged to the requester.
    const uint64_t first = data ? std::min<uint64_t>(FFR_PEER_SEG, len - rs.tx_off) : op == FFR_PEER_ATOMIC_REQ ? 8 : len;
    const uint64_t first_cost = first + (rs.tx_off == 0 ? kWrCost : 0);
    if (!sched_admit(qp, first_cost)) break;
    if (rs.tx_off == 0 && throttled(qp, op == FFR_PEER_ATOMIC_REQ ? 8 : len, now)) {
      sched_refund(qp, first_cost);
      break;
    }
    std::vector<std::shared_ptr<Mr>> wr_refs;
    refs_of(seg_a_mrs_, &wr_refs);
    // Frame the message, a segment at a time; a full connection queue
    // leaves the rest (tx_off) for the next sweep.
    bool admitted = true;  // the first segment was, above
    do {
      const uint64_t seg = data ? std::min<uint64_t>(FFR_PEER_SEG, len - rs.tx_off) : 0;
      if (!admitted && !sched_admit(qp, seg)) break;
      admitted = false;
      if (c != nullptr) {
        TxFrame f;
        f.hdr = request_hdr(qp, op, qp.dest_qpn, qp.dlid, rs.next_psn);
        f.hdr.msg_len = static_cast<uint32_t>(len);
        f.hdr.offset = static_cast<uint32_t>(rs.tx_off);
        f.hdr.rkey = w.rkey;
        f.hdr.raddr = w.remote_addr;
        f.hdr.imm = w.imm_data;
        f.hdr.flags = static_cast<uint8_t>(
            (w.opcode == IBV_WR_SEND_WITH_IMM || w.opcode == IBV_WR_RDMA_WRITE_WITH_IMM ? FFR_PF_IMM : 0) |
            ((w.send_flags & IBV_SEND_SOLICITED) ? FFR_PF_SOLICITED : 0) |
            (w.opcode == IBV_WR_ATOMIC_CMP_AND_SWP ? FFR_PF_CAS : 0));
        if (op == FFR_PEER_ATOMIC_REQ) {
          ffr_peer_atomic a{};
          a.compare_add = w.compare_add;
          a.swap = w.swap;
          std::memcpy(f.small, &a, sizeof(a));
          f.small_len = sizeof(a);
          f.hdr.len = sizeof(a);
          f.hdr.msg_len = 8;
        } else if (data) {
          f.hdr.len = static_cast<uint32_t>(seg);
          if (inline_data != nullptr) {
            f.own.assign(inline_data + rs.tx_off, inline_data + rs.tx_off + seg);
          } else {
            slice_into(seg_a_, rs.tx_off, seg, &f.mem);
            f.refs = wr_refs;
          }
        }
        enqueue(*c, std::move(f));
      }
      rs.tx_off += seg;
      sweep_bytes_ += seg;
    } while (data && rs.tx_off < len && (c == nullptr || c->tx_bytes < kTxQueueCap));
    work = true;
    if (data && rs.tx_off < len) break;  // the rest next sweep
    rs.tx_off = 0;
    if (rc) {
      InFlight e;
      e.psn = rs.next_psn;
      e.slot = rs.sq_sent;
      e.wr_id = w.wr_id;
      e.opcode = w.opcode;
      e.len = static_cast<uint32_t>(len);
      e.signaled = signaled;
      if (!data) {
        e.local = seg_a_;
        e.refs = wr_refs;
      }
      rs.inflight.push_back(std::move(e));
      rs.next_psn++;
      rs.sq_sent++;
    } else {
      rs.next_psn++;
      rs.sq_sent++;
      uc_complete(qp, w, IBV_WC_SUCCESS, now);
      count(qp.sid, len, 0, 1, 0);
      if (qp.state != FFR_QPS_RTS || qp.cqe_pending) break;
    }
  }
  return work;
}

// UC completes at the requester as soon as the message is handed on.
void DataPlane::uc_complete(Qp& qp, const ffr_swqe& w, uint32_t status, uint64_t now) {
  const bool failed = status != IBV_WC_SUCCESS;
  qp.sq_cons++;
  if (qp.remote) qp.remote->sq_sent = qp.sq_cons;
  store_release(&qp.sq_hdr->cons, qp.sq_cons);
  if (!failed && !qp.sq_sig_all && (w.send_flags & IBV_SEND_SIGNALED) == 0) return;
  ffr_cqe e{};
  e.wr_id = w.wr_id;
  e.status = status;
  e.opcode = wc_opcode_of(w.opcode);
  e.qp_num = qp.qpn;
  if (!cq_push(*qp.send_cq, e, false)) {
    qp.pending_cqe = e;
    qp.cqe_pending = true;
    qp.pending_to_err = failed;
    wait_room(qp, now);
    return;
  }
  if (failed) set_state(qp, FFR_QPS_ERR);
}

}  // namespace ffr
