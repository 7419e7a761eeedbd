// Creation and destruction of data-plane objects (JS thread, under the lock).
#include <infiniband/verbs.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "dataplane.h"
#include "errors.h"
#include "ring.h"

namespace ffr {
namespace {

std::string id(const char* what, uint32_t sid, uint32_t h) {
  return std::string(what) + " " + std::to_string(h) + " of session " + std::to_string(sid);
}

template <class M>
auto& must_find(M& m, uint64_t k, const char* what, uint32_t sid, uint32_t h) {
  auto it = m.find(k);
  if (it == m.end()) throw_err(ENOENT, "no " + id(what, sid, h));
  return it->second;
}

void require_handle(uint32_t h, const char* what) {
  if (h == 0) throw_err(EINVAL, std::string(what) + " handle must be non-zero");
}

// Fills the hint fields of a ring header the shim may use; we never read them back.
void init_hdr(ffr_ring_hdr* h, uint32_t entries, uint32_t stride) {
  store_relaxed(&h->entries, entries);
  store_relaxed(&h->stride, stride);
}

}  // namespace

DataPlane::SessionFds DataPlane::add_session(uint32_t sid, uint32_t tenant, uint32_t lid) {
  require_handle(sid, "session");
  if (lid == 0 || lid > 0xffff) throw_err(EINVAL, "lid must be 1..65535");
  auto s = std::make_unique<Session>();
  s->sid = sid;
  s->tenant = tenant;
  s->lid = lid;
  s->doorbell.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!s->doorbell.valid()) throw_errno("eventfd (session doorbell)");
  const int doorbell = s->doorbell.get();
  SharedRegion r = create_shared("ffr-session", FFR_SESSION_PAGE_SIZE);
  s->page = reinterpret_cast<ffr_session_page*>(r.map.data());
  s->page_map = std::move(r.map);
  store_relaxed(&s->page->session, sid);
  store_relaxed(&s->page->epoch, 1);
  // Starts "asleep" from the shim's view: at worst one spurious doorbell
  // before the data plane clears it, never a missed one.
  store_relaxed(&s->page->need_wakeup, 1);
  store_release(&s->page->router_state, FFR_ROUTER_UP);
  {
    JsLock g(*this);
    check_open();
    if (t_.sessions.count(sid)) throw_err(EEXIST, "session " + std::to_string(sid) + " exists");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = doorbell;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, doorbell, &ev) != 0) throw_errno("epoll_ctl (session doorbell)");
    t_.sessions.emplace(sid, std::move(s));
  }
  kick();
  return {r.fd.release(), doorbell};
}

