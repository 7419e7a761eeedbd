// The weighted scheduler (sched.h): rounds, shares, admission per work
// request or chunk, and the latency class served first.
#include "dataplane.h"
#include "ring.h"

namespace ffr {

namespace {

bool is_default(const SchedNode& n) { return n.weight == 1 && n.cls == SchedClass::kUnset; }

// A container's class wins over its tenant's; neither set: default.
SchedClass class_of(const Qp& q) {
  if (q.sc_container != nullptr && q.sc_container->cls != SchedClass::kUnset) return q.sc_container->cls;
  if (q.sc_tenant != nullptr && q.sc_tenant->cls != SchedClass::kUnset) return q.sc_tenant->cls;
  return SchedClass::kDefault;
}

}  // namespace

void DataPlane::set_sched(uint32_t tenant, uint32_t lid, uint32_t weight, SchedClass cls) {
  JsLock g(*this);
  const uint64_t key = limiter_key(tenant, lid);
  auto it = t_.sched.find(key);
  if (weight == 1 && cls == SchedClass::kUnset && it != t_.sched.end() && it->second.refs == 0) {
    t_.sched.erase(it);
  } else {
    SchedNode& n = t_.sched[key];
    n.weight = weight;
    n.cls = cls;
  }
  sched_dirty_ = true;
  kick();
}

void DataPlane::sched_attach(Qp& q) {
  q.sc_container = &t_.sched[limiter_key(q.tenant, q.lid)];
  q.sc_tenant = &t_.sched[limiter_key(q.tenant, 0)];
  q.sc_container->refs++;
  q.sc_tenant->refs++;
  sched_dirty_ = true;
}

// Before the QP leaves qp_list: nodes nobody points at and nobody
// configured go, so the table stays the size of what is live or set.
void DataPlane::sched_detach(Qp& q) {
  const std::pair<SchedNode**, uint64_t> nodes[] = {{&q.sc_container, limiter_key(q.tenant, q.lid)},
                                                    {&q.sc_tenant, limiter_key(q.tenant, 0)}};
  for (const auto& [slot, key] : nodes) {
    SchedNode* n = *slot;
    *slot = nullptr;
    if (n != nullptr && --n->refs == 0 && is_default(*n)) t_.sched.erase(key);
  }
  sched_dirty_ = true;
}

void DataPlane::sched_rebuild() {
  sched_dirty_ = false;
  latency_qps_.clear();
  for (Qp* q : t_.qp_list) {
    q->sc_class = class_of(*q);
    if (q->sc_class == SchedClass::kLatency && q->peer == 0) latency_qps_.push_back(q);
  }
}

// A sender with a WR it could start now: what DRR calls a non-empty queue.
bool DataPlane::sched_active(const Qp& q, uint64_t now) const {
  if (q.state != FFR_QPS_RTS || q.cqe_pending) return false;
  if (q.wait != Wait::kNone && now < q.wait_until_ns) return false;
  const uint32_t prod = load_acquire(&q.sq_hdr->prod);
  if (q.remote) return !q.remote->stopped && !q.remote->probing && prod != q.remote->sq_sent;
  return prod != q.sq_cons;
}

uint64_t DataPlane::share_of(const Qp& q) const {
  const SchedNode& c = *q.sc_container;
  const SchedNode& t = *q.sc_tenant;
  // A QP that turned active after the plan counts as its container's only
  // one, and its tenant and container as active ones: a little more than
  // its due for the rest of this round, never less.
  const bool t_planned = t.round == round_ && t.active_wsum > 0;
  const uint64_t tsum = t_planned ? round_wsum_ : round_wsum_ + t.weight;
  const uint64_t csum = t_planned ? t.active_wsum : c.weight;
  const uint64_t n = c.round == round_ && c.active_qps > 0 ? c.active_qps : 1;
  const double s = static_cast<double>(kRoundBytes) * t.weight / static_cast<double>(tsum) * c.weight /
                   static_cast<double>(csum) / static_cast<double>(n);
  return s < 1 ? 1 : static_cast<uint64_t>(s);
}

void DataPlane::plan_round(uint64_t now) {
  if (sched_dirty_) sched_rebuild();
  // Every head waited on its deficit last round and nothing moved: grant
  // the rounds it takes the nearest of them at once, as DRR would after
  // that many empty rounds, instead of spinning through them.
  const uint64_t mult = !round_admitted_ && round_min_skip_ > 1 ? round_min_skip_ : 1;
  round_++;
  round_admitted_ = false;
  round_min_skip_ = 0;
  round_wsum_ = 0;
  for (Qp* q : t_.qp_list) {
    if (!sched_active(*q, now)) continue;
    SchedNode& c = *q->sc_container;
    SchedNode& t = *q->sc_tenant;
    if (c.round != round_) {
      c.round = round_;
      c.active_qps = 0;
      if (t.round != round_) {
        t.round = round_;
        t.active_wsum = 0;
        round_wsum_ += t.weight;
      }
      t.active_wsum += c.weight;
    }
    c.active_qps++;
    q->sc_round = round_;
  }
  for (Qp* q : t_.qp_list) {
    if (q->sc_round != round_) {
      q->sc_deficit = 0;  // DRR: a sender with nothing to send keeps no credit
      continue;
    }
    q->sc_share = share_of(*q);
    q->sc_deficit += q->sc_share * mult;
  }
}

bool DataPlane::sched_admit(Qp& q, uint64_t cost) {
  if (q.sc_round != round_) {
    // Turned active after the plan: its first share now, not a round late.
    q.sc_round = round_;
    q.sc_share = share_of(q);
    q.sc_deficit = q.sc_share;
  }
  if (q.sc_deficit >= cost) {
    q.sc_deficit -= cost;
    round_admitted_ = true;
    return true;
  }
  q.sc_want = cost - q.sc_deficit;
  const uint64_t rounds = (q.sc_want + q.sc_share - 1) / q.sc_share;
  if (round_min_skip_ == 0 || rounds < round_min_skip_) round_min_skip_ = rounds;
  sched_waiting_ = true;
  return false;
}

void DataPlane::sched_refund(Qp& q, uint64_t cost) { q.sc_deficit += cost; }

// Latency-class QPs on this host run now: at the start of every sweep and
// between the work requests and chunks of everyone else, so one of theirs
// waits behind at most one chunk. Their deficits bound them like anyone's.
void DataPlane::serve_latency(uint64_t now) {
  if (latency_qps_.empty() || serving_latency_) return;
  serving_latency_ = true;
  for (Qp* q : latency_qps_) {
    if (q->state != FFR_QPS_RTS && !q->cqe_pending) continue;
    if (q->wait != Wait::kNone && now < q->wait_until_ns) continue;
    if (load_acquire(&q->sq_hdr->prod) == q->sq_cons && !q->cqe_pending) continue;
    process_sq(*q, now);
  }
  serving_latency_ = false;
}

}  // namespace ffr
