/* Minimal msgpack subset: unsigned/negative ints, bin (gid), str, arrays.
 * Enough for the fixed positional messages of proto/schema.json and nothing
 * more, so the shim carries no third-party code. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include "ffmsg.h"

struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static int put(struct wbuf *w, const void *src, size_t n)
{
	if (w->cap - w->len < n)
		return -EMSGSIZE;
	memcpy(w->p + w->len, src, n);
	w->len += n;
	return 0;
}

static int put_be(struct wbuf *w, uint8_t tag, uint64_t v, unsigned bytes)
{
	uint8_t b[9];

	b[0] = tag;
	for (unsigned i = 0; i < bytes; i++)
		b[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return put(w, b, 1 + bytes);
}

static int put_uint(struct wbuf *w, uint64_t v)
{
	if (v < 128) {
		uint8_t b = (uint8_t)v;
		return put(w, &b, 1);
	}
	if (v <= 0xff)
		return put_be(w, 0xcc, v, 1);
	if (v <= 0xffff)
		return put_be(w, 0xcd, v, 2);
	if (v <= 0xffffffffu)
		return put_be(w, 0xce, v, 4);
	return put_be(w, 0xcf, v, 8);
}

static int put_array(struct wbuf *w, unsigned n)
{
	if (n < 16) {
		uint8_t b = (uint8_t)(0x90 | n);
		return put(w, &b, 1);
	}
	return put_be(w, 0xdc, n, 2);
}

int ffr_msg_encode(uint8_t *buf, size_t cap, const struct ffr_msg_hdr *hdr,
		   const struct ffr_field_desc *fields, unsigned nfields,
		   const void *obj)
{
	struct wbuf w = { .p = buf, .len = 4, .cap = cap };
	const uint8_t *base = obj;
	int ret;

	if (cap < 4 || cap > FFR_MAX_FRAME + 4)
		return -EINVAL;
	ret = put_array(&w, 3 + nfields);
	if (!ret)
		ret = put_uint(&w, hdr->type);
	if (!ret)
		ret = put_uint(&w, hdr->seq);
	if (!ret)
		ret = put_uint(&w, hdr->status);
	for (unsigned i = 0; !ret && i < nfields; i++) {
		const void *f = base + fields[i].offset;
		uint32_t v32;
		uint64_t v64;
		size_t n;

		switch (fields[i].kind) {
		case FFR_F_U32:
			memcpy(&v32, f, 4);
			ret = put_uint(&w, v32);
			break;
		case FFR_F_U64:
			memcpy(&v64, f, 8);
			ret = put_uint(&w, v64);
			break;
		case FFR_F_GID:
			ret = put_be(&w, 0xc4, 16, 1);
			if (!ret)
				ret = put(&w, f, 16);
			break;
		case FFR_F_STR:
			n = strnlen(f, FFR_STR_MAX - 1);
			ret = put_be(&w, 0xd9, n, 1);
			if (!ret)
				ret = put(&w, f, n);
			break;
		default:
			ret = -EINVAL;
		}
	}
	if (ret)
		return ret;
	uint32_t body = (uint32_t)(w.len - 4);
	buf[0] = (uint8_t)body;
	buf[1] = (uint8_t)(body >> 8);
	buf[2] = (uint8_t)(body >> 16);
	buf[3] = (uint8_t)(body >> 24);
	return (int)w.len;
}

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static int take(struct rbuf *r, size_t n, const uint8_t **out)
{
	if (r->len - r->off < n)
		return -EPROTO;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Reads any msgpack integer that fits in u64 (encoders may pick a signed
 * tag for a non-negative value); negative values are rejected because no
 * field of the schema is signed. */
