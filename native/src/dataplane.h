// The data plane: one thread that sweeps every QP's send ring, executes work
// requests between mapped memory regions, writes completions, and sleeps on
// the doorbell eventfd when idle. JS-thread mutations take mu_; the thread
// holds it for one sweep at a time.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fd.h"
#include "tables.h"

namespace ffr {

// The completion opcode a requester sees for its work request (completion.cc).
uint32_t wc_opcode_of(uint32_t wr_opcode);
// IB encoding of the minimal RNR NAK timer, in nanoseconds (exec.cc).
uint64_t rnr_timer_ns(uint32_t code);

// The largest SQ slot: a WQE header and the larger of inline data and SGEs.
constexpr uint32_t kMaxSqStride =
    80 + (FFR_MAX_INLINE > 16 * FFR_MAX_SGE ? FFR_MAX_INLINE : 16 * FFR_MAX_SGE) + 16;

struct RingInfo {
  int fd = -1;  // caller owns (sends it, then closes it)
  uint32_t ring_bytes = 0;
  uint32_t entries = 0, stride = 0;  // CQ / SRQ
  uint32_t sq_offset = 0, sq_entries = 0, sq_stride = 0;
  uint32_t rq_offset = 0, rq_entries = 0, rq_stride = 0;
};

struct MrParams {
  uint32_t pd = 0, key = 0, access = 0;
  uint64_t addr = 0, length = 0, iova = 0, fd_offset = 0, fd_size = 0;
};

struct SrqParams {
  uint32_t pd = 0, entries = 0, max_sge = 0, limit = 0;
};

struct QpParams {
  uint32_t qpn = 0, type = 0, pd = 0, send_cq = 0, recv_cq = 0, srq = 0;
  uint32_t sq_entries = 0, rq_entries = 0, max_send_sge = 0, max_recv_sge = 0, max_inline = 0;
  bool sq_sig_all = false;
  uint32_t tenant = 0, lid = 0;
};

// Every attribute is optional: modify_qp changes only what is given.
struct QpAttrs {
  std::optional<uint32_t> state, access_flags, qkey, dest_qpn, dlid, min_rnr_timer, rnr_retry, retry_cnt,
      timeout, path_mtu, sl, pkey_index, peer;
  std::optional<bool> is_global;
  std::optional<std::array<uint8_t, 16>> dgid;
};

struct AhParams {
  uint32_t pd = 0, dlid = 0, sl = 0, src_path_bits = 0, port_num = 0, peer = 0;
  bool is_global = false;
  uint8_t dgid[16] = {};
};

class DataPlane {
 public:
  // cpus: where the data-plane thread may run; empty = wherever the process may.
  // chunk_bytes: pieces of large local WRITEs and READs (sched.h).
  DataPlane(uint32_t idle_spin_us, uint32_t max_batch, uint32_t chunk_bytes, const std::vector<uint32_t>& cpus);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  struct SessionFds { int page; int doorbell; };
  // page is the caller's to send and close; doorbell stays the session's.
  SessionFds add_session(uint32_t sid, uint32_t tenant, uint32_t lid);
  void remove_session(uint32_t sid, bool crashed);
  void add_channel(uint32_t sid, uint32_t ch, UniqueFd wake);
  void remove_channel(uint32_t sid, uint32_t ch);
  RingInfo create_cq(uint32_t sid, uint32_t cq, uint32_t entries, uint32_t channel);
  void destroy_cq(uint32_t sid, uint32_t cq);
  void reg_mr(uint32_t sid, uint32_t mr, const MrParams& p, UniqueFd fd);
  void dereg_mr(uint32_t sid, uint32_t mr);
  RingInfo create_srq(uint32_t sid, uint32_t srq, const SrqParams& p);
  void modify_srq(uint32_t sid, uint32_t srq, uint32_t limit);
  // Rate caps of a tenant (lid 0) or a container; 0 and 0 removes them (throttle.cc).
  void set_limit(uint32_t tenant, uint32_t lid, uint64_t bytes_per_s, uint64_t wrs_per_s);
  // Weight and class of a tenant (lid 0) or a container; 1 and kUnset are the defaults (sched.cc).
  void set_sched(uint32_t tenant, uint32_t lid, uint32_t weight, SchedClass cls);
  void destroy_srq(uint32_t sid, uint32_t srq);
  RingInfo create_qp(uint32_t sid, uint32_t qp, const QpParams& p);
  void modify_qp(uint32_t sid, uint32_t qp, const QpAttrs& a);
  uint32_t qp_state(uint32_t sid, uint32_t qp);
  void destroy_qp(uint32_t sid, uint32_t qp);
  void create_ah(uint32_t sid, uint32_t ah, const AhParams& p);
  void destroy_ah(uint32_t sid, uint32_t ah);
  std::vector<std::pair<uint32_t, SessionStats>> stats();

