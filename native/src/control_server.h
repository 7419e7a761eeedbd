// Control-socket server: accepts shim connections on a Unix stream socket,
// reassembles length-prefixed frames with the fds that rode on them, and hands
// events to a sink. Knows nothing about N-API; addon.cc bridges the sink to a
// thread-safe function.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fd.h"

namespace ffr {

struct CtlEvent {
  enum Kind { kOpen, kMessage, kClose };
  explicit CtlEvent(Kind k) : kind(k) {}
  Kind kind;
  uint32_t conn = 0;
  int32_t pid = 0;
  uint32_t uid = 0, gid = 0;
  std::vector<uint8_t> body;
  std::vector<int> fds;  // ownership moves to whoever consumes the event
  std::string reason;
};

class ControlServer {
 public:
  // Called from the server thread and, for close events, from the caller of
  // close_conn/close. Must not block.
  using Sink = std::function<void(CtlEvent&&)>;

  ControlServer(const std::string& path, Sink sink);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void send(uint32_t conn, const uint8_t* body, size_t len, const std::vector<int>& fds);
  void close_conn(uint32_t conn, const std::string& reason);
  void close();

 private:
  struct Conn {
    uint32_t id;
    UniqueFd fd;
    bool closed = false;  // guarded by mu_; no event is emitted after close
    bool in_body = false;
    uint32_t have = 0;
    uint32_t need = 4;
    uint8_t hdr[4] = {};
    std::vector<uint8_t> body;
    std::vector<UniqueFd> fds;  // received since the current frame began
    std::mutex send_mu;
  };

  void run();
  void accept_all();
  void read_conn(const std::shared_ptr<Conn>& c);
  // Returns false when the connection was closed.
  bool recv_some(const std::shared_ptr<Conn>& c, uint8_t* dst, uint32_t want, bool* again);
  void close_locked(const std::shared_ptr<Conn>& c, const std::string& reason);

  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  Sink sink_;
  UniqueFd listen_fd_, epoll_fd_, wake_fd_;
  std::mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<Conn>> conns_;
  uint32_t next_id_ = 1;
  std::atomic<bool> stopping_{false};
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace ffr
