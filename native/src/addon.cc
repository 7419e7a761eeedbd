// N-API bindings only: argument validation, conversion, and error mapping.
// The engines (ControlServer, DataPlane) know nothing about JS.
#include <arpa/inet.h>
#include <napi.h>
#include <unistd.h>

#include <memory>
#include <new>
#include <set>

#include "control_server.h"
#include "dataplane.h"
#include "errors.h"
#include "js_args.h"

namespace ffr {
namespace {

class ControlServerWrap;
class DataPlaneWrap;

// Per-environment state (worker threads each get their own). Closes whatever
// JS left open when the environment goes away, so no thread outlives it.
struct AddonState {
  Napi::FunctionReference control_server_ctor, data_plane_ctor;
  std::set<ControlServerWrap*> servers;
  std::set<DataPlaneWrap*> planes;
  ~AddonState();
};

AddonState* state(Napi::Env env) { return env.GetInstanceData<AddonState>(); }

template <class F>
auto guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SysError& e) {
    throw js_error(env, e.err(), e.what());
  } catch (const std::bad_alloc&) {
    throw js_error(env, ENOMEM, "out of memory");
  } catch (const std::system_error& e) {
    throw js_error(env, e.code().value(), e.what());
  }
}

Napi::Object ring_object(Napi::Env env, const RingInfo& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", r.fd);
  o.Set("ringBytes", r.ring_bytes);
  return o;
}

// ---------------------------------------------------------------- ControlServer

void deliver(Napi::Env env, Napi::Function fn, CtlEvent* raw) {
  std::unique_ptr<CtlEvent> ev(raw);
  if (env == nullptr) {  // environment tearing down: nobody will own the fds
    for (int fd : ev->fds) ::close(fd);
    return;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("conn", ev->conn);
  switch (ev->kind) {
    case CtlEvent::kOpen:
      o.Set("type", "open");
      o.Set("pid", ev->pid);
      o.Set("uid", ev->uid);
      o.Set("gid", ev->gid);
      break;
    case CtlEvent::kMessage: {
      o.Set("type", "message");
      o.Set("body", Napi::Buffer<uint8_t>::Copy(env, ev->body.data(), ev->body.size()));
      Napi::Array fds = Napi::Array::New(env, ev->fds.size());
      for (uint32_t i = 0; i < ev->fds.size(); i++) fds.Set(i, ev->fds[i]);
      o.Set("fds", fds);
      break;
    }
    case CtlEvent::kClose:
      o.Set("type", "close");
      o.Set("reason", ev->reason);
      break;
  }
  try {
    fn.Call({o});
  } catch (const Napi::Error& e) {
    // A throwing handler is a router bug: surface it as any async callback's
    // exception would ('uncaughtException'), not as a swallowed warning.
    napi_fatal_exception(env, e.Value());
  }
}

class ControlServerWrap : public Napi::ObjectWrap<ControlServerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ControlServer",
                       {InstanceMethod<&ControlServerWrap::Send>("send"),
                        InstanceMethod<&ControlServerWrap::CloseConn>("closeConn"),
                        InstanceMethod<&ControlServerWrap::Close>("close")});
  }

  explicit ControlServerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ControlServerWrap>(info) {
    Napi::Env env = info.Env();
    guard(env, [&] {
      if (!info[0].IsString()) throw_err(EINVAL, "path must be a string");
      if (!info[1].IsFunction()) throw_err(EINVAL, "onEvent must be a function");
      tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ffr.ControlServer", 0, 1);
      try {
        Napi::ThreadSafeFunction t = tsfn_;
        server_ = std::make_unique<ControlServer>(info[0].As<Napi::String>().Utf8Value(), [t](CtlEvent&& ev) {
          auto* p = new CtlEvent(std::move(ev));
          if (t.NonBlockingCall(p, deliver) != napi_ok) {
            for (int fd : p->fds) ::close(fd);
            delete p;
          }
        });
      } catch (...) {
        tsfn_.Release();
        throw;
      }
    });
    state(env)->servers.insert(this);
    // An open server lives until close(), like net.Server: dropping the JS
    // reference must not silently stop serving shims.
    Ref();
    refd_ = true;
  }

  ~ControlServerWrap() override {
    shut();
    if (AddonState* s = state(Env())) s->servers.erase(this);
  }

  void shut() {
    if (!server_) return;
    server_->close();
    server_.reset();
    tsfn_.Release();
  }

 private:
  ControlServer& srv() {
    if (!server_) throw_err(EBADF, "control server is closed");
    return *server_;
  }

  void Send(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      uint32_t conn = arg_u32(info, 0, "conn");
      if (!info[1].IsBuffer()) throw_err(EINVAL, "body must be a Buffer");
      auto body = info[1].As<Napi::Buffer<uint8_t>>();
      std::vector<int> fds;
      if (!info[2].IsUndefined() && !info[2].IsNull()) {
        if (!info[2].IsArray()) throw_err(EINVAL, "fds must be an array of fds");
        Napi::Array a = info[2].As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); i++) {
          Napi::Value v = a.Get(i);
          if (!v.IsNumber() || v.As<Napi::Number>().Int64Value() < 0 ||
              v.As<Napi::Number>().DoubleValue() != static_cast<double>(v.As<Napi::Number>().Int32Value()))
            throw_err(EINVAL, "fds must be an array of fds");
          fds.push_back(v.As<Napi::Number>().Int32Value());
        }
      }
      srv().send(conn, body.Data(), body.Length(), fds);
    });
  }

  void CloseConn(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { srv().close_conn(arg_u32(info, 0, "conn"), "closed by router"); });
  }

  void Close(const Napi::CallbackInfo&) {
    shut();
    if (refd_) {
      refd_ = false;
      Unref();
    }
  }

  std::unique_ptr<ControlServer> server_;
  Napi::ThreadSafeFunction tsfn_;
  bool refd_ = false;
};

