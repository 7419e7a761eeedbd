// Rate caps of tenants and containers (docs/isolation.md): token buckets the
// data plane charges per work request, before it moves any byte. Only the
// data-plane thread touches a bucket; the JS thread sets rates under JsLock.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace ffr {

// Tokens may go negative: a message is admitted whenever the bucket is not
// in debt and charged whole, so a message larger than the burst still goes
// and the rate holds over time (the debt delays what follows). The burst
// bounds what an idle sender may send at once when it starts again.
class TokenBucket {
 public:
  // rate 0 = no cap.
  void set_rate(uint64_t per_s, uint64_t now) {
    refill(now);
    rate_ = per_s;
    // 2 ms of the rate, at least one unit: small enough that a cap holds
    // within a few percent over a second, large enough that a refill per
    // sweep is not a refill per message.
    burst_ = per_s / 500 > 0 ? static_cast<double>(per_s / 500) : 1.0;
    if (tokens_ > burst_) tokens_ = burst_;
  }
  bool capped() const { return rate_ != 0; }

  // True when a message may go now; otherwise *until is when it may.
  bool ready(uint64_t now, uint64_t* until) {
    if (rate_ == 0) return true;
    refill(now);
    if (tokens_ >= 0) return true;
    *until = now + static_cast<uint64_t>(-tokens_ * 1e9 / static_cast<double>(rate_)) + 1;
    return false;
  }
  void charge(uint64_t cost) {
    if (rate_ != 0) tokens_ -= static_cast<double>(cost);
  }

 private:
  void refill(uint64_t now) {
    if (last_ns_ != 0 && now > last_ns_ && rate_ != 0) {
      tokens_ += static_cast<double>(now - last_ns_) * static_cast<double>(rate_) / 1e9;
      if (tokens_ > burst_) tokens_ = burst_;
    }
    last_ns_ = now;
  }

  uint64_t rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  uint64_t last_ns_ = 0;
};

// One tenant's or one container's caps: bytes and work requests per second.
struct Limiter {
  TokenBucket bytes, wrs;
  bool ready(uint64_t now, uint64_t* until) {
    uint64_t a = 0, b = 0;
    const bool ok_bytes = bytes.ready(now, &a), ok_wrs = wrs.ready(now, &b);
    if (ok_bytes && ok_wrs) return true;
    *until = a > b ? a : b;
    return false;
  }
  void charge(uint64_t len) {
    bytes.charge(len);
    wrs.charge(1);
  }
};

// Limiters by (tenant id << 32 | LID); LID 0 is the tenant's own.
using LimiterTable = std::unordered_map<uint64_t, Limiter>;

inline uint64_t limiter_key(uint32_t tenant, uint32_t lid) { return (static_cast<uint64_t>(tenant) << 32) | lid; }

}  // namespace ffr
