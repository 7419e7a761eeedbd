// The router-to-router transport's state (docs/cluster.md "Peer transport"):
// peers, their pooled TCP connections, frames waiting to be written, and the
// per-QP requester/responder state of QPs whose other end is on another host.
// Everything here belongs to the data-plane thread and is touched under mu_.
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "fd.h"
#include "ffproto.h"

namespace ffr {

struct Mr;

// One contiguous piece of mapped memory.
struct Seg {
  uint8_t* p;
  uint64_t len;
};

// A frame queued on a connection. The payload is gathered from mapped
// regions at write time (writev), so the regions stay mapped through refs.
struct TxFrame {
  ffr_peer_hdr hdr{};
  uint8_t small[32] = {};  // HELLO / atomic payloads and copied inline data up to 32 bytes
  uint32_t small_len = 0;
  std::vector<uint8_t> own;  // copied payload (inline data): the SQ slot may change under us
  std::vector<Seg> mem;      // payload in mapped memory, after small/own
  std::vector<std::shared_ptr<Mr>> refs;
  uint64_t total = 0, sent = 0;
};

enum class ConnState : uint8_t { kConnecting, kAwaitHello, kUp };

// What the frame being read is for, decided when its header is in.
enum class Job : uint8_t { kDiscard, kHello, kDupAck, kData, kAtomicReq, kAtomicResp, kReadResp, kControl };

struct PeerConn {
  UniqueFd fd;
  uint64_t token = 0;     // epoll data: looked up, never dereferenced blindly
  uint32_t host_id = 0;   // 0 until the acceptor has read HELLO
  uint32_t index = 0;     // position in the peer's pool
  ConnState state = ConnState::kConnecting;
  bool want_out = false;  // EPOLLOUT registered
  uint64_t hello_deadline_ns = 0;

  std::deque<TxFrame> txq;
  uint64_t tx_bytes = 0;  // payload + headers queued, not yet written
  // Last time the socket took bytes (or the queue was empty): a queue that
  // drains is congestion, one that does not is a dead link.
  uint64_t tx_progress_ns = 0;

  // Receive side: a small staging buffer batches headers of small frames;
  // payloads beyond what it already holds are read straight into memory.
  uint8_t stage[4096];
  uint32_t stage_len = 0, stage_off = 0;
  ffr_peer_hdr rh{};
  uint32_t rh_got = 0;
  uint32_t pay_left = 0;                    // payload bytes of rh still to read
  std::vector<Seg> dst;                     // where they go (empty = discard)
  size_t dst_i = 0;
  uint64_t dst_off = 0;
  std::vector<std::shared_ptr<Mr>> dst_refs;  // keep dst mapped across reads
  uint8_t small[32] = {};                   // HELLO / atomic payloads land here
  bool into_small = false;
  bool copy_failed = false;                 // a readv into dst hit EFAULT: rest discarded
  Job job = Job::kDiscard;
  uint32_t job_qpn = 0;                     // responder QP of a kData frame (looked up again at the end)
};

struct Peer {
  uint32_t host_id = 0;
  uint32_t addr = 0;   // IPv4, network order
  uint16_t port = 0;   // network order
  uint32_t pool = 1;
  bool dial = false;   // we connect (lower hostId) or we accept
  std::vector<std::unique_ptr<PeerConn>> conns;  // size pool; null = down
  std::vector<uint64_t> retry_at_ns;             // dialer: next attempt per index
  std::vector<uint32_t> backoff_ms;
  // Counters for ffctl and /metrics.
  uint64_t bytes_out = 0, bytes_in = 0, frames_out = 0, frames_in = 0;
  uint64_t connects = 0, disconnects = 0, retransmits = 0;
  std::string last_error;
};

// An RC message sent and not yet acknowledged (requester side).
struct InFlight {
  uint32_t psn = 0;
  uint32_t slot = 0;  // SQ index of the WR
  uint64_t wr_id = 0;
  uint32_t opcode = 0;
  uint32_t len = 0;
  bool signaled = false;
  bool acked = false;    // done: completes once it is the head
  uint32_t status = 0;   // ibv_wc_status it completes with
  std::vector<Seg> local;  // READ / atomic: where the response lands
  std::vector<std::shared_ptr<Mr>> refs;
};

// Requester and responder state of a QP whose peer is on another host.
struct RemoteState {
  // Requester: sq_cons <= sq_sent <= prod; [sq_cons, sq_sent) are in flight.
  uint32_t sq_sent = 0;
  uint32_t next_psn = 0;
  uint64_t tx_off = 0;  // bytes of the WR at sq_sent already framed
  std::deque<InFlight> inflight;
  // The transport timer runs while the SQ holds posted WRs not yet
  // completed (sent or not: a stalled connection must time out too).
  bool timer_on = false;
  uint64_t ack_deadline_ns = 0;
  uint32_t retries = 0;
  bool stopped = false;  // a NAK ended the QP: send nothing more
  // After an RNR NAK the requester sends nothing but a PROBE (a header)
  // each RNR period until the responder says READY: an absent receiver then
  // costs 64 bytes per period on the shared connection, not whole messages.
  bool probing = false;
  bool probe_sent = false;
  // Responder: the message being placed (segments of one message arrive in
  // order on one connection).
  uint32_t expect_psn = 0;
  bool rx_active = false;
  uint32_t rx_psn = 0, rx_op = 0, rx_flags = 0, rx_imm = 0, rx_src_qpn = 0, rx_src_lid = 0;
  uint64_t rx_wr_id = 0;
  uint32_t rx_msg_len = 0, rx_next_off = 0;
  bool rx_has_rwqe = false;  // a receive WQE was taken for this message
  bool rx_reserved = false;  // and a slot of the receive CQ is held for its completion
  std::vector<Seg> rx_segs;  // the receive buffer (SEND) or the target range (WRITE)
  std::vector<std::shared_ptr<Mr>> rx_refs;
  // Results of recent atomics, so a duplicate after a reconnect is answered
  // without executing twice (the IB responder resources).
  struct AtomicResult { uint32_t psn; bool valid; uint64_t orig; };
  AtomicResult atomics[8] = {};
  uint32_t atomic_next = 0;
};

inline bool psn_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace ffr
