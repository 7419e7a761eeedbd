/* verbs_check: the passive server, answering the client's commands over TCP. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void server_info(struct dev *d, struct chan *ch)
{
	char gid[33];

	gid_to_hex(&d->gid, gid);
	chan_send(ch, "INFO %u %s %" PRIu64 " %u %u %" PRIu64 " %u %u %u",
		  d->port.lid, gid, (uint64_t)(uintptr_t)d->buf, MAIN_LEN, d->mr->rkey,
		  (uint64_t)(uintptr_t)(d->buf + NOACC_OFF), d->noacc->rkey, d->stale_key,
		  (unsigned)(d->attr.atomic_cap != IBV_ATOMIC_NONE));
}

static int range_ok(uint64_t off, uint64_t len)
{
	return off <= BUF_SIZE && len <= BUF_SIZE - off;
}

void serve(struct dev *d, struct chan *ch)
{
	char line[LINE_MAX_LEN], arg[64];
	struct conn c = { 0 };

	server_info(d, ch);
	while (!chan_recv(ch, line, sizeof(line))) {
		uint64_t off, len, seed, val;
		unsigned access, rnr, lid, qpn, psn, n, tmo, mlen;

		if (!strcmp(line, "BYE")) {
			chan_send(ch, "OK");
			break;
		} else if (sscanf(line, "QP %u %u %u %u %u %63s", &access, &rnr, &lid, &qpn, &psn, arg) == 6) {
			struct remote_qp r = { .lid = lid, .qpn = qpn, .psn = psn };
			struct path p = default_path;
			char gid[33];
			int ret;

			p.min_rnr_timer = (int)rnr;
			conn_destroy(&c);
			if (hex_to_gid(arg, &r.gid)) {
				chan_send(ch, "ERR bad gid");
				continue;
			}
			if (conn_create(d, &c)) {
				chan_send(ch, "ERR create_qp: %s", strerror(errno));
				continue;
			}
			ret = conn_init(&c, (int)access);
			if (!ret)
				ret = conn_connect(d, &c, &r, &p);
			gid_to_hex(&d->gid, gid);
			/* a refused connect is reported, not fatal: wall checks expect it */
			chan_send(ch, "QPOK %u %u %u %s %d", d->port.lid, c.qp->qp_num, c.psn, gid, ret);
		} else if (sscanf(line, "RECV %" SCNu64 " %u", &val, &n) == 2) {
			struct ibv_sge sge[MAX_SGE];
			struct ibv_recv_wr wr = { .wr_id = val, .sg_list = sge, .num_sge = (int)n }, *bad;
			const char *p = line;
			int bad_arg = n > MAX_SGE || !c.qp;

			for (int skip = 0; skip < 3 && p; skip++)
				p = strchr(p + 1, ' ');
			for (unsigned i = 0; !bad_arg && i < n; i++) {
				int used;

				if (!p || sscanf(p, " %" SCNu64 " %" SCNu64 "%n", &off, &len, &used) != 2 ||
				    !range_ok(off, len) || off + len > MAIN_LEN) {
					bad_arg = 1;
					break;
				}
				p += used;
				sge[i] = (struct ibv_sge){ .addr = (uintptr_t)(d->buf + off),
							   .length = (uint32_t)len, .lkey = d->mr->lkey };
			}
			if (bad_arg)
				chan_send(ch, "ERR bad RECV");
			else if (ibv_post_recv(c.qp, &wr, &bad))
				chan_send(ch, "ERR post_recv failed");
			else
				chan_send(ch, "OK");
		} else if (sscanf(line, "FILL %" SCNu64 " %" SCNu64 " %" SCNu64, &off, &len, &seed) == 3) {
			if (!range_ok(off, len)) {
				chan_send(ch, "ERR range");
				continue;
			}
			fill_pattern(d->buf + off, len, seed);
			chan_send(ch, "OK");
		} else if (sscanf(line, "SUM %" SCNu64 " %" SCNu64, &off, &len) == 2) {
			if (!range_ok(off, len)) {
				chan_send(ch, "ERR range");
				continue;
			}
			chan_send(ch, "SUM %" PRIu64, fnv1a(d->buf + off, len));
		} else if (sscanf(line, "SET64 %" SCNu64 " %" SCNu64, &off, &val) == 2) {
			if (!range_ok(off, 8) || off % 8) {
				chan_send(ch, "ERR range");
				continue;
			}
			memcpy(d->buf + off, &val, 8);
			chan_send(ch, "OK");
		} else if (sscanf(line, "GET64 %" SCNu64, &off) == 1) {
			if (!range_ok(off, 8) || off % 8) {
				chan_send(ch, "ERR range");
				continue;
			}
			__atomic_load(( uint64_t *)(void *)(d->buf + off), &val, __ATOMIC_ACQUIRE);
			chan_send(ch, "VAL %" PRIu64, val);
		} else if (sscanf(line, "POLL %u %u", &n, &tmo) == 2) {
			struct ibv_wc wc[8];
			char out[LINE_MAX_LEN];
			int got, at;

			if (!c.cq || n > 8) {
				chan_send(ch, "ERR bad POLL");
				continue;
			}
			got = poll_n(c.cq, wc, (int)n, (int)tmo);
			at = snprintf(out, sizeof(out), "WCS %d", got);
			for (int i = 0; i < got; i++)
				at += snprintf(out + at, sizeof(out) - (size_t)at, " %" PRIu64 " %d %d %u %u %u",
					       wc[i].wr_id, wc[i].status, wc[i].opcode, wc[i].byte_len,
					       (wc[i].wc_flags & IBV_WC_WITH_IMM) ? ntohl(wc[i].imm_data) : 0,
					       (unsigned)wc[i].wc_flags);
			chan_send(ch, "%s", out);
		} else if (sscanf(line, "ECHO %u %u", &n, &mlen) == 2) {
			serve_echo(d, &c, ch, n, mlen);
		} else if (!strcmp(line, "STATE")) {
			chan_send(ch, "STATE %d", c.qp ? qp_state(c.qp) : -1);
		} else {
			chan_send(ch, "ERR unknown command");
		}
	}
	conn_destroy(&c);
}
