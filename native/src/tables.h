// Native objects of the data plane, keyed by (session id, router handle).
// Everything here is guarded by DataPlane::mu_; the data-plane thread holds it
// for one sweep at a time.
#pragma once
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "fd.h"
#include "ffproto.h"
#include "peer.h"
#include "shm.h"
#include "sched.h"
#include "throttle.h"

namespace ffr {

inline uint64_t obj_key(uint32_t sid, uint32_t handle) { return static_cast<uint64_t>(sid) << 32 | handle; }

constexpr int kNumWcStatus = 32;

struct SessionStats {
  uint64_t bytes_out = 0, bytes_in = 0, wrs_out = 0, wrs_in = 0;
  // Time its WRs were held by a rate cap, and the data plane's time serving
  // its send queues (Iron's rule: a host's CPU for a tenant's traffic is
  // the tenant's), in nanoseconds.
  uint64_t throttled_ns = 0, busy_ns = 0;
  std::array<uint64_t, kNumWcStatus> completions{};
};

struct Session {
  uint32_t sid = 0, tenant = 0, lid = 0;
  // This session's own doorbell: a shared one would let any process read
  // (swallow) the wake-ups other tenants' shims write.
  UniqueFd doorbell;
  Mapping page_map;
  ffr_session_page* page = nullptr;
  SessionStats stats;
};

struct Channel {
  uint32_t sid = 0, handle = 0;
  UniqueFd wake;  // the shim's socketpair end: one byte per event, never waited on

  // The app owns this socket's flags; MSG_DONTWAIT holds whatever they are.
  // A full socket means the app has wake-ups unread: dropping one loses
  // nothing, the CQ header's events counter is the truth.
  void signal() const {
    const char one = 1;
    (void)!::send(wake.get(), &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
};

struct Cq {
  uint32_t sid = 0, handle = 0;
  uint32_t entries = 0;  // our own copy; the header's is only a hint for the shim
  uint32_t prod = 0;     // private producer index, published to hdr->prod
  uint32_t reserved = 0; // slots promised to messages still arriving from peers
  Mapping map;
  ffr_ring_hdr* hdr = nullptr;
  ffr_cqe* slots = nullptr;
  std::shared_ptr<Channel> channel;
};

struct Mr {
  uint32_t sid = 0, handle = 0, pd = 0, key = 0, access = 0;
  uint64_t addr = 0, length = 0, iova = 0;
  Mapping map;
  uint8_t* base = nullptr;  // byte that corresponds to addr (and to iova)
};

// A receive queue as the data plane sees it: the RQ of a QP or an SRQ.
struct RecvRing {
  ffr_ring_hdr* hdr = nullptr;
  uint8_t* slots = nullptr;
  uint32_t entries = 0, stride = 0, max_sge = 0;
  uint32_t cons = 0;  // private consumer index, published to hdr->cons
};

struct Srq {
  uint32_t sid = 0, handle = 0, pd = 0, limit = 0;
  Mapping map;
  RecvRing ring;
};

struct Ah {
  uint32_t sid = 0, handle = 0, pd = 0, dlid = 0, sl = 0, src_path_bits = 0, port_num = 0;
  uint32_t peer = 0;  // hostId of the router the destination port lives on; 0 = here
  bool is_global = false;
  uint8_t dgid[16] = {};
};

// Why the head send WR of a QP is waiting, so the sleeper knows its timer.
// kThrottle: a rate cap of the container or its tenant holds the head WR (throttle.h).
enum class Wait : uint8_t { kNone, kRetry, kRnr, kResource, kThrottle };

struct Qp {
  uint32_t sid = 0, handle = 0, qpn = 0, type = 0, pd = 0;
  uint32_t tenant = 0, lid = 0;
  uint32_t state = FFR_QPS_RESET;
  bool sq_sig_all = false;
  uint32_t max_send_sge = 0, max_recv_sge = 0, max_inline = 0;
  // Attributes from modify_qp.
  uint32_t access_flags = 0, qkey = 0, dest_qpn = 0, dlid = 0, min_rnr_timer = 0;
  uint32_t rnr_retry = 0, retry_cnt = 0, timeout = 0, path_mtu = 0, sl = 0, pkey_index = 0;
  bool is_global = false;
  uint8_t dgid[16] = {};
  // RC/UC: hostId of the router the peer QP lives on (0 = this router); its
  // transport state lives in remote.
  uint32_t peer = 0;
  std::unique_ptr<RemoteState> remote;

  Mapping map;
  ffr_ring_hdr* sq_hdr = nullptr;
  uint8_t* sq_slots = nullptr;
  uint32_t sq_entries = 0, sq_stride = 0, sq_cons = 0;
  RecvRing rq;  // unused (entries 0) when the QP has an SRQ

  std::shared_ptr<Cq> send_cq, recv_cq;
  std::shared_ptr<Srq> srq;

  // Head-of-SQ progress: timers of the WR at sq_cons.
  Wait wait = Wait::kNone;
  uint64_t wait_until_ns = 0;
  uint64_t retry_deadline_ns = 0;
  uint32_t rnr_used = 0;
  // Status the head WR completes with when the QP is flushed (RETRY_EXC_ERR
  // when the peer's session died), else IBV_WC_WR_FLUSH_ERR.
  uint32_t head_flush_status = 0;
  bool has_head_flush_status = false;
  // A completed WR whose CQE could not be written yet (send CQ full).
  bool cqe_pending = false;
  ffr_cqe pending_cqe{};
  bool pending_to_err = false;

  // The scheduler (sched.h): this QP's container and tenant, its deficit in
  // the round it was last granted one, and bytes of the head WR already
  // copied when it goes in chunks (local WRITE and READ).
  SchedNode* sc_container = nullptr;
  SchedNode* sc_tenant = nullptr;
  SchedClass sc_class = SchedClass::kDefault;
  uint64_t sc_round = 0;
  uint64_t sc_share = 0;
  uint64_t sc_deficit = 0;
  uint64_t sc_want = 0;  // what the refused head lacked, for skipping empty rounds
  uint64_t head_off = 0;
};

struct Tables {
  std::unordered_map<uint32_t, std::unique_ptr<Session>> sessions;
  std::unordered_map<uint64_t, std::shared_ptr<Channel>> channels;
  std::unordered_map<uint64_t, std::shared_ptr<Cq>> cqs;
  std::unordered_map<uint64_t, std::shared_ptr<Mr>> mrs;
  std::unordered_map<uint32_t, Mr*> mr_by_key;
  std::unordered_map<uint64_t, std::shared_ptr<Srq>> srqs;
  std::unordered_map<uint64_t, std::unique_ptr<Ah>> ahs;
  std::unordered_map<uint64_t, std::unique_ptr<Qp>> qps;
  std::unordered_map<uint32_t, Qp*> qp_by_qpn;
  std::vector<Qp*> qp_list;  // iteration order of the sweep; rebuilt on create/destroy
  std::unordered_map<uint32_t, std::unique_ptr<Peer>> peers;  // by hostId
  std::unordered_map<uint64_t, PeerConn*> conn_by_token;     // every open peer socket
  LimiterTable limiters;                                      // rate caps; empty = none (the fast path)
  SchedTable sched;                                           // weights and classes of tenants and containers
  std::vector<std::unique_ptr<PeerConn>> unbound;           // accepted, HELLO not read yet
};

}  // namespace ffr