// ---------------------------------------------------------------- DataPlane

class DataPlaneWrap : public Napi::ObjectWrap<DataPlaneWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DataPlane",
                       {InstanceMethod<&DataPlaneWrap::AddSession>("addSession"),
                        InstanceMethod<&DataPlaneWrap::RemoveSession>("removeSession"),
                        InstanceMethod<&DataPlaneWrap::AddChannel>("addChannel"),
                        InstanceMethod<&DataPlaneWrap::RemoveChannel>("removeChannel"),
                        InstanceMethod<&DataPlaneWrap::CreateCq>("createCq"),
                        InstanceMethod<&DataPlaneWrap::DestroyCq>("destroyCq"),
                        InstanceMethod<&DataPlaneWrap::RegMr>("regMr"),
                        InstanceMethod<&DataPlaneWrap::DeregMr>("deregMr"),
                        InstanceMethod<&DataPlaneWrap::CreateSrq>("createSrq"),
                        InstanceMethod<&DataPlaneWrap::ModifySrq>("modifySrq"),
                        InstanceMethod<&DataPlaneWrap::SetLimit>("setLimit"),
                        InstanceMethod<&DataPlaneWrap::SetSched>("setSched"),
                        InstanceMethod<&DataPlaneWrap::DestroySrq>("destroySrq"),
                        InstanceMethod<&DataPlaneWrap::CreateQp>("createQp"),
                        InstanceMethod<&DataPlaneWrap::ModifyQp>("modifyQp"),
                        InstanceMethod<&DataPlaneWrap::QpState>("qpState"),
                        InstanceMethod<&DataPlaneWrap::DestroyQp>("destroyQp"),
                        InstanceMethod<&DataPlaneWrap::CreateAh>("createAh"),
                        InstanceMethod<&DataPlaneWrap::DestroyAh>("destroyAh"),
                        InstanceMethod<&DataPlaneWrap::Stats>("stats"),
                        InstanceMethod<&DataPlaneWrap::PeerListen>("peerListen"),
                        InstanceMethod<&DataPlaneWrap::SetHostId>("setHostId"),
                        InstanceMethod<&DataPlaneWrap::AddPeer>("addPeer"),
                        InstanceMethod<&DataPlaneWrap::RemovePeer>("removePeer"),
                        InstanceMethod<&DataPlaneWrap::PeerStats>("peerStats"),
                        InstanceMethod<&DataPlaneWrap::Shutdown>("shutdown"),
                        InstanceMethod<&DataPlaneWrap::Close>("close")});
  }

  explicit DataPlaneWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataPlaneWrap>(info) {
    guard(info.Env(), [&] {
      Napi::Object o = arg_obj(info, 0, "options");
      uint32_t spin = req_u32_max(o, "idleSpinUs", 10000000);
      uint32_t batch = req_u32_max(o, "maxBatch", 65536);
      if (batch == 0) throw_err(EINVAL, "maxBatch must be at least 1");
      const uint32_t chunk = opt_u32(o, "chunkBytes").value_or(kDefaultChunk);
      if (chunk < 4096) throw_err(EINVAL, "chunkBytes must be at least 4096");
      dp_ = std::make_unique<DataPlane>(spin, batch, chunk, opt_u32_list(o, "cpus"));
    });
    state(info.Env())->planes.insert(this);
    Ref();  // rings keep being served until close(), whatever JS holds
    refd_ = true;
  }

  ~DataPlaneWrap() override {
    shut();
    if (AddonState* s = state(Env())) s->planes.erase(this);
  }

  void shut() {
    if (dp_) dp_->close();
  }

 private:
  DataPlane& dp() {
    if (!dp_) throw_err(EBADF, "data plane is closed");
    return *dp_;
  }

  Napi::Value AddSession(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid");
      Napi::Object o = arg_obj(info, 1, "options");
      DataPlane::SessionFds fds = dp().add_session(sid, req_u32(o, "tenant"), req_u32(o, "lid"));
      Napi::Object r = Napi::Object::New(info.Env());
      r.Set("pageFd", fds.page);
      r.Set("doorbellFd", fds.doorbell);
      return r;
    });
  }

  void RemoveSession(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().remove_session(arg_u32(info, 0, "sid"), arg_bool(info, 1, "crashed")); });
  }

  void AddChannel(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      // Ownership of the fd passes on the call, even when the call fails.
      UniqueFd fd(arg_fd(info, 2, "eventFd"));
      dp().add_channel(arg_u32(info, 0, "sid"), arg_u32(info, 1, "ch"), std::move(fd));
    });
  }

  void RemoveChannel(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().remove_channel(arg_u32(info, 0, "sid"), arg_u32(info, 1, "ch")); });
  }

  Napi::Value CreateCq(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid"), cq = arg_u32(info, 1, "cq");
      Napi::Object o = arg_obj(info, 2, "options");
      RingInfo r = dp().create_cq(sid, cq, req_u32(o, "entries"), opt_u32(o, "channel").value_or(0));
      Napi::Object out = ring_object(info.Env(), r);
      out.Set("entries", r.entries);
      return out;
    });
  }

  void DestroyCq(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().destroy_cq(arg_u32(info, 0, "sid"), arg_u32(info, 1, "cq")); });
  }

  void RegMr(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      Napi::Object o = arg_obj(info, 2, "options");
      UniqueFd fd(req_fd(o, "fd"));  // owned from here on, closed on any failure
      uint32_t sid = arg_u32(info, 0, "sid"), mr = arg_u32(info, 1, "mr");
      MrParams p;
      p.pd = req_u32(o, "pd");
      p.key = req_u32(o, "key");
      p.addr = req_u64(o, "addr");
      p.length = req_u64(o, "length");
      p.iova = req_u64(o, "iova");
      p.access = req_u32(o, "access");
      p.fd_offset = req_u64(o, "fdOffset");
      p.fd_size = req_u64(o, "fdSize");
      dp().reg_mr(sid, mr, p, std::move(fd));
    });
  }

  void DeregMr(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().dereg_mr(arg_u32(info, 0, "sid"), arg_u32(info, 1, "mr")); });
  }

  Napi::Value CreateSrq(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid"), srq = arg_u32(info, 1, "srq");
      Napi::Object o = arg_obj(info, 2, "options");
      SrqParams p;
      p.pd = req_u32(o, "pd");
      p.entries = req_u32(o, "entries");
      p.max_sge = req_u32(o, "maxSge");
      p.limit = opt_u32(o, "limit").value_or(0);
      RingInfo r = dp().create_srq(sid, srq, p);
      Napi::Object out = ring_object(info.Env(), r);
      out.Set("stride", r.stride);
      out.Set("entries", r.entries);
      return out;
    });
  }

  void ModifySrq(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid"), srq = arg_u32(info, 1, "srq");
      dp().modify_srq(sid, srq, req_u32(arg_obj(info, 2, "options"), "limit"));
    });
  }

  void SetLimit(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      uint32_t tenant = arg_u32(info, 0, "tenant"), lid = arg_u32(info, 1, "lid");
      Napi::Object o = arg_obj(info, 2, "options");
      dp().set_limit(tenant, lid, req_u64(o, "bytesPerS"), req_u64(o, "wrsPerS"));
    });
  }

  // cls: 0 default, 1 latency, 2 bulk, absent = inherit (sched.h).
  void SetSched(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      uint32_t tenant = arg_u32(info, 0, "tenant"), lid = arg_u32(info, 1, "lid");
      Napi::Object o = arg_obj(info, 2, "options");
      const uint32_t weight = req_u32_max(o, "weight", 1000000);
      if (weight == 0) throw_err(EINVAL, "weight must be at least 1");
      const std::optional<uint32_t> cls = opt_u32(o, "cls");
      if (cls && *cls > 2) throw_err(EINVAL, "cls must be 0 (default), 1 (latency) or 2 (bulk)");
      dp().set_sched(tenant, lid, weight, cls ? static_cast<SchedClass>(*cls) : SchedClass::kUnset);
    });
  }

  void DestroySrq(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().destroy_srq(arg_u32(info, 0, "sid"), arg_u32(info, 1, "srq")); });
  }

  Napi::Value CreateQp(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid"), qp = arg_u32(info, 1, "qp");
      Napi::Object o = arg_obj(info, 2, "options");
      QpParams p;
      p.qpn = req_u32(o, "qpn");
      p.type = req_u32(o, "type");
      p.pd = req_u32(o, "pd");
      p.send_cq = req_u32(o, "sendCq");
      p.recv_cq = req_u32(o, "recvCq");
      p.srq = opt_u32(o, "srq").value_or(0);
      p.sq_entries = req_u32(o, "sqEntries");
      p.rq_entries = opt_u32(o, "rqEntries").value_or(0);
      p.max_send_sge = req_u32(o, "maxSendSge");
      p.max_recv_sge = opt_u32(o, "maxRecvSge").value_or(0);
      p.max_inline = opt_u32(o, "maxInline").value_or(0);
      p.sq_sig_all = opt_bool(o, "sqSigAll").value_or(false);
      p.tenant = req_u32(o, "tenant");
      p.lid = req_u32_max(o, "lid", 0xffff);
      RingInfo r = dp().create_qp(sid, qp, p);
      Napi::Object out = ring_object(info.Env(), r);
      out.Set("sqOffset", r.sq_offset);
      out.Set("sqStride", r.sq_stride);
      out.Set("sqEntries", r.sq_entries);
      out.Set("rqOffset", r.rq_offset);
      out.Set("rqStride", r.rq_stride);
      out.Set("rqEntries", r.rq_entries);
      return out;
    });
  }

  void ModifyQp(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid"), qp = arg_u32(info, 1, "qp");
      Napi::Object o = arg_obj(info, 2, "attrs");
      QpAttrs a;
      a.state = opt_u32(o, "state");
      a.access_flags = opt_u32(o, "accessFlags");
      a.qkey = opt_u32(o, "qkey");
      a.dest_qpn = opt_u32(o, "destQpn");
      a.dlid = opt_u32(o, "dlid");
      a.is_global = opt_bool(o, "isGlobal");
      a.dgid = opt_gid(o, "dgid");
      a.min_rnr_timer = opt_u32(o, "minRnrTimer");
      a.rnr_retry = opt_u32(o, "rnrRetry");
      a.retry_cnt = opt_u32(o, "retryCnt");
      a.timeout = opt_u32(o, "timeout");
      a.path_mtu = opt_u32(o, "pathMtu");
      a.sl = opt_u32(o, "sl");
      a.pkey_index = opt_u32(o, "pkeyIndex");
      a.peer = opt_u32(o, "peer");
      dp().modify_qp(sid, qp, a);
    });
  }

  Napi::Value QpState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      return Napi::Number::New(info.Env(), dp().qp_state(arg_u32(info, 0, "sid"), arg_u32(info, 1, "qp")));
    });
  }

  void DestroyQp(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().destroy_qp(arg_u32(info, 0, "sid"), arg_u32(info, 1, "qp")); });
  }

  void CreateAh(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      uint32_t sid = arg_u32(info, 0, "sid"), ah = arg_u32(info, 1, "ah");
      Napi::Object o = arg_obj(info, 2, "options");
      AhParams p;
      p.pd = req_u32(o, "pd");
      p.dlid = req_u32_max(o, "dlid", 0xffff);
      p.is_global = opt_bool(o, "isGlobal").value_or(false);
      if (auto g = opt_gid(o, "dgid")) std::memcpy(p.dgid, g->data(), 16);
      p.sl = opt_u32(o, "sl").value_or(0);
      p.src_path_bits = opt_u32(o, "srcPathBits").value_or(0);
      p.port_num = opt_u32(o, "portNum").value_or(1);
      p.peer = opt_u32(o, "peer").value_or(0);
      dp().create_ah(sid, ah, p);
    });
  }

  void DestroyAh(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().destroy_ah(arg_u32(info, 0, "sid"), arg_u32(info, 1, "ah")); });
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      Napi::Env env = info.Env();
      auto all = dp().stats();
      Napi::Array arr = Napi::Array::New(env, all.size());
      uint32_t i = 0;
      for (auto& [sid, s] : all) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("sid", sid);
        o.Set("bytesOut", static_cast<double>(s.bytes_out));
        o.Set("bytesIn", static_cast<double>(s.bytes_in));
        o.Set("wrsOut", static_cast<double>(s.wrs_out));
        o.Set("wrsIn", static_cast<double>(s.wrs_in));
        o.Set("throttledNs", static_cast<double>(s.throttled_ns));
        o.Set("busyNs", static_cast<double>(s.busy_ns));
        Napi::Object c = Napi::Object::New(env);
        for (int st = 0; st < kNumWcStatus; st++)
          if (s.completions[st] != 0) c.Set(static_cast<uint32_t>(st), static_cast<double>(s.completions[st]));
        o.Set("completions", c);
        arr.Set(i++, o);
      }
      return arr;
    });
  }

  void Shutdown(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().shutdown(); });
  }

  Napi::Value PeerListen(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      const uint32_t addr = arg_ipv4(info, 0, "address");
      const uint32_t port = arg_u32(info, 1, "port");
      if (port > 0xffff) throw_err(EINVAL, "port must be 0..65535");
      const uint16_t bound = dp().peer_listen(addr, htons(static_cast<uint16_t>(port)));
      return Napi::Number::New(info.Env(), ntohs(bound));
    });
  }

  void SetHostId(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().set_host_id(arg_u32(info, 0, "hostId")); });
  }

  void AddPeer(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      const uint32_t host = arg_u32(info, 0, "hostId");
      Napi::Object o = arg_obj(info, 1, "options");
      if (!o.Get("address").IsString()) throw_err(EINVAL, "options.address must be a dotted IPv4 string");
      in_addr a{};
      if (::inet_pton(AF_INET, o.Get("address").As<Napi::String>().Utf8Value().c_str(), &a) != 1)
        throw_err(EINVAL, "options.address must be a dotted IPv4 string");
      const uint32_t port = req_u32_max(o, "port", 0xffff);
      if (port == 0) throw_err(EINVAL, "options.port must be 1..65535");
      dp().add_peer(host, a.s_addr, htons(static_cast<uint16_t>(port)), req_u32(o, "pool"));
    });
  }

  void RemovePeer(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { dp().remove_peer(arg_u32(info, 0, "hostId")); });
  }

  Napi::Value PeerStats(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] {
      Napi::Env env = info.Env();
      auto all = dp().peer_stats();
      Napi::Array arr = Napi::Array::New(env, all.size());
      uint32_t i = 0;
      for (auto& p : all) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("hostId", p.host_id);
        o.Set("address", p.address);
        o.Set("pool", p.pool);
        o.Set("connectionsUp", p.up);
        o.Set("dialer", p.dial);
        o.Set("bytesOut", static_cast<double>(p.bytes_out));
        o.Set("bytesIn", static_cast<double>(p.bytes_in));
        o.Set("framesOut", static_cast<double>(p.frames_out));
        o.Set("framesIn", static_cast<double>(p.frames_in));
        o.Set("connects", static_cast<double>(p.connects));
        o.Set("disconnects", static_cast<double>(p.disconnects));
        o.Set("retransmits", static_cast<double>(p.retransmits));
        o.Set("lastError", p.last_error);
        arr.Set(i++, o);
      }
      return arr;
    });
  }

  void Close(const Napi::CallbackInfo&) {
    shut();
    if (refd_) {
      refd_ = false;
      Unref();
    }
  }

  std::unique_ptr<DataPlane> dp_;
  bool refd_ = false;
};

AddonState::~AddonState() {
  for (ControlServerWrap* s : servers) s->shut();
  for (DataPlaneWrap* p : planes) p->shut();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  guard(info.Env(), [&] {
    int fd = arg_fd(info, 0, "fd");
    if (::close(fd) != 0 && errno != EINTR) throw_errno("close fd " + std::to_string(fd));
  });
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* st = new AddonState();
  env.SetInstanceData<AddonState>(st);
  Napi::Function cs = ControlServerWrap::Define(env);
  Napi::Function dp = DataPlaneWrap::Define(env);
  st->control_server_ctor = Napi::Persistent(cs);
  st->data_plane_ctor = Napi::Persistent(dp);
  exports.Set("ControlServer", cs);
  exports.Set("DataPlane", dp);
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  return exports;
}

}  // namespace
}  // namespace ffr

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return ffr::Init(env, exports); }
NODE_API_MODULE(ffr_native, InitModule)
