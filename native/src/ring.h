// Barrier helpers for the shared rings, named as in design.md so both sides of
// the contract read the same. Every access to a field the other process writes
// goes through these: the compiler must neither tear, cache nor reorder it.
#pragma once
#include <cstdint>

#include "ffproto.h"

namespace ffr {

// Pairs with the producer's store_release: slot contents written before the
// index was published are visible once we see the index.
inline uint32_t load_acquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

// Publishes an index (or state) only after every slot write before it.
inline void store_release(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Fields that are plain hints (entries/stride for the shim) need no ordering,
// but must still be a single untorn store.
inline void store_relaxed(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

// The Dekker half of need_wakeup / armed: our store must be globally visible
// before our following load of the other side's flag, otherwise both sides can
// miss each other (we sleep while the shim skips the doorbell).
inline void fence_seq_cst() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Orders a payload copy before the final byte store that poll-on-memory
// readers spin on.
inline void fence_release() { __atomic_thread_fence(__ATOMIC_RELEASE); }

inline bool cmpxchg(uint32_t* p, uint32_t expected, uint32_t desired) {
  return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

inline void atomic_inc(uint32_t* p) { __atomic_fetch_add(p, 1, __ATOMIC_RELEASE); }

inline uint32_t next_pow2(uint32_t v) {
  if (v <= 1) return 1;
  return 1u << (32 - __builtin_clz(v - 1));
}

inline uint32_t round16(uint32_t v) { return (v + 15u) & ~15u; }

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace ffr
