// Shared memory: memfds the router creates for rings and pages, and mappings of
// memfds the shim passes for registered memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

#include "fd.h"

namespace ffr {

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* p, size_t len) : p_(p), len_(len) {}
  ~Mapping() { reset(); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& o) noexcept : p_(std::exchange(o.p_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }
  uint8_t* data() const { return static_cast<uint8_t*>(p_); }
  size_t size() const { return len_; }
  void reset();

 private:
  void* p_ = nullptr;
  size_t len_ = 0;
};

// A router-owned memfd of `size` bytes, mapped read-write. The fd is sealed
// against shrinking so a shim cannot truncate it under the data plane (which
// would turn the router's next access into SIGBUS).
struct SharedRegion {
  UniqueFd fd;
  Mapping map;
};
SharedRegion create_shared(const char* name, size_t size);

// Maps [offset, offset + length) of a foreign fd (page-aligns the start).
// Returns the mapping and sets *base to the byte at `offset`. Checks the file
// is large enough and seals it against shrinking when the memfd allows it.
Mapping map_foreign(int fd, uint64_t offset, uint64_t length, uint64_t fd_size, uint8_t** base);

size_t page_round(size_t n);

}  // namespace ffr