  // The peer transport (peer_net.cc). Addresses and ports in network order.
  uint16_t peer_listen(uint32_t addr, uint16_t port);
  void set_host_id(uint32_t id);
  void add_peer(uint32_t host_id, uint32_t addr, uint16_t port, uint32_t pool);
  void remove_peer(uint32_t host_id);
  struct PeerInfo {
    uint32_t host_id = 0, pool = 0, up = 0;
    bool dial = false;
    std::string address, last_error;
    uint64_t bytes_out = 0, bytes_in = 0, frames_out = 0, frames_in = 0;
    uint64_t connects = 0, disconnects = 0, retransmits = 0;
  };
  std::vector<PeerInfo> peer_stats();

  void shutdown();
  void close();

  struct Exec;  // outcome of one send WR (exec.cc)
  using Seg = ffr::Seg;

 private:
  // Lock taken by the JS thread: announces itself so the spinning data-plane
  // thread yields the mutex instead of re-taking it at once.
  class JsLock {
   public:
    explicit JsLock(DataPlane& dp);
    ~JsLock();

   private:
    DataPlane& dp_;
  };


  void run();
  bool sweep(uint64_t now);
  uint64_t next_timer(uint64_t now) const;
  void set_need_wakeup(uint32_t v);
  void kick();
  void check_open() const;

  // throttle.cc
  bool throttled(Qp& qp, uint64_t len, uint64_t now);
  // sched.cc
  void sched_attach(Qp& q);
  void sched_detach(Qp& q);
  void sched_rebuild();
  bool sched_active(const Qp& q, uint64_t now) const;
  uint64_t share_of(const Qp& q) const;
  void plan_round(uint64_t now);
  bool sched_admit(Qp& q, uint64_t cost);
  void sched_refund(Qp& q, uint64_t cost);
  void serve_latency(uint64_t now);

  // exec.cc
  bool process_sq(Qp& qp, uint64_t now);
  bool write_pending_cqe(Qp& qp, uint64_t now, bool* work);
  Exec execute(Qp& qp, const ffr_swqe& w, const uint8_t* payload, uint64_t now);
  Exec exec_send(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& src, uint64_t len, const Ah* ah,
                 uint64_t now);
  Exec exec_write(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& src, uint64_t len, uint64_t off,
                  uint64_t piece, uint64_t now);
  Exec exec_read(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& local, uint64_t len, uint64_t off,
                 uint64_t piece);
  Exec exec_atomic(Qp& qp, Qp* dst, const ffr_swqe& w, const std::vector<Seg>& local);
  Exec rc_retry(Qp& qp, uint64_t now);
  Exec rnr(Qp& qp, const Qp& dst, uint64_t now);
  Qp* connected_peer(const Qp& qp);
  Mr* remote_mr(const Qp& dst, uint32_t rkey, uint64_t addr, uint64_t len, uint32_t need);
  int gather_local(uint32_t sid, uint32_t pd, const uint8_t* sges, uint32_t n, bool write, std::vector<Seg>* out,
                   uint64_t* total, std::vector<Mr*>* mrs = nullptr);
  Exec wait_resource(Qp& qp, uint64_t now);
  Exec recv_error(Qp& qp, Qp& dst, RecvRing& rr, uint64_t wr_id, uint32_t status);
  void count(uint32_t sid, uint64_t bytes_out, uint64_t bytes_in, uint64_t wrs_out, uint64_t wrs_in);
  static void scatter_copy(const std::vector<Seg>& src, const std::vector<Seg>& dst);
  // scatter_copy under the SIGBUS guard: which side's memory vanished, if any.
  enum class Fault { kNone, kSrc, kDst };
  static Fault guarded_copy(const std::vector<Seg>& src, const std::vector<Seg>& dst);

