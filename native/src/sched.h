// Weighted fair sharing of the data plane (docs/isolation.md, "Scheduler"):
// hierarchical deficit round robin, tenant -> container -> QP, over the
// senders that have work. One sweep of the data plane is one round: each
// active QP's deficit grows by its share of the round's quantum, and it
// may start a work request (or the next chunk of one) while its deficit
// covers the cost. Only the data-plane thread touches the scratch fields;
// weights and classes are set under JsLock.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace ffr {

// Served in this order within a round; latency QPs also run between the
// chunks of others (see serve_latency). Every class is bounded by its share.
enum class SchedClass : uint8_t { kDefault = 0, kLatency = 1, kBulk = 2, kUnset = 255 };

// Bytes one round moves when every active sender uses its share: split
// among the active tenants by weight, then among a tenant's active
// containers by weight, then evenly among a container's active QPs. It
// bounds what a newly active default-class sender waits (a round: about
// 50 us of copying at the 40 GB/s of one host) and what the plan costs
// (two passes over the QPs per round).
constexpr uint64_t kRoundBytes = 2u << 20;
// Large local WRITEs and READs are copied in pieces of this size unless the
// router says otherwise (--chunk-kib), so a latency-class request waits
// behind at most one piece (docs/isolation.md has the measurement behind
// the size). The same as a peer segment.
constexpr uint32_t kDefaultChunk = 64u << 10;
// What a work request costs beyond its bytes: the data plane's time per
// WR, in bytes it could have copied instead, so tiny-message floods are
// charged for what they take (docs/isolation.md).
constexpr uint64_t kWrCost = 4096;

// One tenant (LID 0) or one container.
struct SchedNode {
  uint32_t weight = 1;
  SchedClass cls = SchedClass::kUnset;
  uint32_t refs = 0;  // QPs pointing here
  // Scratch of the round that last saw this node active.
  uint64_t round = 0;
  uint32_t active_qps = 0;   // container: its active QPs this round
  uint64_t active_wsum = 0;  // tenant: weights of its active containers this round
};

// By (tenant << 32 | LID), as the limiters are.
using SchedTable = std::unordered_map<uint64_t, SchedNode>;

}  // namespace ffr
