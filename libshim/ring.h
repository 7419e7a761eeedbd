/* Shared-memory rings (docs/design.md "Shared memory and rings").
 * The helper names match the data plane's so both sides of every ordering
 * pair can be found by grep. */
#ifndef FFS_RING_H
#define FFS_RING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "ffproto.h"

static inline uint32_t ffr_load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t ffr_load_relaxed(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void ffr_store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void ffr_fence_seq_cst(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The shim's view of one ring; entries/stride come from the create reply,
 * never from the shared header. */
struct ffs_ring {
	struct ffr_ring_hdr *hdr;
	uint8_t *slots;
	uint32_t entries;
	uint32_t mask;
	uint32_t stride;
};

static inline void *ffs_ring_slot(const struct ffs_ring *r, uint32_t idx)
{
	return r->slots + (size_t)(idx & r->mask) * r->stride;
}

/* Lays a ring over [base + off, base + off + 256 + entries * stride) after
 * checking it fits in a mapping of map_len bytes. Returns -EPROTO when the
 * router's layout does not make sense. */
static inline int ffs_ring_init(struct ffs_ring *r, void *base, size_t map_len,
				uint32_t off, uint32_t entries, uint32_t stride,
				uint32_t min_stride)
{
	uint64_t end = (uint64_t)off + FFR_RING_HDR_SIZE +
		       (uint64_t)entries * stride;

	if (!entries || (entries & (entries - 1)) || stride < min_stride ||
	    (off % FFR_CACHELINE) || end > map_len)
		return -EPROTO;
	r->hdr = (struct ffr_ring_hdr *)((uint8_t *)base + off);
	r->slots = (uint8_t *)r->hdr + FFR_RING_HDR_SIZE;
	r->entries = entries;
	r->mask = entries - 1;
	r->stride = stride;
	return 0;
}

#endif
