/* verbs_check: the client's side of the TCP protocol (commands to a peer server)
 * and connecting a QP pair with it. */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void peer_open(struct peer *p, const char *host, int port)
{
	char line[LINE_MAX_LEN], gid[64];
	unsigned atomics;

	memset(p, 0, sizeof(*p));
	p->host = host;
	p->ch.fd = tcp_connect(host, port);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "INFO %u %63s %" SCNu64 " %" SCNu64 " %u %" SCNu64 " %u %u %u",
		   &p->lid, gid, &p->addr, &p->len, &p->rkey, &p->noacc_addr, &p->noacc_rkey,
		   &p->stale_rkey, &atomics) != 9 || hex_to_gid(gid, &p->gid))
		die("bad INFO from %s: %s", host, line);
	p->atomics = (int)atomics;
}

void peer_close(struct peer *p)
{
	char line[LINE_MAX_LEN];

	chan_send(&p->ch, "BYE");
	chan_recv(&p->ch, line, sizeof(line));
	close(p->ch.fd);
}

uint64_t peer_sum(struct peer *p, uint64_t off, uint64_t len)
{
	char line[LINE_MAX_LEN];
	uint64_t v;

	chan_send(&p->ch, "SUM %" PRIu64 " %" PRIu64, off, len);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "SUM %" SCNu64, &v) != 1)
		die("bad SUM reply: %s", line);
	return v;
}

void peer_cmd(struct peer *p, const char *fmt, ...)
{
	char cmd[LINE_MAX_LEN], line[LINE_MAX_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	chan_send(&p->ch, "%s", cmd);
	chan_expect(&p->ch, line, sizeof(line));
	if (strcmp(line, "OK"))
		die("command %s: %s", cmd, line);
}

void peer_fill(struct peer *p, uint64_t off, uint64_t len, uint64_t seed)
{
	peer_cmd(p, "FILL %" PRIu64 " %" PRIu64 " %" PRIu64, off, len, seed);
}

/* Like peer_cmd but a refusal is returned (-1), not fatal. */
int peer_try_cmd(struct peer *p, const char *fmt, ...)
{
	char cmd[LINE_MAX_LEN], line[LINE_MAX_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	chan_send(&p->ch, "%s", cmd);
	if (chan_recv(&p->ch, line, sizeof(line)))
		die("peer closed the TCP channel");
	return strcmp(line, "OK") ? -1 : 0;
}

uint64_t peer_get64(struct peer *p, uint64_t off)
{
	char line[LINE_MAX_LEN];
	uint64_t v;

	chan_send(&p->ch, "GET64 %" PRIu64, off);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "VAL %" SCNu64, &v) != 1)
		die("bad GET64 reply: %s", line);
	return v;
}

/* Asks the peer to poll its CQ for n completions; returns how many it got. */
int peer_poll(struct peer *p, int n, int timeout_ms, struct rwc *out)
{
	char line[LINE_MAX_LEN], *s;
	int got, used;

	chan_send(&p->ch, "POLL %d %d", n, timeout_ms);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "WCS %d%n", &got, &used) != 1)
		die("bad POLL reply: %s", line);
	s = line + used;
	for (int i = 0; i < got; i++) {
		if (sscanf(s, " %" SCNu64 " %d %d %u %u %u%n", &out[i].wr_id, &out[i].status,
			   &out[i].opcode, &out[i].byte_len, &out[i].imm, &out[i].flags, &used) != 6)
			die("bad POLL reply: %s", line);
		s += used;
	}
	return got;
}

int peer_state(struct peer *p)
{
	char line[LINE_MAX_LEN];
	int s;

	chan_send(&p->ch, "STATE");
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "STATE %d", &s) != 1)
		die("bad STATE reply: %s", line);
	return s;
}

/* Creates a fresh local QP and has the peer create a fresh one; connects both.
 * Returns 0, or the local ibv_modify_qp error (the QPs stay allocated). */
int pair_connect(struct dev *d, struct peer *p, struct conn *c, unsigned peer_access,
		 unsigned peer_min_rnr, const struct path *path, int *peer_ret)
{
	char line[LINE_MAX_LEN], gid[33], rgid[64];
	struct remote_qp r;
	int pret;

	if (conn_create(d, c))
		die("create_qp: %s", strerror(errno));
	if (conn_init(c, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		      IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC))
		die("modify_qp INIT failed");
	gid_to_hex(&d->gid, gid);
	chan_send(&p->ch, "QP %u %u %u %u %u %s", peer_access, peer_min_rnr, d->port.lid,
		  c->qp->qp_num, c->psn, gid);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "QPOK %u %u %u %63s %d", &r.lid, &r.qpn, &r.psn, rgid, &pret) != 5 ||
	    hex_to_gid(rgid, &r.gid))
		die("bad QP reply: %s", line);
	if (peer_ret)
		*peer_ret = pret;
	return conn_connect(d, c, &r, path);
}

void ensure_good(struct client *cl)
{
	if (cl->c.qp && qp_state(cl->c.qp) == IBV_QPS_RTS)
		return;
	conn_destroy(&cl->c);
	if (pair_connect(cl->d, cl->p, &cl->c, ALL_ACCESS, default_path.min_rnr_timer, &default_path, NULL))
		die("cannot connect a QP pair to %s", cl->p->host);
}