void DataPlane::remove_session(uint32_t sid, bool crashed) {
  // Everything of the session moves here and dies after the lock is released.
  std::vector<std::unique_ptr<Qp>> dead_qps;
  std::vector<std::shared_ptr<void>> dead;
  std::unique_ptr<Session> dead_session;
  {
    JsLock g(*this);
    check_open();
    auto sit = t_.sessions.find(sid);
    if (sit == t_.sessions.end()) throw_err(ENOENT, "no session " + std::to_string(sid));
    if (crashed) {
      // Peers of a vanished process see what real RC shows when the remote
      // HCA stops answering: retry exceeded on the head send, flush for the rest.
      for (Qp* qp : t_.qp_list) {
        if (qp->sid == sid || qp->type != IBV_QPT_RC) continue;
        if (qp->state == FFR_QPS_RESET || qp->state == FFR_QPS_ERR) continue;
        auto pit = t_.qp_by_qpn.find(qp->dest_qpn);
        if (pit == t_.qp_by_qpn.end() || pit->second->sid != sid) continue;
        if (!qp->cqe_pending && load_acquire(&qp->sq_hdr->prod) != qp->sq_cons) {
          qp->head_flush_status = IBV_WC_RETRY_EXC_ERR;
          qp->has_head_flush_status = true;
        }
        set_state(*qp, FFR_QPS_ERR);
      }
    }
    // qp_list first: its pointers die with the map entries.
    for (Qp* q : t_.qp_list)
      if (q->sid == sid) sched_detach(*q);
    t_.qp_list.erase(std::remove_if(t_.qp_list.begin(), t_.qp_list.end(), [sid](Qp* q) { return q->sid == sid; }),
                     t_.qp_list.end());
    for (auto it = t_.qps.begin(); it != t_.qps.end();) {
      if (it->second->sid == sid) {
        t_.qp_by_qpn.erase(it->second->qpn);
        dead_qps.push_back(std::move(it->second));
        it = t_.qps.erase(it);
      } else {
        ++it;
      }
    }
    auto drop = [sid, &dead](auto& m) {
      for (auto it = m.begin(); it != m.end();) {
        if (it->second->sid == sid) {
          dead.push_back(std::shared_ptr<void>(std::move(it->second)));
          it = m.erase(it);
        } else {
          ++it;
        }
      }
    };
    for (auto it = t_.mr_by_key.begin(); it != t_.mr_by_key.end();)
      it = (it->second->sid == sid) ? t_.mr_by_key.erase(it) : std::next(it);
    drop(t_.ahs);
    drop(t_.srqs);
    drop(t_.mrs);
    drop(t_.cqs);
    drop(t_.channels);
    // The shim holds its own reference to the doorbell's file description,
    // so closing our fd would not take it out of the epoll set.
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, sit->second->doorbell.get(), nullptr);
    dead_session = std::move(sit->second);
    t_.sessions.erase(sit);
  }
  kick();
}

