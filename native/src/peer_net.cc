// Peer connections: listen, dial with backoff, accept and HELLO, writev of
// queued frames, and what a lost connection does to the QPs that used it.
// Runs on the data-plane thread under mu_, except the JS-facing setup calls.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "dataplane.h"
#include "errors.h"
#include "ring.h"

namespace ffr {
namespace {

constexpr uint64_t kListenToken = 1;
constexpr uint64_t kHelloTimeoutNs = 5000000000ull;
constexpr uint32_t kBackoffMinMs = 50, kBackoffMaxMs = 1000;
constexpr int kSockBuf = 4 << 20;

void tune(int fd) {
  int one = 1;
  // Latency: a 64-byte ACK must not wait for Nagle.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int sz = kSockBuf;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  // A pulled cable sends no RST: without these a dead link would hold the
  // connection for the kernel's 15-minute retransmission timeout instead of
  // letting the dialer reconnect. Short link blips still heal within TCP.
  int ka = 1, idle = 5, intvl = 1, cnt = 5;
  (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &ka, sizeof(ka));
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
  unsigned int user_timeout_ms = 10000;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

std::string addr_str(uint32_t addr, uint16_t port) {
  char b[INET_ADDRSTRLEN] = "?";
  in_addr a{};
  a.s_addr = addr;
  ::inet_ntop(AF_INET, &a, b, sizeof(b));
  return std::string(b) + ":" + std::to_string(ntohs(port));
}

}  // namespace

// ---- JS-thread setup -------------------------------------------------------

uint16_t DataPlane::peer_listen(uint32_t addr, uint16_t port) {
  JsLock g(*this);
  check_open();
  if (listen_fd_.valid()) throw_err(EBUSY, "the peer transport already listens");
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw_errno("socket (peer listen)");
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = addr;
  sa.sin_port = port;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
    throw_errno("bind " + addr_str(addr, port) + " (peer listen)");
  if (::listen(fd.get(), 64) != 0) throw_errno("listen (peer)");
  socklen_t len = sizeof(sa);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenToken;
  if (::epoll_ctl(peer_ep_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) throw_errno("epoll_ctl (peer listen)");
  listen_fd_ = std::move(fd);
  kick();
  return sa.sin_port;
}

void DataPlane::set_host_id(uint32_t id) {
  JsLock g(*this);
  check_open();
  if (id == 0) throw_err(EINVAL, "hostId must be non-zero");
  host_id_ = id;
}

void DataPlane::add_peer(uint32_t host_id, uint32_t addr, uint16_t port, uint32_t pool) {
  JsLock g(*this);
  check_open();
  if (host_id_ == 0) throw_err(EINVAL, "set the local hostId before adding peers");
  if (host_id == 0 || host_id == host_id_) throw_err(EINVAL, "peer hostId must be non-zero and not our own");
  if (pool == 0 || pool > FFR_PEER_MAX_POOL) throw_err(EINVAL, "pool must be 1..FFR_PEER_MAX_POOL");
  auto it = t_.peers.find(host_id);
  if (it != t_.peers.end()) {
    Peer& p = *it->second;
    if (p.addr == addr && p.port == port && p.pool == pool) return;
    drop_peer_conns(p, "peer address changed");
    t_.peers.erase(it);
  }
  auto p = std::make_unique<Peer>();
  p->host_id = host_id;
  p->addr = addr;
  p->port = port;
  p->pool = pool;
  // One side dials so exactly `pool` connections join a pair of routers.
  p->dial = host_id_ < host_id;
  p->conns.resize(pool);
  p->retry_at_ns.assign(pool, 0);
  p->backoff_ms.assign(pool, kBackoffMinMs);
  t_.peers[host_id] = std::move(p);
  kick();
}

void DataPlane::remove_peer(uint32_t host_id) {
  JsLock g(*this);
  check_open();
  auto it = t_.peers.find(host_id);
  if (it == t_.peers.end()) return;
  drop_peer_conns(*it->second, "peer removed");
  t_.peers.erase(it);
}

std::vector<DataPlane::PeerInfo> DataPlane::peer_stats() {
  JsLock g(*this);
  check_open();
  std::vector<PeerInfo> out;
  for (auto& kv : t_.peers) {
    const Peer& p = *kv.second;
    PeerInfo i;
    i.host_id = p.host_id;
    i.address = addr_str(p.addr, p.port);
    i.pool = p.pool;
    i.dial = p.dial;
    for (auto& c : p.conns)
      if (c && c->state == ConnState::kUp) i.up++;
    i.bytes_out = p.bytes_out;
    i.bytes_in = p.bytes_in;
    i.frames_out = p.frames_out;
    i.frames_in = p.frames_in;
    i.connects = p.connects;
    i.disconnects = p.disconnects;
    i.retransmits = p.retransmits;
    i.last_error = p.last_error;
    out.push_back(std::move(i));
  }
  return out;
}

// ---- data-plane thread -----------------------------------------------------

void DataPlane::watch(PeerConn& c, bool out) {
  epoll_event ev{};
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
  ev.data.u64 = c.token;
  (void)::epoll_ctl(peer_ep_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.want_out = out;
}

PeerConn* DataPlane::open_conn(UniqueFd fd, ConnState st, bool out) {
  auto c = std::make_unique<PeerConn>();
  c->fd = std::move(fd);
  c->token = next_token_++;
  c->state = st;
  epoll_event ev{};
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
  ev.data.u64 = c->token;
  c->want_out = out;
  if (::epoll_ctl(peer_ep_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) return nullptr;
  PeerConn* raw = c.get();
  t_.conn_by_token[raw->token] = raw;
  pending_conn_ = std::move(c);
  return raw;
}

void DataPlane::dial(Peer& p, uint32_t index, uint64_t now) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return;
  tune(fd.get());
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = p.addr;
  sa.sin_port = p.port;
  const int r = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  if (r != 0 && errno != EINPROGRESS) {
    p.last_error = "connect " + addr_str(p.addr, p.port) + ": " + std::strerror(errno);
    p.retry_at_ns[index] = now + p.backoff_ms[index] * 1000000ull;
    p.backoff_ms[index] = std::min(p.backoff_ms[index] * 2, kBackoffMaxMs);
    return;
  }
  PeerConn* c = open_conn(std::move(fd), ConnState::kConnecting, true);
  if (c == nullptr) return;
  c->host_id = p.host_id;
  c->index = index;
  p.conns[index] = std::move(pending_conn_);
}

void DataPlane::send_hello(PeerConn& c, const Peer& p) {
  TxFrame f;
  f.hdr.op = FFR_PEER_HELLO;
  f.hdr.len = sizeof(ffr_peer_hello);
  ffr_peer_hello h{};
  h.magic = FFR_PEER_MAGIC;
  h.version = FFR_PEER_VERSION;
  h.host_id = host_id_;
  h.pool_index = c.index;
  h.pool_size = p.pool;
  std::memcpy(f.small, &h, sizeof(h));
  f.small_len = sizeof(h);
  enqueue(c, std::move(f));
}

void DataPlane::accept_conns(uint64_t now) {
  for (int i = 0; i < 16; i++) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    tune(fd.get());
    PeerConn* c = open_conn(std::move(fd), ConnState::kAwaitHello, false);
    if (c == nullptr) continue;
    c->hello_deadline_ns = now + kHelloTimeoutNs;
    t_.unbound.push_back(std::move(pending_conn_));
  }
}

// HELLO read on an accepted connection: bind it to its peer and pool slot.
void DataPlane::bind_conn(PeerConn& c) {
  ffr_peer_hello h;
  std::memcpy(&h, c.small, sizeof(h));
  std::unique_ptr<PeerConn> owned;
  for (auto it = t_.unbound.begin(); it != t_.unbound.end(); ++it) {
    if (it->get() == &c) {
      owned = std::move(*it);
      t_.unbound.erase(it);
      break;
    }
  }
  if (!owned) return;
  auto refuse = [&](const std::string& why) {
    auto pit = t_.peers.find(h.host_id);
    if (pit != t_.peers.end()) pit->second->last_error = "refused a connection: " + why;
    close_conn(*owned);
  };
  if (h.magic != FFR_PEER_MAGIC || h.version != FFR_PEER_VERSION) return refuse("bad HELLO magic or version");
  auto pit = t_.peers.find(h.host_id);
  if (pit == t_.peers.end()) return refuse("unknown hostId");
  Peer& p = *pit->second;
  if (p.dial) return refuse("we dial that peer, it must not dial us");
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (::getpeername(owned->fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0 || sa.sin_addr.s_addr != p.addr)
    return refuse("source address is not the peer's advertised address");
  if (h.pool_size != p.pool || h.pool_index >= p.pool) return refuse("pool size differs (check peerPool on both)");
  owned->host_id = p.host_id;
  owned->index = h.pool_index;
  owned->state = ConnState::kUp;
  if (p.conns[h.pool_index]) conn_down(p, h.pool_index, "replaced by a new connection");
  p.conns[h.pool_index] = std::move(owned);
  p.connects++;
}

void DataPlane::close_conn(PeerConn& c) {
  (void)::epoll_ctl(peer_ep_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  t_.conn_by_token.erase(c.token);
  c.fd.reset();
}

// A connection of a peer is gone: RC requesters that used it go back to
// their oldest unacknowledged WR and resend on the next connection (or time
// out by the RC retry rule); queued frames are lost with it.
void DataPlane::conn_down(Peer& p, uint32_t index, const std::string& why) {
  std::unique_ptr<PeerConn> c = std::move(p.conns[index]);
  if (!c) return;
  if (c->state == ConnState::kUp) p.disconnects++;
  p.last_error = why;
  close_conn(*c);
  for (Qp* qp : t_.qp_list) {
    if (qp->peer != p.host_id || !qp->remote || qp->qpn % p.pool != index) continue;
    rewind(*qp);
  }
  if (p.dial) {
    p.retry_at_ns[index] = now_ns() + p.backoff_ms[index] * 1000000ull;
    p.backoff_ms[index] = std::min(p.backoff_ms[index] * 2, kBackoffMaxMs);
  }
}

void DataPlane::drop_peer_conns(Peer& p, const char* why) {
  for (uint32_t i = 0; i < p.pool; i++) conn_down(p, i, why);
}

// The pool connection of a flow. A connected QP pair hashes its two QPNs
// in a fixed order, so both directions share one connection: the ACK of a
// SEND and the SEND its receiver answers with then arrive in the order they
// were sent, and the requester completes the first before the second (as an
// HCA does). Apps waiting on a channel shared by both CQs rely on that.
uint32_t DataPlane::flow_of(const Qp& qp) {
  if (qp.type == FFR_QPT_UD) return qp.qpn;  // unordered anyway: spread by the sender
  const uint32_t lo = std::min(qp.qpn, qp.dest_qpn), hi = std::max(qp.qpn, qp.dest_qpn);
  uint32_t k = lo ^ (hi * 0x9e3779b1u);  // QPNs handed out in sequence still spread over the pool
  return k ^ (k >> 16);
}

PeerConn* DataPlane::conn_for(uint32_t host, uint32_t flow) {
  auto it = t_.peers.find(host);
  if (it == t_.peers.end()) return nullptr;
  Peer& p = *it->second;
  PeerConn* c = p.conns[flow % p.pool].get();
  return c != nullptr && c->state == ConnState::kUp ? c : nullptr;
}

Peer* DataPlane::peer_of(const PeerConn& c) {
  auto it = t_.peers.find(c.host_id);
  return it == t_.peers.end() ? nullptr : it->second.get();
}

void DataPlane::enqueue(PeerConn& c, TxFrame&& f) {
  // An idle queue that starts filling starts its stall clock now.
  if (c.txq.empty()) c.tx_progress_ns = now_ns();
  f.total = sizeof(ffr_peer_hdr) + f.hdr.len;
  c.tx_bytes += f.total;
  c.txq.push_back(std::move(f));
}

// writev as much of the queue as the socket takes. Returns false when the
// connection failed (the caller tears it down).
bool DataPlane::flush_conn(PeerConn& c, std::string* why) {
  while (!c.txq.empty()) {
    iovec iov[64];
    int n = 0;
    for (auto it = c.txq.begin(); it != c.txq.end() && n < 60; ++it) {
      TxFrame& f = *it;
      uint64_t skip = f.sent;
      auto add = [&](const void* p, uint64_t len) {
        if (len == 0 || n >= 64) return;
        if (skip >= len) {
          skip -= len;
          return;
        }
        iov[n].iov_base = const_cast<uint8_t*>(static_cast<const uint8_t*>(p)) + skip;
        iov[n].iov_len = len - skip;
        skip = 0;
        n++;
      };
      add(&f.hdr, sizeof(f.hdr));
      add(f.small, f.small_len);
      add(f.own.data(), f.own.size());
      for (const Seg& s : f.mem) add(s.p, s.len);
    }
    ssize_t w = ::writev(c.fd.get(), iov, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!c.want_out) watch(c, true);
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EFAULT) {
        // The sender's memfd shrank under a queued payload (its app truncated
        // it). The header is out or about to be: the stream must stay whole,
        // so that frame's bytes are sent as zeros (see docs/cluster.md).
        zero_fill_head(c);
        continue;
      }
      *why = std::string("send failed: ") + std::strerror(errno);
      return false;
    }
    uint64_t left = static_cast<uint64_t>(w);
    if (w > 0) c.tx_progress_ns = now_ns();
    Peer* p = peer_of(c);
    if (p) p->bytes_out += left;
    while (left > 0 && !c.txq.empty()) {
      TxFrame& f = c.txq.front();
      const uint64_t take = std::min(left, f.total - f.sent);
      f.sent += take;
      left -= take;
      c.tx_bytes -= take;
      if (f.sent == f.total) {
        if (p) p->frames_out++;
        c.txq.pop_front();
      }
    }
  }
  if (c.want_out) watch(c, false);
  c.tx_progress_ns = now_ns();
  return true;
}

void DataPlane::zero_fill_head(PeerConn& c) {
  // Replace the memory-backed payload of frames until the faulting one is
  // found: writev reported nothing written, so the first frame with memory
  // pieces is the culprit; give it a private zero payload of the same size.
  for (TxFrame& f : c.txq) {
    if (f.mem.empty()) continue;
    uint64_t n = 0;
    for (const Seg& s : f.mem) n += s.len;
    f.mem.clear();
    f.refs.clear();
    f.own.resize(f.own.size() + n, 0);
    zero_fills_++;
    return;
  }
}

// One pass over the peer sockets: accept, finish connects, read frames,
// write queues; dial what is due. Returns whether anything moved.
bool DataPlane::peer_io(uint64_t now) {
  if (t_.peers.empty() && !listen_fd_.valid()) return false;
  bool work = false;
  for (auto& kv : t_.peers) {
    Peer& p = *kv.second;
    if (!p.dial) continue;
    for (uint32_t i = 0; i < p.pool; i++)
      if (!p.conns[i] && now >= p.retry_at_ns[i]) dial(p, i, now);
  }
  for (size_t i = 0; i < t_.unbound.size();) {
    if (now > t_.unbound[i]->hello_deadline_ns) {
      close_conn(*t_.unbound[i]);
      t_.unbound.erase(t_.unbound.begin() + static_cast<long>(i));
    } else {
      i++;
    }
  }
  epoll_event evs[64];
  const int n = ::epoll_wait(peer_ep_.get(), evs, 64, 0);
  for (int i = 0; i < n; i++) {
    const uint64_t tok = evs[i].data.u64;
    if (tok == kListenToken) {
      accept_conns(now);
      work = true;
      continue;
    }
    auto it = t_.conn_by_token.find(tok);
    if (it == t_.conn_by_token.end()) continue;  // closed earlier in this pass
    PeerConn& c = *it->second;
    Peer* p = peer_of(c);
    std::string why;
    if (c.state == ConnState::kConnecting) {
      if ((evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (p == nullptr) continue;
      if (err != 0) {
        conn_down(*p, c.index, "connect " + addr_str(p->addr, p->port) + ": " + std::strerror(err));
        continue;
      }
      c.state = ConnState::kUp;
      p->connects++;
      p->backoff_ms[c.index] = kBackoffMinMs;
      p->last_error.clear();
      send_hello(c, *p);
      work = true;
    }
    if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
      const uint32_t host = c.host_id, index = c.index;
      const bool bound = c.state != ConnState::kAwaitHello;
      if (!conn_read(c, now, &why)) {
        if (bound) {
          if (Peer* pp = t_.peers.count(host) ? t_.peers[host].get() : nullptr) conn_down(*pp, index, why);
        } else {
          drop_unbound(c);
        }
        work = true;
        continue;
      }
      work = true;
    }
    if ((evs[i].events & EPOLLOUT) != 0 && t_.conn_by_token.count(tok) != 0 && c.state == ConnState::kUp) {
      if (!flush_conn(c, &why) && p != nullptr) conn_down(*p, c.index, why);
      work = true;
    }
  }
  return work;
}

void DataPlane::drop_unbound(PeerConn& c) {
  for (auto it = t_.unbound.begin(); it != t_.unbound.end(); ++it) {
    if (it->get() != &c) continue;
    close_conn(c);
    t_.unbound.erase(it);
    return;
  }
}

// Frames produced by the sweep go out at its end: one writev per connection
// for a whole batch of work requests.
void DataPlane::flush_all() {
  for (auto& kv : t_.peers) {
    Peer& p = *kv.second;
    for (uint32_t i = 0; i < p.pool; i++) {
      PeerConn* c = p.conns[i].get();
      if (c == nullptr || c->state != ConnState::kUp || c->txq.empty()) continue;
      std::string why;
      if (!flush_conn(*c, &why)) conn_down(p, i, why);
    }
  }
}

uint64_t DataPlane::peer_timer(uint64_t now) const {
  uint64_t t = 0;
  auto take = [&](uint64_t u) {
    if (u != 0 && (t == 0 || u < t)) t = u;
  };
  for (auto& kv : t_.peers) {
    const Peer& p = *kv.second;
    if (!p.dial) continue;
    for (uint32_t i = 0; i < p.pool; i++)
      if (!p.conns[i]) take(p.retry_at_ns[i] > now ? p.retry_at_ns[i] : now + 1);
  }
  for (auto& c : t_.unbound) take(c->hello_deadline_ns);
  for (const Qp* qp : t_.qp_list)
    if (qp->remote && qp->remote->timer_on && qp->timeout != 0 && qp->state == FFR_QPS_RTS) take(qp->remote->ack_deadline_ns);
  return t;
}

}  // namespace ffr
