#include "js_args.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstring>

#include "errors.h"

namespace ffr {
namespace {

[[noreturn]] void bad(const std::string& name, const char* want) { throw_err(EINVAL, name + " must be " + want); }

uint32_t to_u32(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) bad(name, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d > 4294967295.0 || std::floor(d) != d) bad(name, "an integer in 0..2^32-1");
  return static_cast<uint32_t>(d);
}

bool to_bool(const Napi::Value& v, const std::string& name) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d == 0 || d == 1) return d == 1;
  }
  bad(name, "a boolean");
}

int to_fd(const Napi::Value& v, const std::string& name) {
  uint32_t fd = to_u32(v, name);
  if (fd > 0x7fffffff) bad(name, "a file descriptor");
  return static_cast<int>(fd);
}

Napi::Value get(const Napi::Object& o, const char* name) { return o.Get(name); }

bool present(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }

}  // namespace

uint32_t arg_u32(const Napi::CallbackInfo& info, size_t i, const char* name) { return to_u32(info[i], name); }
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name) { return to_bool(info[i], name); }
int arg_fd(const Napi::CallbackInfo& info, size_t i, const char* name) { return to_fd(info[i], name); }

Napi::Object arg_obj(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsObject()) bad(name, "an object");
  return info[i].As<Napi::Object>();
}

std::optional<uint32_t> opt_u32(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  if (!present(v)) return std::nullopt;
  return to_u32(v, name);
}

std::vector<uint32_t> opt_u32_list(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  std::vector<uint32_t> out;
  if (!present(v)) return out;
  if (!v.IsArray()) bad(name, "an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(to_u32(a.Get(i), std::string(name) + "[" + std::to_string(i) + "]"));
  return out;
}

uint32_t req_u32(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  if (!present(v)) bad(name, "given");
  return to_u32(v, name);
}

uint32_t req_u32_max(const Napi::Object& o, const char* name, uint32_t max) {
  uint32_t v = req_u32(o, name);
  if (v > max) bad(name, ("at most " + std::to_string(max)).c_str());
  return v;
}

uint64_t req_u64(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) bad(name, "a bigint in 0..2^64-1");
    return r;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < 0 || d > 9007199254740991.0 || std::floor(d) != d) bad(name, "a safe integer");
    return static_cast<uint64_t>(d);
  }
  bad(name, "a bigint");
}

std::optional<bool> opt_bool(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  if (!present(v)) return std::nullopt;
  return to_bool(v, name);
}

int req_fd(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  if (!present(v)) bad(name, "given");
  return to_fd(v, name);
}

std::optional<std::array<uint8_t, 16>> opt_gid(const Napi::Object& o, const char* name) {
  Napi::Value v = get(o, name);
  if (!present(v)) return std::nullopt;
  if (!v.IsTypedArray()) bad(name, "a 16-byte Buffer");
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() != 16) bad(name, "a 16-byte Buffer");
  auto u8 = v.As<Napi::Uint8Array>();
  std::array<uint8_t, 16> g;
  std::memcpy(g.data(), u8.Data(), 16);
  return g;
}

Napi::Error js_error(Napi::Env env, int err, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  const char* code = strerrorname_np(err);
  if (code != nullptr) e.Set("code", Napi::String::New(env, code));
  return e;
}

uint32_t arg_ipv4(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) throw SysError(EINVAL, std::string(name) + " must be a dotted IPv4 string");
  in_addr a{};
  if (::inet_pton(AF_INET, info[i].As<Napi::String>().Utf8Value().c_str(), &a) != 1)
    throw SysError(EINVAL, std::string(name) + " must be a dotted IPv4 string");
  return a.s_addr;
}

}  // namespace ffr
