/* Prints, as JSON, what the C side of the protocol sees in proto/gen/ffproto.h:
 * every constant, enum value, struct size and field offset (lists from
 * build/proto_items.h, generated from proto/schema.json) and every message
 * descriptor of ffr_msg_descs. test/proto.test.ts compares it with the TS
 * module proto/gen/ffproto.ts. */
#include <stdio.h>
#include <string.h>
#include "ffproto.h"
#include "build/proto_items.h"

static int first;

static void sep(void)
{
	if (!first)
		printf(",");
	first = 0;
}

static const char *kind_name(unsigned k)
{
	switch (k) {
	case FFR_F_U32: return "u32";
	case FFR_F_U64: return "u64";
	case FFR_F_GID: return "gid";
	case FFR_F_STR: return "str";
	default: return "?";
	}
}

static void fields(const struct ffr_field_desc *f, unsigned n)
{
	printf("[");
	for (unsigned i = 0; i < n; i++)
		printf("%s[\"%s\",\"%s\",%u]", i ? "," : "", f[i].name, kind_name(f[i].kind), f[i].offset);
	printf("]");
}

int main(void)
{
	printf("{\"constants\":{");
	first = 1;
#define PD_CONST(k) sep(); printf("\"%s\":%llu", #k, (unsigned long long)(k));
	PD_CONSTANTS
	printf("},\"opcode_masks\":{");
	first = 1;
	/* The mask and what ffr_opcode_allowed() answers for every opcode 0..31. */
#define PD_MASK(m, qpt) sep(); printf("\"%s\":{\"mask\":%u,\"allowed\":[", #m, (unsigned)(m)); \
	for (unsigned op = 0, n = 0; op < 32; op++) \
		if (ffr_opcode_allowed(qpt, op)) printf("%s%u", n++ ? "," : "", op); \
	printf("]}");
	PD_OPCODE_MASKS
	printf("},\"enums\":{");
	first = 1;
#define PD_ENUM(e, k) sep(); printf("\"%s.%s\":%lld", #e, #k, (long long)(enum e)(k));
	PD_ENUMS
	printf("},\"structs\":{");
	first = 1;
#define PD_STRUCT(s) sep(); printf("\"%s\":%zu", #s, sizeof(struct s));
	PD_STRUCTS
	printf("},\"fields\":{");
	first = 1;
#define PD_FIELD(s, f) sep(); printf("\"%s.%s\":[%zu,%zu]", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f));
	PD_FIELDS
	printf("},\"fds\":{");
	first = 1;
#define PD_FD(m, dir, macro, fd) sep(); printf("\"%s.%s.%s\":%d", #m, #dir, #fd, (int)(macro));
	PD_FDS
	printf("},\"messages\":[");
	first = 1;
	for (unsigned id = 0; id <= FFR_MSG_MAX_ID; id++) {
		const struct ffr_msg_desc *d = &ffr_msg_descs[id];

		if (!d->name)
			continue;
		sep();
		printf("{\"name\":\"%s\",\"id\":%u,\"index\":%u,\"req\":", d->name, d->id, id);
		fields(d->req, d->nreq);
		printf(",\"rep\":");
		fields(d->rep, d->nrep);
		printf(",\"reqSize\":%u,\"repSize\":%u,\"reqFds\":%u,\"repFds\":%u}",
		       d->req_size, d->rep_size, d->req_nfds, d->rep_nfds);
	}
	printf("],\"msgMaxId\":%u}\n", (unsigned)FFR_MSG_MAX_ID);
	return 0;
}
