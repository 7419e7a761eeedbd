#include "dataplane.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "errors.h"
#include "fault_guard.h"
#include "ring.h"

namespace ffr {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

DataPlane::JsLock::JsLock(DataPlane& dp) : dp_(dp) {
  dp_.js_waiting_.fetch_add(1, std::memory_order_acq_rel);
  dp_.mu_.lock();
  dp_.js_waiting_.fetch_sub(1, std::memory_order_acq_rel);
}

DataPlane::JsLock::~JsLock() { dp_.mu_.unlock(); }

DataPlane::DataPlane(uint32_t idle_spin_us, uint32_t max_batch, uint32_t chunk_bytes, const std::vector<uint32_t>& cpus)
    : idle_spin_ns_(static_cast<uint64_t>(idle_spin_us) * 1000), max_batch_(max_batch), chunk_(chunk_bytes) {
  // Checked before the thread exists: a CPU outside the process's own set
  // (cgroup cpuset, taskset) is a configuration error, not a silent subset.
  cpu_set_t want;
  CPU_ZERO(&want);
  if (!cpus.empty()) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) throw_errno("sched_getaffinity");
    for (uint32_t c : cpus) {
      if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed))
        throw_err(EINVAL, "CPU " + std::to_string(c) + " is not among the CPUs this process may run on");
      CPU_SET(c, &want);
    }
  }
  doorbell_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!doorbell_.valid()) throw_errno("eventfd (doorbell)");
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) throw_errno("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = doorbell_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, doorbell_.get(), &ev) != 0) throw_errno("epoll_ctl (doorbell)");
  peer_ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!peer_ep_.valid()) throw_errno("epoll_create1 (peers)");
  ev.data.fd = peer_ep_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, peer_ep_.get(), &ev) != 0) throw_errno("epoll_ctl (peers)");
  install_fault_guard();
  thread_ = std::thread([this] { run(); });
  // Named for top -H, ps -L and taskset by operators.
  (void)::pthread_setname_np(thread_.native_handle(), "ffr-dataplane");
  if (!cpus.empty()) {
    const int err = ::pthread_setaffinity_np(thread_.native_handle(), sizeof(want), &want);
    if (err != 0) {
      close();
      throw_err(err, std::string("pthread_setaffinity_np (data-plane thread): ") + std::strerror(err));
    }
  }
}

DataPlane::~DataPlane() { close(); }

void DataPlane::check_open() const {
  if (closed_) throw_err(EBADF, "data plane is closed");
}

void DataPlane::kick() {
  uint64_t one = 1;
  (void)!::write(doorbell_.get(), &one, sizeof(one));
}

void DataPlane::set_need_wakeup(uint32_t v) {
  for (auto& kv : t_.sessions) store_release(&kv.second->page->need_wakeup, v);
}

// One sweep visits every QP once; it is one round of the scheduler unless
// the byte budget cuts it short (then the next sweep finishes the round).
// Latency and default QPs go in the first pass, bulk ones in the second.
bool DataPlane::sweep(uint64_t now) {
  bool work = false;
  sweep_bytes_ = 0;
  sched_waiting_ = false;
  const size_t n = t_.qp_list.size();
  if (!round_open_) {
    // QPs to other hosts compete for their connection's queue: whoever is
    // swept first fills it, so the first place goes round.
    if (n > 0) sweep_start_ = (sweep_start_ + 1) % n;
    plan_round(now);
    round_pass_ = 0;
    resume_at_ = 0;
  }
  if (sched_dirty_) sched_rebuild();
  if (sweep_start_ >= n) sweep_start_ = 0;
  serve_latency(now);
  for (; round_pass_ < 2; round_pass_++, resume_at_ = 0) {
    for (size_t i = resume_at_; i < n; i++) {
      Qp* qp = t_.qp_list[(sweep_start_ + i) % n];
      if ((qp->sc_class == SchedClass::kBulk) != (round_pass_ == 1)) continue;
      if (sweep_bytes_ >= kSweepByteBudget) {
        resume_at_ = i;
        round_open_ = true;
        return true;
      }
      if (qp->wait != Wait::kNone && now < qp->wait_until_ns) continue;
      // Only the QPs the plan found with work are timed: two clock reads
      // per visit of every idle QP would tax the idle spin for nothing.
      const uint64_t t0 = qp->sc_round == round_ ? now_ns() : 0;
      const uint32_t sid = qp->sid;
      if (qp->state == FFR_QPS_ERR)
        work |= flush_qp(*qp, now);
      else if (qp->peer != 0 && (qp->state == FFR_QPS_RTS || qp->cqe_pending))
        work |= process_remote(*qp, now);
      else if (qp->state == FFR_QPS_RTS || qp->cqe_pending)
        work |= process_sq(*qp, now);
      if (t0 != 0) {
        auto sit = t_.sessions.find(sid);
        if (sit != t_.sessions.end()) sit->second->stats.busy_ns += now_ns() - t0;
      }
    }
  }
  round_open_ = false;
  // A head waiting on its deficit is work: the next round grants it.
  return work || sched_waiting_;
}