  uint32_t prepare_wr(Qp& qp, const ffr_swqe& w, const uint8_t* payload, uint64_t* len, const uint8_t** inline_data);
  static bool atomic_at(uint8_t* p, bool cas, uint64_t compare_add, uint64_t swap, uint64_t* orig);

  // peer_net.cc: connections
  void watch(PeerConn& c, bool out);
  PeerConn* open_conn(UniqueFd fd, ConnState st, bool out);
  void dial(Peer& p, uint32_t index, uint64_t now);
  void send_hello(PeerConn& c, const Peer& p);
  void accept_conns(uint64_t now);
  void bind_conn(PeerConn& c);
  void close_conn(PeerConn& c);
  void conn_down(Peer& p, uint32_t index, const std::string& why);
  void drop_peer_conns(Peer& p, const char* why);
  void drop_unbound(PeerConn& c);
  static uint32_t flow_of(const Qp& qp);
  PeerConn* conn_for(uint32_t host, uint32_t flow);
  Peer* peer_of(const PeerConn& c);
  void enqueue(PeerConn& c, TxFrame&& f);
  bool flush_conn(PeerConn& c, std::string* why);
  void zero_fill_head(PeerConn& c);
  bool peer_io(uint64_t now);
  void flush_all();
  uint64_t peer_timer(uint64_t now) const;
  // peer_rx.cc: frames in
  std::shared_ptr<Mr> mr_ref(const Mr* m);
  RemoteState& remote_of(Qp& qp);
  Qp* responder(const ffr_peer_hdr& h, const PeerConn& c);
  Qp* requester(const ffr_peer_hdr& h, const PeerConn& c);
  void reply(PeerConn& c, const ffr_peer_hdr& req, uint32_t op, uint32_t code, uint32_t imm);
  void rx_abort(Qp& d);
  void rx_fail(PeerConn& c, Qp& d, const ffr_peer_hdr& h, uint32_t wc_status, uint32_t nak);
  bool rx_take_rwqe(PeerConn& c, Qp& d, const ffr_peer_hdr& h, bool scatter);
  bool begin_frame(PeerConn& c, uint64_t now, std::string* why);
  void rx_data_begin(PeerConn& c, uint64_t now);
  bool end_frame(PeerConn& c, uint64_t now, std::string* why);
  void rx_data_end(PeerConn& c, const ffr_peer_hdr& h, uint64_t now);
  void rx_read(PeerConn& c, const ffr_peer_hdr& h);
  void rx_atomic(PeerConn& c, const ffr_peer_hdr& h);
  void rx_probe(PeerConn& c, const ffr_peer_hdr& h);
  void on_response(PeerConn& c, const ffr_peer_hdr& h, Job job, uint64_t now);
  bool conn_read(PeerConn& c, uint64_t now, std::string* why);
  void place_bytes(PeerConn& c, const uint8_t* src, uint32_t n);
  void advance_dst(PeerConn& c, uint64_t n);
  // peer_tx.cc: frames out
  static uint64_t rc_timeout_ns(const Qp& qp);
  void rewind(Qp& qp);
  void rewind_to(Qp& qp, std::deque<InFlight>::iterator from);
  void fail_from(Qp& qp, std::deque<InFlight>::iterator e, uint32_t status);
  void fail_head(Qp& qp, uint32_t status);
  void send_ud_remote(Qp& qp, const Ah& ah, const ffr_swqe& w, const std::vector<Seg>& src, uint64_t len,
                      const uint8_t* inline_data);
  void refs_of(const std::vector<Mr*>& mrs, std::vector<std::shared_ptr<Mr>>* refs);
  static ffr_peer_hdr request_hdr(const Qp& qp, uint32_t op, uint32_t dst_qpn, uint32_t dst_lid, uint32_t psn);
  bool complete_remote_head(Qp& qp, uint64_t now, bool may_wait = true);
  void complete_on_arrival(Qp& qp, uint64_t now);
  bool process_remote(Qp& qp, uint64_t now);
  void uc_complete(Qp& qp, const ffr_swqe& w, uint32_t status, uint64_t now);

