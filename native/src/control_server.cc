#include "control_server.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "errors.h"
#include "ffproto.h"

namespace ffr {
namespace {

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = UINT64_MAX;
// A reply the shim does not read within this time means a wedged peer; the
// router must not stall its event loop on it forever.
constexpr int kSendTimeoutMs = 5000;
// Room for more fds than allowed, so an oversized batch is seen (and refused)
// rather than silently truncated.
constexpr size_t kCmsgFds = FFR_MAX_FDS * 4;
// Frames handled per readiness event before other connections get a turn.
constexpr int kFramesPerWake = 64;

}  // namespace

ControlServer::ControlServer(const std::string& path, Sink sink) : path_(path), sink_(std::move(sink)) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) throw_err(ENAMETOOLONG, "socket path empty or too long: " + path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    // A stale socket from a previous router is ours to replace; anything else is not.
    if (!S_ISSOCK(st.st_mode)) throw_err(EEXIST, "socket path exists and is not a socket: " + path);
    if (::unlink(path.c_str()) != 0) throw_errno("unlink stale socket " + path);
  }
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_.valid()) throw_errno("socket");
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) throw_errno("bind " + path);
  // Containers run as arbitrary uids; identity comes from SO_PEERCRED and the
  // netns, never from who was allowed to connect.
  if (::chmod(path.c_str(), 0666) != 0) throw_errno("chmod " + path);
  if (::stat(path.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  if (::listen(listen_fd_.get(), 128) != 0) throw_errno("listen " + path);

  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) throw_errno("epoll_create1");
  wake_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_.valid()) throw_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev) != 0) throw_errno("epoll_ctl listen");
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0) throw_errno("epoll_ctl wake");
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() { close(); }

void ControlServer::run() {
  epoll_event evs[64];
  while (!stopping_.load(std::memory_order_acquire)) {
    int n = ::epoll_wait(epoll_fd_.get(), evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // only on a broken epoll fd; close() still cleans up
    }
    for (int i = 0; i < n; i++) {
      const uint64_t tag = evs[i].data.u64;
      if (tag == kWakeTag) continue;
      if (tag == kListenTag) {
        accept_all();
        continue;
      }
      std::shared_ptr<Conn> c;
      {
        std::lock_guard<std::mutex> g(mu_);
        auto it = conns_.find(static_cast<uint32_t>(tag));
        if (it != conns_.end()) c = it->second;
      }
      if (c) read_conn(c);
    }
  }
}

void ControlServer::accept_all() {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      // Out of fds: the listener stays readable (level-triggered), so pause
      // instead of spinning on accept until some fd is closed.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) ::usleep(10000);
      return;
    }
    ucred cred{};
    socklen_t cl = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) continue;
    auto c = std::make_shared<Conn>();
    c->fd = std::move(fd);
    std::lock_guard<std::mutex> g(mu_);
    if (closed_) return;
    c->id = next_id_++;
    if (next_id_ == 0 || next_id_ == UINT32_MAX) next_id_ = 1;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) continue;
    conns_[c->id] = c;
    CtlEvent e(CtlEvent::kOpen);
    e.conn = c->id;
    e.pid = cred.pid;
    e.uid = cred.uid;
    e.gid = cred.gid;
    sink_(std::move(e));
  }
}

bool ControlServer::recv_some(const std::shared_ptr<Conn>& c, uint8_t* dst, uint32_t want, bool* again) {
  *again = false;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kCmsgFds)];
  iovec iov{dst, want};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof(cbuf);
  ssize_t r = ::recvmsg(c->fd.get(), &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (r < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      *again = true;
      return true;
    }
    std::lock_guard<std::mutex> g(mu_);
    close_locked(c, std::string("recv failed: ") + std::strerror(errno));
    return false;
  }
  // Take every fd first so none leaks whatever we decide next.
  for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      c->fds.emplace_back(fd);
    }
  }
  if (r == 0) {
    std::lock_guard<std::mutex> g(mu_);
    close_locked(c, c->have != 0 || c->in_body ? "peer closed mid-frame" : "peer closed");
    return false;
  }
  if ((mh.msg_flags & MSG_CTRUNC) != 0 || c->fds.size() > FFR_MAX_FDS) {
    std::lock_guard<std::mutex> g(mu_);
    close_locked(c, "more than FFR_MAX_FDS (" + std::to_string(FFR_MAX_FDS) + ") fds on one frame");
    return false;
  }
  c->have += static_cast<uint32_t>(r);
  return true;
}

