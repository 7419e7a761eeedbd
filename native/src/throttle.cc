// Rate caps in the data plane (throttle.h): set from JS, charged per WR.
#include "dataplane.h"

namespace ffr {

void DataPlane::set_limit(uint32_t tenant, uint32_t lid, uint64_t bytes_per_s, uint64_t wrs_per_s) {
  JsLock g(*this);
  const uint64_t key = limiter_key(tenant, lid);
  if (bytes_per_s == 0 && wrs_per_s == 0) {
    t_.limiters.erase(key);
    return;
  }
  const uint64_t now = now_ns();
  Limiter& l = t_.limiters[key];
  l.bytes.set_rate(bytes_per_s, now);
  l.wrs.set_rate(wrs_per_s, now);
  // A QP waiting on the old rate re-checks at once (a raised cap applies now).
  for (Qp* qp : t_.qp_list) {
    if (qp->tenant == tenant && (lid == 0 || qp->lid == lid) && qp->wait == Wait::kThrottle) qp->wait_until_ns = now;
  }
  kick();
}

// The container's and its tenant's caps must both admit a message; it is
// charged to both. A refused message is not charged: the QP waits until
// the later of the two buckets is out of debt.
bool DataPlane::throttled(Qp& qp, uint64_t len, uint64_t now) {
  if (t_.limiters.empty()) return false;
  auto own = t_.limiters.find(limiter_key(qp.tenant, qp.lid));
  auto ten = t_.limiters.find(limiter_key(qp.tenant, 0));
  Limiter* a = own == t_.limiters.end() ? nullptr : &own->second;
  Limiter* b = ten == t_.limiters.end() ? nullptr : &ten->second;
  uint64_t until = 0, u = 0;
  if (a != nullptr && !a->ready(now, &u)) until = u;
  if (b != nullptr && !b->ready(now, &u) && u > until) until = u;
  if (until != 0) {
    qp.wait = Wait::kThrottle;
    qp.wait_until_ns = until;
    auto sit = t_.sessions.find(qp.sid);
    if (sit != t_.sessions.end()) sit->second->stats.throttled_ns += until - now;
    return true;
  }
  if (a != nullptr) a->charge(len);
  if (b != nullptr) b->charge(len);
  return false;
}

}  // namespace ffr
