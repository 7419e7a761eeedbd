// Completion queue writes, CQ event notification, QP state changes and flush.
#include <infiniband/verbs.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "dataplane.h"
#include "ring.h"

namespace ffr {
namespace {

// Retry interval for a QP waiting on CQ room (next_timer stretches it while
// the thread sleeps).
constexpr uint64_t kResourceWaitNs = 20000;


}  // namespace

// The completion opcode a requester sees for its work request.
uint32_t wc_opcode_of(uint32_t wr_opcode) {
  switch (wr_opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM:
      return IBV_WC_RDMA_WRITE;
    case IBV_WR_RDMA_READ:
      return IBV_WC_RDMA_READ;
    case IBV_WR_ATOMIC_CMP_AND_SWP:
      return IBV_WC_COMP_SWAP;
    case IBV_WR_ATOMIC_FETCH_AND_ADD:
      return IBV_WC_FETCH_ADD;
    default:
      return IBV_WC_SEND;
  }
}

bool DataPlane::cq_room(const Cq& cq) const {
  // A cons ahead of prod, or more than entries behind, is a lying shim: the
  // unsigned difference is then >= entries and the CQ counts as full.
  const uint32_t used = cq.prod - load_acquire(&cq.hdr->cons);
  return used < cq.entries && cq.reserved < cq.entries - used;
}

bool DataPlane::cq_push(Cq& cq, const ffr_cqe& e, bool solicited) {
  // Room counts the slots held for peer messages; their own completion
  // releases its hold (reserved--) just before calling us.
  if (!cq_room(cq)) return false;
  std::memcpy(&cq.slots[cq.prod & (cq.entries - 1)], &e, sizeof(e));
  const bool sol = solicited || e.status != IBV_WC_SUCCESS;
  // An arming made before this entry can be seen belongs to it: taken before
  // publishing, as an HCA takes it when it writes the CQE. Taken only after,
  // an app that polls the entry and arms again first would find its new
  // arming merged into the old one: two armings, one event.
  bool fired = take_arm(cq, sol);
  cq.prod++;
  store_release(&cq.hdr->prod, cq.prod);
  auto sit = t_.sessions.find(cq.sid);
  if (sit != t_.sessions.end() && e.status < kNumWcStatus) sit->second->stats.completions[e.status]++;
  if (!fired) {
    // prod must be visible before we read armed again, pairing with the
    // shim's store(armed); fence; read(prod) in req_notify_cq: one of us
    // sees the other, so an arming racing this entry is never missed.
    fence_seq_cst();
    fired = take_arm(cq, sol);
  }
  if (fired) fire(cq);
  return true;
}

// Consumes the CQ's arming if an entry of this kind satisfies it. The shim
// may fire the same arming itself (req_notify_cq on entries already there):
// exactly one cmpxchg wins.
bool DataPlane::take_arm(Cq& cq, bool solicited_or_error) {
  const uint32_t armed = load_acquire(&cq.hdr->armed);
  if (armed == FFR_CQ_DISARMED) return false;
  if (armed != FFR_CQ_ARM_NEXT && !(armed == FFR_CQ_ARM_SOLICITED && solicited_or_error)) return false;
  return cmpxchg(&cq.hdr->armed, armed, FFR_CQ_DISARMED);
}

// Count, then wake: the shim reads the count after the wake-up.
void DataPlane::fire(Cq& cq) {
  atomic_inc(&cq.hdr->events);
  if (cq.channel) cq.channel->signal();
}

void DataPlane::set_state(Qp& qp, uint32_t state) {
  qp.state = state;
  if (qp.remote && (state == FFR_QPS_ERR || state == FFR_QPS_RESET)) {
    rx_abort(qp);
    RemoteState& rs = *qp.remote;
    // What was in flight is flushed from sq_cons by flush_qp.
    rs.inflight.clear();
    rs.sq_sent = qp.sq_cons;
    rs.tx_off = 0;
    rs.stopped = false;
    rs.timer_on = false;
    rs.probing = false;
    rs.probe_sent = false;
    if (state == FFR_QPS_RESET) qp.remote.reset();
  }
  // Head-WR timers belong to the state that set them; a stale one would make
  // the sleeper's timeout point into the past forever.
  qp.wait = Wait::kNone;
  qp.rnr_used = 0;
  qp.head_off = 0;  // a head WR cut in chunks is flushed whole
  if (state == FFR_QPS_RESET) {
    qp.cqe_pending = false;
    qp.has_head_flush_status = false;
  }
  store_release(&qp.sq_hdr->qp_state, state);
}

void DataPlane::discard_rings(Qp& qp) {
  qp.sq_cons = load_acquire(&qp.sq_hdr->prod);
  store_release(&qp.sq_hdr->cons, qp.sq_cons);
  if (qp.rq.hdr != nullptr) {
    qp.rq.cons = load_acquire(&qp.rq.hdr->prod);
    store_release(&qp.rq.hdr->cons, qp.rq.cons);
  }
}

RecvRing* DataPlane::recv_ring(Qp& dst) { return dst.srq ? &dst.srq->ring : (dst.rq.hdr ? &dst.rq : nullptr); }

bool DataPlane::peek_rwqe(RecvRing& r, uint8_t* buf) {
  const uint32_t prod = load_acquire(&r.hdr->prod);
  if (prod == r.cons) return false;
  // More outstanding than the ring holds: forget the excess instead of
  // reading slots twice.
  if (prod - r.cons > r.entries) r.cons = prod - r.entries;
  std::memcpy(buf, r.slots + static_cast<size_t>(r.cons & (r.entries - 1)) * r.stride, r.stride);
  return true;
}

void DataPlane::pop_rwqe(RecvRing& r) {
  r.cons++;
  store_release(&r.hdr->cons, r.cons);
}

bool DataPlane::flush_qp(Qp& qp, uint64_t now) {
  bool work = false, blocked = false;
  if (qp.cqe_pending) {
    if (!cq_push(*qp.send_cq, qp.pending_cqe, false)) {
      qp.wait = Wait::kResource;
      qp.wait_until_ns = now + kResourceWaitNs;
      return false;
    }
    qp.cqe_pending = false;  // its SQ slot was released when the WR finished
    work = true;
  }
  uint32_t prod = load_acquire(&qp.sq_hdr->prod);
  if (prod - qp.sq_cons > qp.sq_entries) qp.sq_cons = prod - qp.sq_entries;
  for (uint32_t n = 0; prod != qp.sq_cons && n < max_batch_; n++) {
    if (!cq_room(*qp.send_cq)) {
      blocked = true;
      break;
    }
    ffr_swqe w;
    std::memcpy(&w, qp.sq_slots + static_cast<size_t>(qp.sq_cons & (qp.sq_entries - 1)) * qp.sq_stride, sizeof(w));
    ffr_cqe e{};
    e.wr_id = w.wr_id;
    e.status = qp.has_head_flush_status ? qp.head_flush_status : static_cast<uint32_t>(IBV_WC_WR_FLUSH_ERR);
    qp.has_head_flush_status = false;
    e.opcode = wc_opcode_of(w.opcode);
    e.qp_num = qp.qpn;
    // Slot released before the CQE shows, as in process_sq.
    qp.sq_cons++;
    store_release(&qp.sq_hdr->cons, qp.sq_cons);
    cq_push(*qp.send_cq, e, false);  // room checked above
    work = true;
  }
  if (qp.rq.hdr != nullptr) {
    alignas(16) uint8_t buf[sizeof(ffr_rwqe) + sizeof(ffr_sge) * FFR_MAX_SGE];
    for (uint32_t n = 0; n < max_batch_; n++) {
      if (load_acquire(&qp.rq.hdr->prod) == qp.rq.cons) break;
      if (!cq_room(*qp.recv_cq)) {
        blocked = true;
        break;
      }
      // prod is read again inside: a shim that moved it back meanwhile must
      // not make us complete (and pop) a WQE that was never copied into buf.
      if (!peek_rwqe(qp.rq, buf)) break;
      ffr_rwqe w;
      std::memcpy(&w, buf, sizeof(w));
      ffr_cqe e{};
      e.wr_id = w.wr_id;
      e.status = IBV_WC_WR_FLUSH_ERR;
      e.opcode = IBV_WC_RECV;
      e.qp_num = qp.qpn;
      pop_rwqe(qp.rq);
      cq_push(*qp.recv_cq, e, false);  // room checked above
      work = true;
    }
  }
  if (blocked) {
    qp.wait = Wait::kResource;
    qp.wait_until_ns = now + kResourceWaitNs;
  } else {
    qp.wait = Wait::kNone;
  }
  return work;
}

}  // namespace ffr
