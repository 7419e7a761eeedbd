// Small pure helpers shared by the local and the peer paths: port
// addressing and scatter lists.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "peer.h"
#include "tables.h"

namespace ffr {

// gid[0] of a virtual port (design.md "Sessions and identity").
inline void port_gid(uint32_t tenant, uint32_t lid, uint8_t out[16]) {
  const uint64_t guid = 0x02ffff0000000000ull | (static_cast<uint64_t>(tenant & 0xffffff) << 16) | (lid & 0xffff);
  std::memset(out, 0, 16);
  out[0] = 0xfe;
  out[1] = 0x80;
  for (int i = 0; i < 8; i++) out[8 + i] = static_cast<uint8_t>(guid >> (56 - 8 * i));
}

// A QP whose responder side accepts messages.
inline bool receives(const Qp& d) {
  return d.state == FFR_QPS_RTR || d.state == FFR_QPS_RTS || d.state == FFR_QPS_SQD;
}

// Appends the bytes [off, off+len) of a scatter list to out (clipped to
// what the list holds).
inline void slice_into(const std::vector<Seg>& all, uint64_t off, uint64_t len, std::vector<Seg>* out) {
  for (const Seg& s : all) {
    if (len == 0) break;
    if (off >= s.len) {
      off -= s.len;
      continue;
    }
    const uint64_t n = std::min(s.len - off, len);
    out->push_back({s.p + off, n});
    off = 0;
    len -= n;
  }
}

}  // namespace ffr