void ControlServer::read_conn(const std::shared_ptr<Conn>& c) {
  // Reads never cross a frame boundary: the kernel attaches fds to the first
  // byte of the sender's sendmsg, so reading only the current frame's bytes
  // guarantees every fd we collect belongs to this frame, not the next.
  for (int frames = 0; frames < kFramesPerWake;) {
    bool again = false;
    if (!c->in_body) {
      if (!recv_some(c, c->hdr + c->have, c->need - c->have, &again)) return;
      if (again) return;
      if (c->have < c->need) continue;
      uint32_t len = static_cast<uint32_t>(c->hdr[0]) | static_cast<uint32_t>(c->hdr[1]) << 8 |
                     static_cast<uint32_t>(c->hdr[2]) << 16 | static_cast<uint32_t>(c->hdr[3]) << 24;
      if (len > FFR_MAX_FRAME) {
        std::lock_guard<std::mutex> g(mu_);
        close_locked(c, "frame of " + std::to_string(len) + " bytes exceeds FFR_MAX_FRAME");
        return;
      }
      c->in_body = true;
      c->have = 0;
      c->need = len;
      c->body.assign(len, 0);
    }
    if (c->have < c->need) {
      if (!recv_some(c, c->body.data() + c->have, c->need - c->have, &again)) return;
      if (again) return;
      if (c->have < c->need) continue;
    }
    CtlEvent e(CtlEvent::kMessage);
    e.conn = c->id;
    e.body = std::move(c->body);
    for (auto& fd : c->fds) e.fds.push_back(fd.release());
    c->fds.clear();
    c->body.clear();
    c->in_body = false;
    c->have = 0;
    c->need = 4;
    frames++;
    std::lock_guard<std::mutex> g(mu_);
    if (c->closed) {
      for (int fd : e.fds) ::close(fd);
      return;
    }
    sink_(std::move(e));
  }
}

void ControlServer::close_locked(const std::shared_ptr<Conn>& c, const std::string& reason) {
  if (c->closed) return;
  c->closed = true;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->fd.get(), nullptr);
  // shutdown, not close: a concurrent send() may still hold the fd; it is
  // closed when the last reference to the Conn goes.
  ::shutdown(c->fd.get(), SHUT_RDWR);
  conns_.erase(c->id);
  CtlEvent e(CtlEvent::kClose);
  e.conn = c->id;
  e.reason = reason;
  sink_(std::move(e));
}

void ControlServer::send(uint32_t conn, const uint8_t* body, size_t len, const std::vector<int>& fds) {
  if (len > FFR_MAX_FRAME) throw_err(EMSGSIZE, "frame body exceeds FFR_MAX_FRAME");
  if (fds.size() > FFR_MAX_FDS) throw_err(EINVAL, "more than FFR_MAX_FDS fds");
  std::shared_ptr<Conn> c;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = conns_.find(conn);
    if (it == conns_.end()) throw_err(ENOTCONN, "send: no open connection " + std::to_string(conn));
    c = it->second;
  }
  std::lock_guard<std::mutex> sg(c->send_mu);
  uint8_t hdr[4] = {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len >> 16),
                    static_cast<uint8_t>(len >> 24)};
  iovec iov[2] = {{hdr, 4}, {const_cast<uint8_t*>(body), len}};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * FFR_MAX_FDS)];
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  if (!fds.empty()) {
    mh.msg_control = cbuf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSendTimeoutMs);
  size_t left = 4 + len;
  while (left > 0) {
    ssize_t r = ::sendmsg(c->fd.get(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        const int err = errno;
        // Part of the frame is out: the stream can never be framed again.
        if (left != 4 + len) {
          std::lock_guard<std::mutex> g(mu_);
          close_locked(c, "send failed mid-frame");
        }
        throw_errno("send to connection " + std::to_string(conn), err);
      }
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        {
          std::lock_guard<std::mutex> g(mu_);
          close_locked(c, "send timed out (peer not reading)");
        }
        throw_err(ETIMEDOUT, "send to connection " + std::to_string(conn) + " timed out");
      }
      pollfd p{c->fd.get(), POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1);
      continue;
    }
    left -= static_cast<size_t>(r);
    // Fds went with the first byte; partial writes resume without them.
    mh.msg_control = nullptr;
    mh.msg_controllen = 0;
    size_t adv = static_cast<size_t>(r);
    while (adv > 0 && mh.msg_iovlen > 0) {
      size_t take = std::min(adv, mh.msg_iov[0].iov_len);
      mh.msg_iov[0].iov_base = static_cast<uint8_t*>(mh.msg_iov[0].iov_base) + take;
      mh.msg_iov[0].iov_len -= take;
      adv -= take;
      if (mh.msg_iov[0].iov_len == 0) {
        mh.msg_iov++;
        mh.msg_iovlen--;
      }
    }
  }
}

void ControlServer::close_conn(uint32_t conn, const std::string& reason) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;  // already gone: its close event is on its way
  close_locked(std::shared_ptr<Conn>(it->second), reason);
}

void ControlServer::close() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closed_) return;
    closed_ = true;
  }
  stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<std::shared_ptr<Conn>> all;
    for (auto& kv : conns_) all.push_back(kv.second);
    for (auto& c : all) close_locked(c, "server closed");
  }
  // Only remove the path if it is still the socket we bound (a new router may own it now).
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
  listen_fd_.reset();
}

}  // namespace ffr
