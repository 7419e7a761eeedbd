/* Round-trips control messages through the C codec (proto/c/ffmsg.c):
 *
 *   proto_codec encode
 *       For every message and direction, fills each field with a
 *       deterministic value, encodes a frame, and prints one JSON object per
 *       line: {"name","dir","seq","status","hex" (body, no length prefix),
 *       "fields"} with u64 as decimal strings and gids as hex.
 *   proto_codec decode NAME DIR HEX
 *       Decodes a frame body (hex) as message NAME (req|rep) and prints the
 *       same JSON shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "ffmsg.h"

static void print_fields(const struct ffr_field_desc *f, unsigned n, const uint8_t *obj)
{
	printf("{");
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = obj + f[i].offset;
		uint32_t v32;
		uint64_t v64;

		printf("%s\"%s\":", i ? "," : "", f[i].name);
		switch (f[i].kind) {
		case FFR_F_U32:
			memcpy(&v32, p, 4);
			printf("%" PRIu32, v32);
			break;
		case FFR_F_U64:
			memcpy(&v64, p, 8);
			printf("\"%" PRIu64 "\"", v64);
			break;
		case FFR_F_GID:
			printf("\"");
			for (int b = 0; b < 16; b++)
				printf("%02x", p[b]);
			printf("\"");
			break;
		case FFR_F_STR:
			printf("\"");
			for (const char *s = (const char *)p; *s; s++)
				if (*s == '"' || *s == '\\')
					printf("\\%c", *s);
				else
					putchar(*s);
			printf("\"");
			break;
		}
	}
	printf("}");
}

static void fill(const struct ffr_field_desc *f, unsigned n, uint8_t *obj, unsigned id, int dir)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = obj + f[i].offset;
		uint32_t v32 = (i % 3 == 0) ? i + (unsigned)dir : 0x9e3779b9u * (id * 64 + i + 1) + (unsigned)dir;
		uint64_t v64 = (i % 2) ? ((uint64_t)id << 56) | ((uint64_t)i << 40) | 0xfffffffffull
				       : (uint64_t)i * 300 + 1;

		switch (f[i].kind) {
		case FFR_F_U32:
			memcpy(p, &v32, 4);
			break;
		case FFR_F_U64:
			memcpy(p, &v64, 8);
			break;
		case FFR_F_GID:
			for (int b = 0; b < 16; b++)
				p[b] = (uint8_t)(0xf0 + b + i);
			break;
		case FFR_F_STR:
			/* short and long (> 31 bytes) strings */
			snprintf((char *)p, FFR_STR_MAX, "%s-%u%s", f[i].name, id,
				 i % 2 ? "-a-rather-long-string-over-31-bytes" : "");
			break;
		}
	}
}

static const struct ffr_msg_desc *find(const char *name)
{
	for (unsigned id = 0; id <= FFR_MSG_MAX_ID; id++)
		if (ffr_msg_descs[id].name && !strcmp(ffr_msg_descs[id].name, name))
			return &ffr_msg_descs[id];
	return NULL;
}

int main(int argc, char **argv)
{
	static uint8_t buf[FFR_MAX_FRAME + 4], obj[8192];

	if (argc == 2 && !strcmp(argv[1], "encode")) {
		for (unsigned id = 0; id <= FFR_MSG_MAX_ID; id++) {
			const struct ffr_msg_desc *d = &ffr_msg_descs[id];

			if (!d->name)
				continue;
			for (int dir = 0; dir < 2; dir++) {
				const struct ffr_field_desc *f = dir ? d->rep : d->req;
				unsigned n = dir ? d->nrep : d->nreq;
				struct ffr_msg_hdr h = { .type = d->id | (dir ? FFR_REPLY_BIT : 0),
							 .seq = 1000 + id * 2 + (unsigned)dir, .status = 0 };
				int len;

				memset(obj, 0, sizeof(obj));
				fill(f, n, obj, id, dir);
				len = ffr_msg_encode(buf, sizeof(buf), &h, f, n, obj);
				if (len < 0) {
					fprintf(stderr, "encode %s: %d\n", d->name, len);
					return 1;
				}
				printf("{\"name\":\"%s\",\"dir\":\"%s\",\"type\":%u,\"seq\":%u,\"status\":%u,\"hex\":\"",
				       d->name, dir ? "rep" : "req", h.type, h.seq, h.status);
				for (int b = 4; b < len; b++)
					printf("%02x", buf[b]);
				printf("\",\"fields\":");
				print_fields(f, n, obj);
				printf("}\n");
			}
		}
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "decode")) {
		const struct ffr_msg_desc *d = find(argv[2]);
		int dir = !strcmp(argv[3], "rep");
		size_t hl = strlen(argv[4]), n = hl / 2;
		struct ffr_msg_hdr h;
		int ret;

		if (!d || hl % 2 || n > sizeof(buf)) {
			fprintf(stderr, "bad arguments\n");
			return 2;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned v;

			if (sscanf(argv[4] + 2 * i, "%2x", &v) != 1)
				return 2;
			buf[i] = (uint8_t)v;
		}
		ret = ffr_msg_decode(buf, n, &h, dir ? d->rep : d->req, dir ? d->nrep : d->nreq,
				     obj, dir ? d->rep_size : d->req_size);
		if (ret) {
			printf("{\"error\":%d}\n", ret);
			return 1;
		}
		printf("{\"name\":\"%s\",\"dir\":\"%s\",\"type\":%u,\"seq\":%u,\"status\":%u,\"fields\":",
		       d->name, dir ? "rep" : "req", h.type, h.seq, h.status);
		print_fields(dir ? d->rep : d->req, dir ? d->nrep : d->nreq, obj);
		printf("}\n");
		return 0;
	}
	fprintf(stderr, "usage: proto_codec encode | decode NAME req|rep HEX\n");
	return 2;
}
