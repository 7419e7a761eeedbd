// Internal error type: native code throws SysError; the N-API layer converts it
// once into a JS Error carrying a numeric `errno`, so JS sees one shape.
#pragma once
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ffr {

class SysError : public std::runtime_error {
 public:
  SysError(int err, const std::string& msg) : std::runtime_error(msg), err_(err) {}
  int err() const { return err_; }

 private:
  int err_;
};

// For failures of a libc call: keeps errno and appends strerror to the cause.
[[noreturn]] inline void throw_errno(const std::string& what, int err = errno) {
  throw SysError(err, what + ": " + std::strerror(err));
}

[[noreturn]] inline void throw_err(int err, const std::string& what) { throw SysError(err, what); }

}  // namespace ffr