uint64_t DataPlane::next_timer(uint64_t now) const {
  // A CQ-room wait is retried every sweep while we spin, but asleep we only
  // look again every millisecond: the shim frees CQ slots without a doorbell.
  constexpr uint64_t kAsleepResourcePollNs = 1000000;
  uint64_t t = 0;
  for (const Qp* qp : t_.qp_list) {
    if (qp->wait == Wait::kNone) continue;
    if (qp->state != FFR_QPS_RTS && qp->state != FFR_QPS_ERR && !qp->cqe_pending) continue;
    // Even an endless RNR or retry wait retries at its own timer: the
    // receiver's doorbell may wake us before that timer is due, the sweep
    // then skips the waiting QP, and without the timer we would sleep on
    // with a sender stuck behind receives that were already posted.
    uint64_t u = qp->wait_until_ns;
    if (qp->wait == Wait::kResource && u < now + kAsleepResourcePollNs) u = now + kAsleepResourcePollNs;
    if (t == 0 || u < t) t = u;
  }
  const uint64_t p = peer_timer(now);
  if (p != 0 && (t == 0 || p < t)) t = p;
  return t;
}

// Idle spinning pays only while the spinner has a core to itself. On a
// 2-core host two apps spinning on memory (ib_write_lat) already fill both
// cores, and a spinning data plane then waits a whole scheduler slice for
// the app it should serve. A gap this long between two idle-spin iterations
// means we were preempted: stop spinning when idle for a while, so the
// doorbell wakes us on the poster's core instead.
constexpr uint64_t kPreemptedNs = 50000;
constexpr uint64_t kSpinBackoffNs = 250000000;

void DataPlane::run() {
  uint64_t last_work = now_ns();
  uint64_t idle_mark = 0;     // start of the previous iteration if it found no work, else 0
  uint64_t spin_off_until = 0;
  uint32_t idle_iters = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    bool work;
    uint64_t now = now_ns();
    if (idle_mark != 0 && now - idle_mark > kPreemptedNs) {
      spin_off_until = now + kSpinBackoffNs;
      preempted_spins_.fetch_add(1, std::memory_order_relaxed);
    }
    idle_mark = 0;
    {
      std::lock_guard<std::mutex> g(mu_);
      work = peer_io(now);
      work |= sweep(now);
      flush_all();
    }
    // std::mutex is not fair: without this the spinning thread re-takes the
    // lock before a woken JS thread gets scheduled.
    for (int i = 0; i < 20000 && js_waiting_.load(std::memory_order_acquire) > 0; i++) cpu_relax();
    if (work) {
      last_work = now;
      continue;
    }
    if (now - last_work < idle_spin_ns_ && now >= spin_off_until) {
      // Apps polling through the shim yield too; yielding now and then lets
      // one that shares our core run at once instead of after our slice,
      // and costs one cheap syscall when nothing else is runnable.
      if ((++idle_iters & 7) == 0) sched_yield();
      else cpu_relax();
      // An idle iteration is a sweep that found nothing: microseconds even
      // over a thousand QPs, so a longer gap to the next one is preemption.
      idle_mark = now;
      continue;
    }
    uint64_t timer;
    {
      std::lock_guard<std::mutex> g(mu_);
      // need_wakeup then seq_cst fence then a last scan: a shim that published
      // prod before seeing need_wakeup is caught by this scan; one that
      // published after will see need_wakeup and ring the doorbell.
      set_need_wakeup(1);
      fence_seq_cst();
      work = peer_io(now_ns());
      work |= sweep(now_ns());
      flush_all();
      if (work) set_need_wakeup(0);
      timer = next_timer(now_ns());
    }
    if (work) {
      last_work = now_ns();
      continue;
    }
    if (stop_.load(std::memory_order_acquire)) break;
    // The epoll fd is itself pollable, which gives ppoll's nanosecond
    // timeout (RNR timers are tens of microseconds) over the whole set.
    pollfd p{epoll_.get(), POLLIN, 0};
    if (timer != 0) {
      uint64_t n = now_ns();
      uint64_t d = timer > n ? timer - n : 0;
      timespec ts{static_cast<time_t>(d / 1000000000ull), static_cast<long>(d % 1000000000ull)};
      ::ppoll(&p, 1, &ts, nullptr);
    } else {
      ::ppoll(&p, 1, nullptr, nullptr);
    }
    drain_doorbells();
    {
      std::lock_guard<std::mutex> g(mu_);
      set_need_wakeup(0);
    }
    // Whoever woke us is likely to post more: spin again before sleeping.
    last_work = now_ns();
  }
}

