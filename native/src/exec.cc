// Work-request execution: validation of a copied send WQE, destination
// resolution, the transfer itself, RC retry/RNR timing and the requester's
// completion. Runs on the data-plane thread under the lock.
#include <infiniband/verbs.h>

#include <cstring>

#include "addr.h"
#include "dataplane.h"
#include "fault_guard.h"
#include "ring.h"

namespace ffr {

struct DataPlane::Exec {
  bool done = true;  // false: the head WR waits; the QP's timer (or its deficit) says until when
  bool more = false; // a chunk of the head WR went; the next one is due (qp.head_off)
  uint32_t status = IBV_WC_SUCCESS;
  uint32_t byte_len = 0;
};

namespace {

using Exec = DataPlane::Exec;

constexpr uint32_t kMaxRqStride = sizeof(ffr_rwqe) + sizeof(ffr_sge) * FFR_MAX_SGE;
// Retry interval when `timeout` is 0 (no transport timer = retry forever).
constexpr uint64_t kInfiniteRetryPollNs = 10000000;

Exec done(uint32_t status, uint64_t len = 0) {
  Exec e;
  e.status = status;
  e.byte_len = static_cast<uint32_t>(len);
  return e;
}

Exec waiting() {
  Exec e;
  e.done = false;
  return e;
}

Exec more() {
  Exec e;
  e.done = false;
  e.more = true;
  return e;
}

}  // namespace

// IB spec table 45 (min RNR NAK timer field), in nanoseconds.
uint64_t rnr_timer_ns(uint32_t code) {
  static const uint32_t us100[32] = {65536, 1,   2,   3,   4,    6,    8,    12,   16,   24,   32,
                                     48,    64,  96,  128, 192,  256,  384,  512,  768,  1024, 1536,
                                     2048,  3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152};
  return static_cast<uint64_t>(us100[code & 31]) * 10000;
}

namespace {


// A global address matches by GID; the LID also matches, because IB-link apps
// that pass -g still fill dlid and routers may format GIDs differently.
bool addr_matches(const Qp& d, uint32_t tenant, uint32_t dlid, bool global, const uint8_t* dgid) {
  if (d.tenant != tenant) return false;
  if (global) {
    uint8_t g[16];
    port_gid(d.tenant, d.lid, g);
    if (std::memcmp(g, dgid, 16) == 0) return true;
  }
  return dlid != 0 && d.lid == dlid;
}


}  // namespace

void DataPlane::count(uint32_t sid, uint64_t bytes_out, uint64_t bytes_in, uint64_t wrs_out, uint64_t wrs_in) {
  auto it = t_.sessions.find(sid);
  if (it == t_.sessions.end()) return;
  SessionStats& s = it->second->stats;
  s.bytes_out += bytes_out;
  s.bytes_in += bytes_in;
  s.wrs_out += wrs_out;
  s.wrs_in += wrs_in;
  sweep_bytes_ += bytes_out + bytes_in;
}

void DataPlane::scatter_copy(const std::vector<Seg>& src, const std::vector<Seg>& dst) {
  size_t si = 0;
  uint64_t soff = 0;
  uint64_t left = 0;
  for (const Seg& s : src) left += s.len;
  auto pull = [&](uint8_t* to, uint64_t n) {
    while (n > 0) {
      const Seg& s = src[si];
      uint64_t take = s.len - soff < n ? s.len - soff : n;
      // memmove: source and destination may be the same registered region.
      std::memmove(to, s.p + soff, take);
      to += take;
      n -= take;
      soff += take;
      if (soff == s.len) {
        si++;
        soff = 0;
      }
    }
  };
  for (const Seg& d : dst) {
    if (left == 0) break;
    uint64_t n = d.len < left ? d.len : left;
    pull(d.p, n - 1);
    uint8_t last;
    pull(&last, 1);
    // Poll-on-memory readers spin on the last byte: it must land after the rest.
    fence_release();
    __atomic_store_n(d.p + n - 1, last, __ATOMIC_RELAXED);
    left -= n;
  }
}

namespace {

struct CopyArgs {
  const std::vector<DataPlane::Seg>* src;
  const std::vector<DataPlane::Seg>* dst;
};

struct AtomicArgs {
  uint64_t* target;
  bool cas;
  uint64_t compare_add, swap, orig;
};

void atomic_thunk(void* p) {
  auto* a = static_cast<AtomicArgs*>(p);
  if (a->cas) {
    a->orig = a->compare_add;
    // On failure orig receives the current value; on success it already is it.
    __atomic_compare_exchange_n(a->target, &a->orig, a->swap, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  } else {
    a->orig = __atomic_fetch_add(a->target, a->compare_add, __ATOMIC_SEQ_CST);
  }
}

}  // namespace

bool DataPlane::atomic_at(uint8_t* p, bool cas, uint64_t compare_add, uint64_t swap, uint64_t* orig) {
  AtomicArgs a{reinterpret_cast<uint64_t*>(p), cas, compare_add, swap, 0};
  const void* fault = nullptr;
  if (!run_guarded(atomic_thunk, &a, &fault)) return false;
  *orig = a.orig;
  return true;
}

DataPlane::Fault DataPlane::guarded_copy(const std::vector<Seg>& src, const std::vector<Seg>& dst) {
  CopyArgs args{&src, &dst};
  const void* addr = nullptr;
  if (run_guarded([](void* p) { auto* a = static_cast<CopyArgs*>(p); scatter_copy(*a->src, *a->dst); }, &args, &addr))
    return Fault::kNone;
  const auto* b = static_cast<const uint8_t*>(addr);
  for (const Seg& d : dst)
    if (b >= d.p && b < d.p + d.len) return Fault::kDst;
  return Fault::kSrc;
}

int DataPlane::gather_local(uint32_t sid, uint32_t pd, const uint8_t* sges, uint32_t n, bool write,
                            std::vector<Seg>* out, uint64_t* total, std::vector<Mr*>* mrs) {
  out->clear();
  if (mrs != nullptr) mrs->clear();
  *total = 0;
  for (uint32_t i = 0; i < n; i++) {
    ffr_sge s;
    std::memcpy(&s, sges + i * sizeof(ffr_sge), sizeof(s));
    if (s.length == 0) continue;
    auto it = t_.mr_by_key.find(s.lkey);
    if (it == t_.mr_by_key.end()) return IBV_WC_LOC_PROT_ERR;
    const Mr& m = *it->second;
    if (m.sid != sid || m.pd != pd) return IBV_WC_LOC_PROT_ERR;
    if (write && !(m.access & IBV_ACCESS_LOCAL_WRITE)) return IBV_WC_LOC_PROT_ERR;
    if (s.addr < m.addr || s.length > m.length || s.addr - m.addr > m.length - s.length) return IBV_WC_LOC_PROT_ERR;
    out->push_back({m.base + (s.addr - m.addr), s.length});
    if (mrs != nullptr) mrs->push_back(it->second);
    *total += s.length;
  }
  return 0;
}

Mr* DataPlane::remote_mr(const Qp& dst, uint32_t rkey, uint64_t addr, uint64_t len, uint32_t need) {
  auto it = t_.mr_by_key.find(rkey);
  if (it == t_.mr_by_key.end()) return nullptr;
  Mr* m = it->second;
  // The key alone proves nothing: it must belong to the target QP's own PD
  // (hence session and tenant) and allow this access, as must the QP.
  if (m->sid != dst.sid || m->pd != dst.pd) return nullptr;
  if ((m->access & need) != need || (dst.access_flags & need) != need) return nullptr;
  if (addr < m->iova || len > m->length || addr - m->iova > m->length - len) return nullptr;
  return m;
}

Qp* DataPlane::connected_peer(const Qp& qp) {
  auto it = t_.qp_by_qpn.find(qp.dest_qpn);
  if (it == t_.qp_by_qpn.end()) return nullptr;
  Qp* d = it->second;
  if (d->type != qp.type || !addr_matches(*d, qp.tenant, qp.dlid, qp.is_global, qp.dgid)) return nullptr;
  // A connected responder only accepts its own peer.
  if (!receives(*d) || d->dest_qpn != qp.qpn) return nullptr;
  return d;
}

Exec DataPlane::wait_resource(Qp& qp, uint64_t now) {
  qp.wait = Wait::kResource;
  qp.wait_until_ns = now + 20000;
  return waiting();
}

Exec DataPlane::rc_retry(Qp& qp, uint64_t now) {
  if (qp.timeout == 0) {
    qp.wait = Wait::kRetry;
    qp.wait_until_ns = now + kInfiniteRetryPollNs;
    return waiting();
  }
  const uint64_t t = 4096ull << qp.timeout;
  if (qp.wait != Wait::kRetry) qp.retry_deadline_ns = now + (qp.retry_cnt + 1ull) * t;
  if (now >= qp.retry_deadline_ns) return done(IBV_WC_RETRY_EXC_ERR);
  qp.wait = Wait::kRetry;
  qp.wait_until_ns = now + t < qp.retry_deadline_ns ? now + t : qp.retry_deadline_ns;
  return waiting();
}

Exec DataPlane::rnr(Qp& qp, const Qp& dst, uint64_t now) {
  if (qp.rnr_retry != 7 && qp.rnr_used >= qp.rnr_retry) return done(IBV_WC_RNR_RETRY_EXC_ERR);
  qp.rnr_used++;
  qp.wait = Wait::kRnr;
  qp.wait_until_ns = now + rnr_timer_ns(dst.min_rnr_timer);
  return waiting();
}

// The responder found its receive WQE unusable: it completes that WQE in
// error and goes to ERR; an RC requester learns it by a NAK.
Exec DataPlane::recv_error(Qp& qp, Qp& dst, RecvRing& rr, uint64_t wr_id, uint32_t status) {
  pop_rwqe(rr);
  ffr_cqe e{};
  e.wr_id = wr_id;
  e.status = status;
  e.opcode = IBV_WC_RECV;
  e.qp_num = dst.qpn;
  e.src_qp = qp.qpn;
  cq_push(*dst.recv_cq, e, true);  // room was checked before the WQE was taken
  set_state(dst, FFR_QPS_ERR);
  if (qp.type != IBV_QPT_RC) return done(IBV_WC_SUCCESS);
  return done(status == IBV_WC_LOC_LEN_ERR ? IBV_WC_REM_INV_REQ_ERR : IBV_WC_REM_OP_ERR);
}

Exec DataPlane::exec_send(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& src, uint64_t len,
                          const Ah* ah, uint64_t now) {
  RecvRing* rr = recv_ring(*dst);
  if (!cq_room(*dst->recv_cq)) return wait_resource(qp, now);
  alignas(16) uint8_t rbuf[kMaxRqStride];
  if (rr == nullptr || !peek_rwqe(*rr, rbuf)) {
    if (qp.type == IBV_QPT_RC) return rnr(qp, *dst, now);
    count(qp.sid, len, 0, 1, 0);
    return done(IBV_WC_SUCCESS, len);  // UC/UD: dropped on the floor, the sender never knows
  }
  ffr_rwqe rw;
  std::memcpy(&rw, rbuf, sizeof(rw));
  const bool ud = qp.type == IBV_QPT_UD;
  const uint64_t need = len + (ud ? FFR_UD_GRH_BYTES : 0);
  if (rw.num_sge > rr->max_sge) return recv_error(qp, *dst, *rr, rw.wr_id, IBV_WC_LOC_QP_OP_ERR);
  uint64_t cap = 0;
  const uint32_t rpd = dst->srq ? dst->srq->pd : dst->pd;
  int st = gather_local(dst->sid, rpd, rbuf + sizeof(ffr_rwqe), rw.num_sge, true, &seg_b_, &cap);
  if (st != 0) return recv_error(qp, *dst, *rr, rw.wr_id, static_cast<uint32_t>(st));
  if (cap < need) return recv_error(qp, *dst, *rr, rw.wr_id, IBV_WC_LOC_LEN_ERR);

  const std::vector<Seg>* from = &src;
  alignas(8) uint8_t grh[FFR_UD_GRH_BYTES] = {};
  if (ud) {
    if (ah->is_global) {
      grh[0] = 0x60;  // IPv6 version, traffic class 0, flow label 0
      grh[4] = static_cast<uint8_t>(len >> 8);
      grh[5] = static_cast<uint8_t>(len);
      grh[6] = 0x1b;  // next header: IBA transport
      grh[7] = 0xff;  // hop limit
      port_gid(qp.tenant, qp.lid, grh + 8);
      std::memcpy(grh + 24, ah->dgid, 16);
    }
    seg_c_.clear();
    seg_c_.push_back({grh, FFR_UD_GRH_BYTES});
    seg_c_.insert(seg_c_.end(), src.begin(), src.end());
    from = &seg_c_;
  }
  const Fault f = guarded_copy(*from, seg_b_);
  if (f == Fault::kSrc) return done(IBV_WC_LOC_PROT_ERR);  // our own buffer vanished; the WQE stays
  if (f == Fault::kDst) return recv_error(qp, *dst, *rr, rw.wr_id, IBV_WC_LOC_PROT_ERR);
  pop_rwqe(*rr);
  ffr_cqe e{};
  e.wr_id = rw.wr_id;
  e.status = IBV_WC_SUCCESS;
  e.opcode = IBV_WC_RECV;
  e.byte_len = static_cast<uint32_t>(need);
  if (w.opcode == IBV_WR_SEND_WITH_IMM) {
    e.imm_data = w.imm_data;
    e.wc_flags |= IBV_WC_WITH_IMM;
  }
  if (ud && ah->is_global) e.wc_flags |= IBV_WC_GRH;
  e.qp_num = dst->qpn;
  e.src_qp = qp.qpn;
  e.slid = static_cast<uint16_t>(qp.lid);
  e.sl = static_cast<uint8_t>(ud ? ah->sl : qp.sl);
  cq_push(*dst->recv_cq, e, (w.send_flags & IBV_SEND_SOLICITED) != 0);
  count(qp.sid, len, 0, 1, 0);
  count(dst->sid, 0, len, 0, 1);
  return done(IBV_WC_SUCCESS, len);
}

// One piece [off, off + piece) of a WRITE; the key is checked for the whole
// message at every piece (a key revoked half way fails the rest), and the
// immediate takes its receive WQE with the last piece only.
Exec DataPlane::exec_write(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& src, uint64_t len,
                           uint64_t off, uint64_t piece, uint64_t now) {
  const bool imm = w.opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
  const bool last = off + piece == len;
  Mr* mr = nullptr;
  // A zero-length write carries no key to check, as on real HCAs.
  if (len > 0) {
    mr = remote_mr(*dst, w.rkey, w.remote_addr, len, IBV_ACCESS_REMOTE_WRITE);
    if (mr == nullptr) {
      if (qp.type == IBV_QPT_RC) return done(IBV_WC_REM_ACCESS_ERR);
      count(qp.sid, len - off, 0, 1, 0);
      return done(IBV_WC_SUCCESS, len);  // UC: the responder silently drops it
    }
  }
  RecvRing* rr = nullptr;
  ffr_rwqe rw{};
  if (imm && last) {
    rr = recv_ring(*dst);
    if (!cq_room(*dst->recv_cq)) return wait_resource(qp, now);
    alignas(16) uint8_t rbuf[kMaxRqStride];
    if (rr == nullptr || !peek_rwqe(*rr, rbuf)) {
      if (qp.type == IBV_QPT_RC) return rnr(qp, *dst, now);
      count(qp.sid, piece, 0, 1, 0);
      return done(IBV_WC_SUCCESS, len);
    }
    std::memcpy(&rw, rbuf, sizeof(rw));
    if (rw.num_sge > rr->max_sge) return recv_error(qp, *dst, *rr, rw.wr_id, IBV_WC_LOC_QP_OP_ERR);
  }
  if (piece > 0) {
    seg_b_.clear();
    seg_b_.push_back({mr->base + (w.remote_addr - mr->iova) + off, piece});
    const std::vector<Seg>* from = &src;
    if (piece != len) {
      seg_c_.clear();
      slice_into(src, off, piece, &seg_c_);
      from = &seg_c_;
    }
    const Fault f = guarded_copy(*from, seg_b_);
    if (f == Fault::kSrc) return done(IBV_WC_LOC_PROT_ERR);
    if (f == Fault::kDst) {
      if (qp.type == IBV_QPT_RC) return done(IBV_WC_REM_ACCESS_ERR);
      count(qp.sid, piece, 0, 1, 0);
      return done(IBV_WC_SUCCESS, len);
    }
  }
  if (!last) {
    count(qp.sid, piece, 0, 0, 0);
    count(dst->sid, 0, piece, 0, 0);
    qp.head_off = off + piece;
    return more();
  }
  if (imm) {
    pop_rwqe(*rr);
    ffr_cqe e{};
    e.wr_id = rw.wr_id;
    e.status = IBV_WC_SUCCESS;
    e.opcode = IBV_WC_RECV_RDMA_WITH_IMM;
    e.byte_len = static_cast<uint32_t>(len);
    e.imm_data = w.imm_data;
    e.wc_flags = IBV_WC_WITH_IMM;
    e.qp_num = dst->qpn;
    e.src_qp = qp.qpn;
    e.slid = static_cast<uint16_t>(qp.lid);
    e.sl = static_cast<uint8_t>(qp.sl);
    cq_push(*dst->recv_cq, e, (w.send_flags & IBV_SEND_SOLICITED) != 0);
  }
  count(qp.sid, piece, 0, 1, 0);
  count(dst->sid, 0, piece, 0, imm ? 1 : 0);
  return done(IBV_WC_SUCCESS, len);
}

// One piece of a READ, as exec_write.
Exec DataPlane::exec_read(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& local, uint64_t len,
                          uint64_t off, uint64_t piece) {
  if (len > 0) {
    Mr* mr = remote_mr(*dst, w.rkey, w.remote_addr, len, IBV_ACCESS_REMOTE_READ);
    if (mr == nullptr) return done(IBV_WC_REM_ACCESS_ERR);
    seg_b_.clear();
    seg_b_.push_back({mr->base + (w.remote_addr - mr->iova) + off, piece});
    const std::vector<Seg>* to = &local;
    if (piece != len) {
      seg_c_.clear();
      slice_into(local, off, piece, &seg_c_);
      to = &seg_c_;
    }
    const Fault f = guarded_copy(seg_b_, *to);
    if (f == Fault::kSrc) return done(IBV_WC_REM_ACCESS_ERR);
    if (f == Fault::kDst) return done(IBV_WC_LOC_PROT_ERR);
  }
  const bool last = off + piece == len;
  count(qp.sid, 0, piece, last ? 1 : 0, 0);
  count(dst->sid, piece, 0, 0, 0);
  if (!last) {
    qp.head_off = off + piece;
    return more();
  }
  return done(IBV_WC_SUCCESS, len);
}

Exec DataPlane::exec_atomic(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& local) {
  if (local.size() != 1 || local[0].len != 8) return done(IBV_WC_LOC_LEN_ERR);
  if ((w.remote_addr & 7) != 0) return done(IBV_WC_REM_ACCESS_ERR);
  Mr* mr = remote_mr(*dst, w.rkey, w.remote_addr, 8, IBV_ACCESS_REMOTE_ATOMIC);
  if (mr == nullptr) return done(IBV_WC_REM_ACCESS_ERR);
  uint8_t* p = mr->base + (w.remote_addr - mr->iova);
  // iova alignment says nothing about where the fd offset put the bytes.
  if ((reinterpret_cast<uintptr_t>(p) & 7) != 0) return done(IBV_WC_REM_ACCESS_ERR);
  AtomicArgs a{reinterpret_cast<uint64_t*>(p), w.opcode == IBV_WR_ATOMIC_CMP_AND_SWP, w.compare_add, w.swap, 0};
  const void* fault = nullptr;
  if (!run_guarded(atomic_thunk, &a, &fault)) return done(IBV_WC_REM_ACCESS_ERR);
  const uint64_t orig = a.orig;
  seg_c_.clear();
  seg_c_.push_back({reinterpret_cast<uint8_t*>(const_cast<uint64_t*>(&orig)), 8});
  if (guarded_copy(seg_c_, local) != Fault::kNone) return done(IBV_WC_LOC_PROT_ERR);
  count(qp.sid, 0, 8, 1, 0);
  count(dst->sid, 8, 8, 0, 0);
  return done(IBV_WC_SUCCESS, 8);
}

// Checks a copied send WQE against its QP and gathers its local memory into
// seg_a_, the MR of each piece into seg_a_mrs_ (inline data: *inline_data
// points at it in the copy, and there are no MRs). Returns the
// completion status of a WR that fails here, or IBV_WC_SUCCESS.
uint32_t DataPlane::prepare_wr(Qp& qp, const ffr_swqe& w, const uint8_t* payload, uint64_t* len_out,
                               const uint8_t** inline_data) {
  const uint32_t op = w.opcode;
  *inline_data = nullptr;
  if (!ffr_opcode_allowed(qp.type, op)) return IBV_WC_LOC_QP_OP_ERR;
  const bool sendish = op == IBV_WR_SEND || op == IBV_WR_SEND_WITH_IMM || op == IBV_WR_RDMA_WRITE ||
                       op == IBV_WR_RDMA_WRITE_WITH_IMM;
  uint64_t len = 0;
  if ((w.send_flags & IBV_SEND_INLINE) != 0 && sendish) {
    if (w.inline_len > qp.max_inline || w.inline_len > qp.sq_stride - sizeof(ffr_swqe)) return IBV_WC_LOC_LEN_ERR;
    seg_a_.clear();
    seg_a_mrs_.clear();
    if (w.inline_len > 0) seg_a_.push_back({const_cast<uint8_t*>(payload), w.inline_len});
    len = w.inline_len;
    *inline_data = payload;
  } else {
    if (w.num_sge > qp.max_send_sge || sizeof(ffr_swqe) + w.num_sge * sizeof(ffr_sge) > qp.sq_stride)
      return IBV_WC_LOC_QP_OP_ERR;
    const bool writes_local = !sendish;  // READ and atomics land in local memory
    int st = gather_local(qp.sid, qp.pd, payload, w.num_sge, writes_local, &seg_a_, &len, &seg_a_mrs_);
    if (st != 0) return static_cast<uint32_t>(st);
  }
  if (len > 0x80000000ull) return IBV_WC_LOC_LEN_ERR;
  if ((op == IBV_WR_ATOMIC_CMP_AND_SWP || op == IBV_WR_ATOMIC_FETCH_AND_ADD) && (seg_a_.size() != 1 || len != 8))
    return IBV_WC_LOC_LEN_ERR;
  *len_out = len;
  return IBV_WC_SUCCESS;
}

Exec DataPlane::execute(Qp& qp, const ffr_swqe& w, const uint8_t* payload, uint64_t now) {
  const uint32_t op = w.opcode;
  uint64_t len = 0;
  const uint8_t* inline_data = nullptr;
  const uint32_t pst = prepare_wr(qp, w, payload, &len, &inline_data);
  if (pst != IBV_WC_SUCCESS) return done(pst);

  if (qp.type == IBV_QPT_UD) {
    if (len > FFR_MTU_BYTES) return done(IBV_WC_LOC_LEN_ERR);
    auto ait = t_.ahs.find(obj_key(qp.sid, w.ud_ah));
    if (ait == t_.ahs.end() || ait->second->pd != qp.pd) return done(IBV_WC_LOC_QP_OP_ERR);
    const Ah* ah = ait->second.get();
    if (!sched_admit(qp, len + kWrCost)) return waiting();
    if (throttled(qp, len, now)) {
      sched_refund(qp, len + kWrCost);
      return waiting();
    }
    if (ah->peer != 0) {
      if (len > FFR_MTU_BYTES) return done(IBV_WC_LOC_LEN_ERR);
      send_ud_remote(qp, *ah, w, seg_a_, len, inline_data);
      return done(IBV_WC_SUCCESS, len);
    }
    auto dit = t_.qp_by_qpn.find(w.ud_remote_qpn & 0xffffff);
    Qp* dst = dit == t_.qp_by_qpn.end() ? nullptr : dit->second;
    const uint32_t qkey = (w.ud_remote_qkey & 0x80000000u) != 0 ? qp.qkey : w.ud_remote_qkey;
    if (dst == nullptr || dst->type != IBV_QPT_UD || !receives(*dst) ||
        !addr_matches(*dst, qp.tenant, ah->dlid, ah->is_global, ah->dgid) || dst->qkey != qkey) {
      count(qp.sid, len, 0, 1, 0);
      return done(IBV_WC_SUCCESS, len);  // unreliable: nobody there, nobody told
    }
    return exec_send(qp, dst, w, seg_a_, len, ah, now);
  }

  Qp* dst = connected_peer(qp);
  if (dst == nullptr) {
    if (qp.type == IBV_QPT_RC) return rc_retry(qp, now);
    count(qp.sid, len, 0, 1, 0);
    return done(IBV_WC_SUCCESS, len);
  }
  // Large WRITEs and READs go a chunk per turn (sched.h). The scheduler
  // charges each chunk, the caps the whole message before its first byte
  // moves; READs and atomics are charged to the requester.
  const bool atomic = op == IBV_WR_ATOMIC_CMP_AND_SWP || op == IBV_WR_ATOMIC_FETCH_AND_ADD;
  const bool chunked = (op == IBV_WR_RDMA_WRITE || op == IBV_WR_RDMA_WRITE_WITH_IMM || op == IBV_WR_RDMA_READ) && len > chunk_;
  const uint64_t off = chunked && qp.head_off < len ? qp.head_off : 0;
  const uint64_t piece = chunked ? std::min(chunk_, len - off) : len;
  const uint64_t cost = (atomic ? 8 : piece) + (off == 0 ? kWrCost : 0);
  if (!sched_admit(qp, cost)) return waiting();
  if (off == 0 && throttled(qp, atomic ? 8 : len, now)) {
    sched_refund(qp, cost);
    return waiting();
  }
  switch (op) {
    case IBV_WR_SEND:
    case IBV_WR_SEND_WITH_IMM:
      return exec_send(qp, dst, w, seg_a_, len, nullptr, now);
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM:
      return exec_write(qp, dst, w, seg_a_, len, off, piece, now);
    case IBV_WR_RDMA_READ:
      return exec_read(qp, dst, w, seg_a_, len, off, piece);
    default:
      return exec_atomic(qp, dst, w, seg_a_);
  }
}

// A completion that waited for send-CQ room goes first: later WRs never
// overtake it. Returns false while it still waits.
bool DataPlane::write_pending_cqe(Qp& qp, uint64_t now, bool* work) {
  if (!qp.cqe_pending) return true;
  if (!cq_push(*qp.send_cq, qp.pending_cqe, false)) {
    wait_resource(qp, now);
    return false;
  }
  qp.cqe_pending = false;
  qp.wait = Wait::kNone;
  *work = true;
  if (qp.pending_to_err) set_state(qp, FFR_QPS_ERR);
  return true;
}

bool DataPlane::process_sq(Qp& qp, uint64_t now) {
  bool work = false;
  if (!write_pending_cqe(qp, now, &work)) return false;
  if (qp.state != FFR_QPS_RTS) return work;
  alignas(16) uint8_t buf[kMaxSqStride];
  // The state is checked per WR: a WR to its own QP (loopback) can move this
  // QP to ERR through recv_error while its own completion is a success.
  for (uint32_t n = 0; n < max_batch_ && sweep_bytes_ < kSweepByteBudget && qp.state == FFR_QPS_RTS; n++) {
    // Between two WRs or chunks of anyone else, the latency class goes first.
    if (n > 0 && qp.sc_class != SchedClass::kLatency) serve_latency(now);
    const uint32_t prod = load_acquire(&qp.sq_hdr->prod);
    if (prod == qp.sq_cons) break;
    if (prod - qp.sq_cons > qp.sq_entries) qp.sq_cons = prod - qp.sq_entries;  // lying shim: skip the excess
    std::memcpy(buf, qp.sq_slots + static_cast<size_t>(qp.sq_cons & (qp.sq_entries - 1)) * qp.sq_stride,
                qp.sq_stride);
    ffr_swqe w;
    std::memcpy(&w, buf, sizeof(w));
    Exec r = execute(qp, w, buf + sizeof(ffr_swqe), now);
    if (r.more) {
      work = true;
      continue;
    }
    if (!r.done) return work;
    qp.head_off = 0;
    qp.wait = Wait::kNone;
    qp.rnr_used = 0;
    work = true;
    const bool failed = r.status != IBV_WC_SUCCESS;
    if (failed) count(qp.sid, 0, 0, 1, 0);
    // cons first: an app that sees this CQE may post into the slot at once
    // (perftest refills exactly what completed), so the slot must already
    // be free when the CQE becomes visible.
    qp.sq_cons++;
    store_release(&qp.sq_hdr->cons, qp.sq_cons);
    if (failed || qp.sq_sig_all || (w.send_flags & IBV_SEND_SIGNALED) != 0) {
      ffr_cqe e{};
      e.wr_id = w.wr_id;
      e.status = r.status;
      e.opcode = wc_opcode_of(w.opcode);
      e.byte_len = r.byte_len;
      e.qp_num = qp.qpn;
      if (!cq_push(*qp.send_cq, e, false)) {
        // The WR is done; only its completion waits for CQ room, and no
        // later WR runs before it is written (completions stay in order).
        qp.pending_cqe = e;
        qp.cqe_pending = true;
        qp.pending_to_err = failed;
        wait_resource(qp, now);
        return true;
      }
    }
    if (failed) {
      set_state(qp, FFR_QPS_ERR);
      return true;
    }
  }
  return work;
}

}  // namespace ffr
