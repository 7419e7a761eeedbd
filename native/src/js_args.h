// Validation of values coming from JS. Every helper throws SysError(EINVAL)
// naming the argument, so a router bug surfaces as a precise message.
#pragma once
#include <napi.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ffr {

uint32_t arg_u32(const Napi::CallbackInfo& info, size_t i, const char* name);
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Object arg_obj(const Napi::CallbackInfo& info, size_t i, const char* name);
int arg_fd(const Napi::CallbackInfo& info, size_t i, const char* name);
// A dotted IPv4 string, returned in network order.
uint32_t arg_ipv4(const Napi::CallbackInfo& info, size_t i, const char* name);

std::optional<uint32_t> opt_u32(const Napi::Object& o, const char* name);
std::vector<uint32_t> opt_u32_list(const Napi::Object& o, const char* name);  // absent = empty
uint32_t req_u32(const Napi::Object& o, const char* name);
uint32_t req_u32_max(const Napi::Object& o, const char* name, uint32_t max);
uint64_t req_u64(const Napi::Object& o, const char* name);  // bigint, or a safe-integer number
std::optional<bool> opt_bool(const Napi::Object& o, const char* name);  // boolean or 0/1
int req_fd(const Napi::Object& o, const char* name);
std::optional<std::array<uint8_t, 16>> opt_gid(const Napi::Object& o, const char* name);

// JS Error with numeric `errno` and `code` (e.g. "EINVAL").
Napi::Error js_error(Napi::Env env, int err, const std::string& msg);

}  // namespace ffr