  // completion.cc
  bool cq_room(const Cq& cq) const;
  bool cq_push(Cq& cq, const ffr_cqe& e, bool solicited);
  bool take_arm(Cq& cq, bool solicited_or_error);
  void fire(Cq& cq);
  bool flush_qp(Qp& qp, uint64_t now);
  void set_state(Qp& qp, uint32_t state);
  void discard_rings(Qp& qp);
  // Receive-side helpers shared by SEND and WRITE_WITH_IMM.
  RecvRing* recv_ring(Qp& dst);
  bool peek_rwqe(RecvRing& r, uint8_t* buf);
  void pop_rwqe(RecvRing& r);

  uint64_t idle_spin_ns_;
  uint32_t max_batch_;
  uint64_t chunk_;
  UniqueFd doorbell_;  // kicks from the JS thread (object changes, stop)
  UniqueFd epoll_;     // doorbell_ plus every session's doorbell
  void drain_doorbells();
  std::mutex mu_;
  std::atomic<int> js_waiting_{0};
  std::atomic<bool> stop_{false};
  // Times an idle spin was preempted (see kPreemptedNs in dataplane.cc).
  std::atomic<uint64_t> preempted_spins_{0};
  bool closed_ = false;
  Tables t_;
  // Scratch for the data-plane thread only (no allocation per WR).
  std::vector<Seg> seg_a_, seg_b_, seg_c_;
  std::vector<Mr*> seg_a_mrs_;  // the MR behind each piece of seg_a_ (prepare_wr)
  // Bytes moved in the current sweep: past a budget the sweep ends early so
  // the JS thread's mutations never wait behind a long train of big copies.
  uint64_t sweep_bytes_ = 0;
  size_t sweep_start_ = 0;
  // The scheduler's round (sched.h). A sweep cut short by the byte budget
  // leaves the round open: the next sweep goes on from resume_at_ in the
  // same pass, so every active QP gets its turn before new shares.
  uint64_t round_ = 0;
  bool round_open_ = false;
  uint32_t round_pass_ = 0;  // 0: latency and default QPs, 1: bulk
  size_t resume_at_ = 0;
  bool round_admitted_ = true;
  uint64_t round_min_skip_ = 0;
  uint64_t round_wsum_ = 0;  // weights of the tenants active at the plan
  bool sched_waiting_ = false;  // a head waits on its deficit: there is work
  bool sched_dirty_ = true;
  bool serving_latency_ = false;
  std::vector<Qp*> latency_qps_;
  // The peer transport: sockets live in their own epoll set, itself one
  // of the fds the sleeping thread waits on.
  UniqueFd peer_ep_, listen_fd_;
  uint32_t host_id_ = 0;
  uint64_t next_token_ = 2;
  std::unique_ptr<PeerConn> pending_conn_;  // handed from open_conn to its owner
  uint64_t zero_fills_ = 0;
  uint8_t discard_[65536];  // payloads nobody may receive are drained here
  std::thread thread_;
};

uint64_t now_ns();

// Bytes one sweep may move before it yields the lock (see sweep_bytes_).
constexpr uint64_t kSweepByteBudget = 8u << 20;

}  // namespace ffr