static int get_uint(struct rbuf *r, uint64_t *v)
{
	const uint8_t *t, *p;
	unsigned n;
	int ret = take(r, 1, &t);

	if (ret)
		return ret;
	if (*t < 0x80) {
		*v = *t;
		return 0;
	}
	switch (*t) {
	case 0xcc: n = 1; break;
	case 0xcd: n = 2; break;
	case 0xce: n = 4; break;
	case 0xcf: n = 8; break;
	case 0xd0: n = 1; break;
	case 0xd1: n = 2; break;
	case 0xd2: n = 4; break;
	case 0xd3: n = 8; break;
	default: return -EPROTO;
	}
	ret = take(r, n, &p);
	if (ret)
		return ret;
	if (*t >= 0xd0 && (p[0] & 0x80))
		return -EPROTO;
	*v = be(p, n);
	return 0;
}

static int get_len(struct rbuf *r, const uint8_t *t, uint8_t fix_base,
		   uint8_t fix_mask, uint8_t t8, uint8_t t16, uint8_t t32, size_t *len)
{
	const uint8_t *p;
	int ret;

	if (fix_mask && (*t & (uint8_t)~fix_mask) == fix_base) {
		*len = *t & fix_mask;
		return 0;
	}
	if (*t == t8)
		ret = take(r, 1, &p), *len = ret ? 0 : be(p, 1);
	else if (*t == t16)
		ret = take(r, 2, &p), *len = ret ? 0 : be(p, 2);
	else if (*t == t32)
		ret = take(r, 4, &p), *len = ret ? 0 : be(p, 4);
	else
		ret = -EPROTO;
	return ret;
}

int ffr_msg_decode(const uint8_t *body, size_t len, struct ffr_msg_hdr *hdr,
		   const struct ffr_field_desc *fields, unsigned nfields,
		   void *obj, size_t obj_size)
{
	struct rbuf r = { .p = body, .len = len, .off = 0 };
	const uint8_t *t, *p;
	uint64_t v[3];
	size_t n;
	int ret;

	ret = take(&r, 1, &t);
	if (!ret)
		ret = get_len(&r, t, 0x90, 0x0f, 0, 0xdc, 0xdd, &n);
	if (ret)
		return ret;
	if (n < 3)
		return -EPROTO;
	for (int i = 0; i < 3; i++) {
		ret = get_uint(&r, &v[i]);
		if (ret)
			return ret;
		if (v[i] > UINT32_MAX)
			return -EPROTO;
	}
	hdr->type = (uint32_t)v[0];
	hdr->seq = (uint32_t)v[1];
	hdr->status = (uint32_t)v[2];
	if (!fields)
		return 0;
	memset(obj, 0, obj_size);
	if (n - 3 > nfields)
		return -EPROTO;
	for (unsigned i = 0; i < n - 3; i++) {
		uint8_t *f = (uint8_t *)obj + fields[i].offset;
		uint64_t x;
		size_t sl;

		switch (fields[i].kind) {
		case FFR_F_U32:
			ret = get_uint(&r, &x);
			if (!ret && x > UINT32_MAX)
				ret = -EPROTO;
			if (!ret) {
				uint32_t x32 = (uint32_t)x;
				memcpy(f, &x32, 4);
			}
			break;
		case FFR_F_U64:
			ret = get_uint(&r, &x);
			if (!ret)
				memcpy(f, &x, 8);
			break;
		case FFR_F_GID:
			ret = take(&r, 1, &t);
			if (!ret)
				ret = get_len(&r, t, 0, 0, 0xc4, 0xc5, 0xc6, &sl);
			if (!ret && sl != 16)
				ret = -EPROTO;
			if (!ret)
				ret = take(&r, 16, &p);
			if (!ret)
				memcpy(f, p, 16);
			break;
		case FFR_F_STR:
			ret = take(&r, 1, &t);
			if (!ret)
				ret = get_len(&r, t, 0xa0, 0x1f, 0xd9, 0xda, 0xdb, &sl);
			if (!ret)
				ret = take(&r, sl, &p);
			if (!ret) {
				size_t c = sl < FFR_STR_MAX - 1 ? sl : FFR_STR_MAX - 1;
				memcpy(f, p, c);
				f[c] = 0;
			}
			break;
		default:
			ret = -EPROTO;
		}
		if (ret)
			return ret;
	}
	return r.off == len ? 0 : -EPROTO;
}