void DataPlane::drain_doorbells() {
  epoll_event evs[64];
  int n = ::epoll_wait(epoll_.get(), evs, 64, 0);
  for (int i = 0; i < n; i++) {
    // The peer sockets' epoll set is drained by peer_io, not read here.
    if (evs[i].data.fd == peer_ep_.get()) continue;
    uint64_t v;
    // Level-triggered: a doorbell left unread would wake us forever.
    (void)!::read(evs[i].data.fd, &v, sizeof(v));
  }
}

std::vector<std::pair<uint32_t, SessionStats>> DataPlane::stats() {
  JsLock g(*this);
  check_open();
  std::vector<std::pair<uint32_t, SessionStats>> out;
  for (auto& kv : t_.sessions) out.emplace_back(kv.first, kv.second->stats);
  return out;
}

void DataPlane::shutdown() {
  {
    JsLock g(*this);
    check_open();
    for (auto& kv : t_.sessions) store_release(&kv.second->page->router_state, FFR_ROUTER_STOPPING);
    uint64_t now = now_ns();
    for (Qp* qp : t_.qp_list) {
      if (qp->state != FFR_QPS_ERR) set_state(*qp, FFR_QPS_ERR);
      // Flush what the CQs can take now; the rest follows as the shim polls.
      for (int i = 0; i < 1024 && flush_qp(*qp, now); i++) {
      }
    }
    // Wake every waiter: armed CQs get a real event; a channel with none
    // still gets one count, so a thread blocked in ibv_get_cq_event wakes,
    // finds no CQ with new events, and sees router_state STOPPING.
    std::unordered_map<Channel*, bool> fired;
    for (auto& kv : t_.cqs) {
      Cq& cq = *kv.second;
      const uint32_t before = load_acquire(&cq.hdr->events);
      if (take_arm(cq, true)) fire(cq);
      if (cq.channel && load_acquire(&cq.hdr->events) != before) fired[cq.channel.get()] = true;
    }
    for (auto& kv : t_.channels)
      if (!fired.count(kv.second.get())) kv.second->signal();
  }
  kick();
}

void DataPlane::close() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closed_) return;
    closed_ = true;
  }
  stop_.store(true, std::memory_order_release);
  kick();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> g(mu_);
  t_.unbound.clear();
  t_.peers.clear();
  t_.conn_by_token.clear();
  listen_fd_.reset();
  t_.qp_list.clear();
  latency_qps_.clear();
  t_.qp_by_qpn.clear();
  t_.qps.clear();
  t_.ahs.clear();
  t_.srqs.clear();
  t_.mr_by_key.clear();
  t_.mrs.clear();
  t_.cqs.clear();
  t_.channels.clear();
  t_.sessions.clear();
}

}  // namespace ffr
