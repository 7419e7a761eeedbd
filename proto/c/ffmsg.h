/* Control-message codec for C: frames are a u32 little-endian body length
 * followed by a msgpack array [type, seq, status, fields...] laid out by the
 * field descriptors that proto/gen.mjs emits into ffproto.h.
 * All functions return -errno on failure. */
#ifndef FFMSG_H
#define FFMSG_H

#include <stddef.h>
#include <stdint.h>
#include "../gen/ffproto.h"

struct ffr_msg_hdr {
	uint32_t type;
	uint32_t seq;
	uint32_t status;
};

/* Encode one whole frame (length prefix included) into buf; returns its size. */
int ffr_msg_encode(uint8_t *buf, size_t cap, const struct ffr_msg_hdr *hdr,
		   const struct ffr_field_desc *fields, unsigned nfields,
		   const void *obj);

/* Decode a frame body (no length prefix). Fields are decoded only if
 * fields != NULL; a body that carries fewer fields than described leaves the
 * rest zeroed (replies with a non-zero status carry none). */
int ffr_msg_decode(const uint8_t *body, size_t len, struct ffr_msg_hdr *hdr,
		   const struct ffr_field_desc *fields, unsigned nfields,
		   void *obj, size_t obj_size);

#endif