void DataPlane::add_channel(uint32_t sid, uint32_t ch, UniqueFd wake) {
  require_handle(ch, "channel");
  // notify() sends to this fd on the data-plane thread with the lock held:
  // only a socket takes a per-call MSG_DONTWAIT, so only a socket is safe
  // whatever the app does to its flags (a pipe or an eventfd it filled would
  // block every tenant, forever).
  {
    int domain = 0, type = 0;
    socklen_t len = sizeof(int);
    if (::getsockopt(wake.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX ||
        (len = sizeof(int), ::getsockopt(wake.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0) || type != SOCK_STREAM)
      throw_err(EINVAL, "channel fd is not a unix stream socket");
  }
  JsLock g(*this);
  check_open();
  if (!t_.sessions.count(sid)) throw_err(ENOENT, "no session " + std::to_string(sid));
  auto& slot = t_.channels[obj_key(sid, ch)];
  if (slot) throw_err(EEXIST, id("channel", sid, ch) + " exists");
  slot = std::make_shared<Channel>();
  slot->sid = sid;
  slot->handle = ch;
  slot->wake = std::move(wake);
}

void DataPlane::remove_channel(uint32_t sid, uint32_t ch) {
  std::shared_ptr<Channel> dead;  // closed after the lock is released
  JsLock g(*this);
  check_open();
  dead = std::move(must_find(t_.channels, obj_key(sid, ch), "channel", sid, ch));
  t_.channels.erase(obj_key(sid, ch));
}

RingInfo DataPlane::create_cq(uint32_t sid, uint32_t cq, uint32_t entries, uint32_t channel) {
  require_handle(cq, "cq");
  // `entries` is the ring size the router chose (>= cqe + 1); we only round
  // it to a power of two, so both sides mask with the same value.
  if (entries < 2 || entries > FFR_MAX_CQE + 1) throw_err(EINVAL, "cq entries must be 2..FFR_MAX_CQE+1");
  auto c = std::make_shared<Cq>();
  c->sid = sid;
  c->handle = cq;
  c->entries = next_pow2(entries);
  const size_t bytes = page_round(FFR_RING_HDR_SIZE + static_cast<size_t>(c->entries) * sizeof(ffr_cqe));
  SharedRegion r = create_shared("ffr-cq", bytes);
  c->hdr = reinterpret_cast<ffr_ring_hdr*>(r.map.data());
  c->slots = reinterpret_cast<ffr_cqe*>(r.map.data() + FFR_RING_HDR_SIZE);
  c->map = std::move(r.map);
  init_hdr(c->hdr, c->entries, sizeof(ffr_cqe));
  JsLock g(*this);
  check_open();
  if (!t_.sessions.count(sid)) throw_err(ENOENT, "no session " + std::to_string(sid));
  if (t_.cqs.count(obj_key(sid, cq))) throw_err(EEXIST, id("cq", sid, cq) + " exists");
  if (channel != 0) c->channel = must_find(t_.channels, obj_key(sid, channel), "channel", sid, channel);
  t_.cqs.emplace(obj_key(sid, cq), c);
  RingInfo ri;
  ri.ring_bytes = static_cast<uint32_t>(bytes);
  ri.entries = c->entries;
  ri.stride = sizeof(ffr_cqe);
  ri.fd = r.fd.release();
  return ri;
}

void DataPlane::destroy_cq(uint32_t sid, uint32_t cq) {
  std::shared_ptr<Cq> dead;  // unmapped after the lock is released
  JsLock g(*this);
  check_open();
  dead = std::move(must_find(t_.cqs, obj_key(sid, cq), "cq", sid, cq));
  // A QP still naming it keeps the mapping alive (shared_ptr) until it goes.
  t_.cqs.erase(obj_key(sid, cq));
}

void DataPlane::reg_mr(uint32_t sid, uint32_t mr, const MrParams& p, UniqueFd fd) {
  require_handle(mr, "mr");
  if (p.key == 0) throw_err(EINVAL, "mr key must be non-zero");
  if (p.length > UINT64_MAX - p.addr || p.length > UINT64_MAX - p.iova) throw_err(EINVAL, "mr range wraps");
  auto m = std::make_shared<Mr>();
  m->sid = sid;
  m->handle = mr;
  m->pd = p.pd;
  m->key = p.key;
  m->access = p.access;
  m->addr = p.addr;
  m->length = p.length;
  m->iova = p.iova;
  m->map = map_foreign(fd.get(), p.fd_offset, p.length, p.fd_size, &m->base);
  fd.reset();  // the mapping keeps the memory; the fd is not needed any more
  JsLock g(*this);
  check_open();
  if (!t_.sessions.count(sid)) throw_err(ENOENT, "no session " + std::to_string(sid));
  if (t_.mrs.count(obj_key(sid, mr))) throw_err(EEXIST, id("mr", sid, mr) + " exists");
  if (t_.mr_by_key.count(p.key)) throw_err(EEXIST, "mr key " + std::to_string(p.key) + " in use");
  t_.mr_by_key[p.key] = m.get();
  t_.mrs.emplace(obj_key(sid, mr), std::move(m));
}

void DataPlane::dereg_mr(uint32_t sid, uint32_t mr) {
  std::shared_ptr<Mr> dead;  // munmap (a TLB shootdown) outside the lock
  JsLock g(*this);
  check_open();
  dead = std::move(must_find(t_.mrs, obj_key(sid, mr), "mr", sid, mr));
  t_.mr_by_key.erase(dead->key);
  t_.mrs.erase(obj_key(sid, mr));
}

RingInfo DataPlane::create_srq(uint32_t sid, uint32_t srq, const SrqParams& p) {
  require_handle(srq, "srq");
  if (p.entries == 0 || p.entries > FFR_MAX_SRQ_WR) throw_err(EINVAL, "srq entries must be 1..FFR_MAX_SRQ_WR");
  if (p.max_sge == 0 || p.max_sge > FFR_MAX_SGE) throw_err(EINVAL, "srq maxSge must be 1..FFR_MAX_SGE");
  auto s = std::make_shared<Srq>();
  s->sid = sid;
  s->handle = srq;
  s->pd = p.pd;
  s->limit = p.limit;
  s->ring.entries = next_pow2(p.entries);
  s->ring.stride = sizeof(ffr_rwqe) + sizeof(ffr_sge) * p.max_sge;
  s->ring.max_sge = p.max_sge;
  const size_t bytes = page_round(FFR_RING_HDR_SIZE + static_cast<size_t>(s->ring.entries) * s->ring.stride);
  SharedRegion r = create_shared("ffr-srq", bytes);
  s->ring.hdr = reinterpret_cast<ffr_ring_hdr*>(r.map.data());
  s->ring.slots = r.map.data() + FFR_RING_HDR_SIZE;
  s->map = std::move(r.map);
  init_hdr(s->ring.hdr, s->ring.entries, s->ring.stride);
  store_relaxed(&s->ring.hdr->srq_limit, p.limit);
  JsLock g(*this);
  check_open();
  if (!t_.sessions.count(sid)) throw_err(ENOENT, "no session " + std::to_string(sid));
  if (t_.srqs.count(obj_key(sid, srq))) throw_err(EEXIST, id("srq", sid, srq) + " exists");
  RingInfo ri;
  ri.ring_bytes = static_cast<uint32_t>(bytes);
  ri.entries = s->ring.entries;
  ri.stride = s->ring.stride;
  t_.srqs.emplace(obj_key(sid, srq), std::move(s));
  ri.fd = r.fd.release();
  return ri;
}

void DataPlane::modify_srq(uint32_t sid, uint32_t srq, uint32_t limit) {
  JsLock g(*this);
  check_open();
  auto& s = must_find(t_.srqs, obj_key(sid, srq), "srq", sid, srq);
  s->limit = limit;
  store_release(&s->ring.hdr->srq_limit, limit);
}

void DataPlane::destroy_srq(uint32_t sid, uint32_t srq) {
  std::shared_ptr<Srq> dead;
  JsLock g(*this);
  check_open();
  dead = std::move(must_find(t_.srqs, obj_key(sid, srq), "srq", sid, srq));
  t_.srqs.erase(obj_key(sid, srq));
}

RingInfo DataPlane::create_qp(uint32_t sid, uint32_t qp, const QpParams& p) {
  require_handle(qp, "qp");
  if (p.qpn == 0 || p.qpn > 0xffffff) throw_err(EINVAL, "qpn must be 1..2^24-1");
  if (p.type != IBV_QPT_RC && p.type != IBV_QPT_UC && p.type != IBV_QPT_UD)
    throw_err(EOPNOTSUPP, "qp type " + std::to_string(p.type) + " not supported");
  if (p.sq_entries == 0 || p.sq_entries > FFR_MAX_QP_WR) throw_err(EINVAL, "sqEntries must be 1..FFR_MAX_QP_WR");
  if (p.rq_entries > FFR_MAX_QP_WR) throw_err(EINVAL, "rqEntries must be 0..FFR_MAX_QP_WR");
  if (p.max_send_sge > FFR_MAX_SGE || p.max_recv_sge > FFR_MAX_SGE) throw_err(EINVAL, "max SGE above FFR_MAX_SGE");
  if (p.max_inline > FFR_MAX_INLINE) throw_err(EINVAL, "maxInline above FFR_MAX_INLINE");
  auto q = std::make_unique<Qp>();
  q->sid = sid;
  q->handle = qp;
  q->qpn = p.qpn;
  q->type = p.type;
  q->pd = p.pd;
  q->tenant = p.tenant;
  q->lid = p.lid;
  q->sq_sig_all = p.sq_sig_all;
  q->max_send_sge = p.max_send_sge;
  q->max_recv_sge = p.max_recv_sge;
  q->max_inline = p.max_inline;
  q->sq_entries = next_pow2(p.sq_entries);
  q->sq_stride = round16(sizeof(ffr_swqe) + std::max<uint32_t>(sizeof(ffr_sge) * p.max_send_sge, p.max_inline));
  const size_t sq_bytes = FFR_RING_HDR_SIZE + static_cast<size_t>(q->sq_entries) * q->sq_stride;
  size_t rq_off = 0, bytes = sq_bytes;
  // No RQ with an SRQ, or for a send-only QP (max_recv_wr 0): senders to it
  // meet RNR (RC) or a drop (UC/UD), as with an empty RQ.
  const bool has_rq = p.srq == 0 && p.rq_entries != 0;
  if (has_rq) {
    q->rq.entries = next_pow2(p.rq_entries);
    q->rq.stride = sizeof(ffr_rwqe) + sizeof(ffr_sge) * p.max_recv_sge;
    q->rq.max_sge = p.max_recv_sge;
    rq_off = (sq_bytes + FFR_CACHELINE - 1) / FFR_CACHELINE * FFR_CACHELINE;
    bytes = rq_off + FFR_RING_HDR_SIZE + static_cast<size_t>(q->rq.entries) * q->rq.stride;
  }
  bytes = page_round(bytes);
  SharedRegion r = create_shared("ffr-qp", bytes);
  q->sq_hdr = reinterpret_cast<ffr_ring_hdr*>(r.map.data());
  q->sq_slots = r.map.data() + FFR_RING_HDR_SIZE;
  init_hdr(q->sq_hdr, q->sq_entries, q->sq_stride);
  store_release(&q->sq_hdr->qp_state, FFR_QPS_RESET);
  if (has_rq) {
    q->rq.hdr = reinterpret_cast<ffr_ring_hdr*>(r.map.data() + rq_off);
    q->rq.slots = r.map.data() + rq_off + FFR_RING_HDR_SIZE;
    init_hdr(q->rq.hdr, q->rq.entries, q->rq.stride);
  }
  q->map = std::move(r.map);

  JsLock g(*this);
  check_open();
  if (!t_.sessions.count(sid)) throw_err(ENOENT, "no session " + std::to_string(sid));
  if (t_.qps.count(obj_key(sid, qp))) throw_err(EEXIST, id("qp", sid, qp) + " exists");
  if (t_.qp_by_qpn.count(p.qpn)) throw_err(EEXIST, "qpn " + std::to_string(p.qpn) + " in use");
  q->send_cq = must_find(t_.cqs, obj_key(sid, p.send_cq), "cq", sid, p.send_cq);
  q->recv_cq = must_find(t_.cqs, obj_key(sid, p.recv_cq), "cq", sid, p.recv_cq);
  if (p.srq != 0) q->srq = must_find(t_.srqs, obj_key(sid, p.srq), "srq", sid, p.srq);
  RingInfo ri;
  ri.ring_bytes = static_cast<uint32_t>(bytes);
  ri.sq_offset = 0;
  ri.sq_entries = q->sq_entries;
  ri.sq_stride = q->sq_stride;
  ri.rq_offset = static_cast<uint32_t>(rq_off);
  ri.rq_entries = q->rq.entries;
  ri.rq_stride = q->rq.stride;
  Qp* raw = q.get();
  t_.qps.emplace(obj_key(sid, qp), std::move(q));
  t_.qp_by_qpn[p.qpn] = raw;
  sched_attach(*raw);
  t_.qp_list.push_back(raw);
  ri.fd = r.fd.release();
  return ri;
}

void DataPlane::modify_qp(uint32_t sid, uint32_t qp, const QpAttrs& a) {
  if (a.state && *a.state > FFR_QPS_ERR) throw_err(EINVAL, "qp state out of range");
  if (a.min_rnr_timer && *a.min_rnr_timer > 31) throw_err(EINVAL, "minRnrTimer must be 0..31");
  if (a.rnr_retry && *a.rnr_retry > 7) throw_err(EINVAL, "rnrRetry must be 0..7");
  if (a.retry_cnt && *a.retry_cnt > 7) throw_err(EINVAL, "retryCnt must be 0..7");
  if (a.timeout && *a.timeout > 31) throw_err(EINVAL, "timeout must be 0..31");
  {
    JsLock g(*this);
    check_open();
    auto& q = must_find(t_.qps, obj_key(sid, qp), "qp", sid, qp);
    if (a.access_flags) q->access_flags = *a.access_flags;
    if (a.qkey) q->qkey = *a.qkey;
    if (a.dest_qpn) q->dest_qpn = *a.dest_qpn & 0xffffff;
    if (a.dlid) q->dlid = *a.dlid;
    if (a.min_rnr_timer) q->min_rnr_timer = *a.min_rnr_timer;
    if (a.rnr_retry) q->rnr_retry = *a.rnr_retry;
    if (a.retry_cnt) q->retry_cnt = *a.retry_cnt;
    if (a.timeout) q->timeout = *a.timeout;
    if (a.path_mtu) q->path_mtu = *a.path_mtu;
    if (a.sl) q->sl = *a.sl;
    if (a.pkey_index) q->pkey_index = *a.pkey_index;
    if (a.is_global) q->is_global = *a.is_global;
    if (a.dgid) std::memcpy(q->dgid, a.dgid->data(), 16);
    if (a.peer && *a.peer != q->peer) {
      if (*a.peer != 0 && q->type == IBV_QPT_UD) throw_err(EINVAL, "a UD QP reaches peers through its AHs");
      rx_abort(*q);
      q->peer = *a.peer;
      sched_dirty_ = true;  // the latency list holds this host's QPs only
      q->remote.reset();
    }
    if (a.state) {
      if (*a.state == FFR_QPS_RESET) discard_rings(*q);
      set_state(*q, *a.state);
    }
  }
  kick();
}

uint32_t DataPlane::qp_state(uint32_t sid, uint32_t qp) {
  JsLock g(*this);
  check_open();
  return must_find(t_.qps, obj_key(sid, qp), "qp", sid, qp)->state;
}

void DataPlane::destroy_qp(uint32_t sid, uint32_t qp) {
  std::unique_ptr<Qp> dead;  // unmapped after the lock is released
  JsLock g(*this);
  check_open();
  dead = std::move(must_find(t_.qps, obj_key(sid, qp), "qp", sid, qp));
  Qp* raw = dead.get();
  rx_abort(*raw);  // gives back a receive-CQ slot held for a peer message
  t_.qp_by_qpn.erase(raw->qpn);
  sched_detach(*raw);
  t_.qp_list.erase(std::remove(t_.qp_list.begin(), t_.qp_list.end(), raw), t_.qp_list.end());
  t_.qps.erase(obj_key(sid, qp));
}

void DataPlane::create_ah(uint32_t sid, uint32_t ah, const AhParams& p) {
  require_handle(ah, "ah");
  JsLock g(*this);
  check_open();
  if (!t_.sessions.count(sid)) throw_err(ENOENT, "no session " + std::to_string(sid));
  auto& slot = t_.ahs[obj_key(sid, ah)];
  if (slot) throw_err(EEXIST, id("ah", sid, ah) + " exists");
  slot = std::make_unique<Ah>();
  slot->sid = sid;
  slot->handle = ah;
  slot->pd = p.pd;
  slot->dlid = p.dlid;
  slot->sl = p.sl;
  slot->src_path_bits = p.src_path_bits;
  slot->port_num = p.port_num;
  slot->is_global = p.is_global;
  slot->peer = p.peer;
  std::memcpy(slot->dgid, p.dgid, 16);
}

void DataPlane::destroy_ah(uint32_t sid, uint32_t ah) {
  JsLock g(*this);
  check_open();
  must_find(t_.ahs, obj_key(sid, ah), "ah", sid, ah);
  t_.ahs.erase(obj_key(sid, ah));
}

}  // namespace ffr
