/* verbs_check: an ordinary libibverbs program (it would pass on real RDMA
 * hardware) that checks data and error semantics of a verbs provider.
 *
 * Two processes, a server and a client, exchange their QP numbers, LIDs,
 * PSNs, GIDs, buffer addresses and rkeys over their own TCP connection, as
 * perftest does. The server is passive: it owns a target buffer and answers
 * the client's commands over TCP (create and connect a fresh QP, post a
 * receive, fill or checksum part of its buffer, poll its CQ). The client
 * drives every check and prints `ok NAME` or `not ok NAME: detail`; its exit
 * status is non-zero if any check failed.
 *
 *   verbs_check --server [--port P] [-d DEV] [-i PORT] [-g GIDX]
 *   verbs_check --client HOST [--port P] [-d DEV] [-i PORT] [-g GIDX]
 *   verbs_check --wall --peer HOST --foreign HOST [--port P] [-d DEV]
 *       wall mode: HOST peer is a server of the client's own tenant, the
 *       foreign one a server of another tenant; checks that the foreign QP
 *       cannot be reached and the foreign rkey cannot be used.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#define BUF_SIZE (4u << 20)       /* whole buffer of each side */
#define MAIN_LEN (2u << 20)       /* [0, 2 MiB): MR with every access */
#define STALE_OFF (2u << 20)      /* [2 MiB, +64 KiB): MR registered then deregistered */
#define NOACC_OFF (3u << 20)      /* [3 MiB, +64 KiB): MR with LOCAL_WRITE only */
#define SMALL_LEN (64u << 10)
#define LINE_MAX_LEN 1024
#define POLL_TIMEOUT_MS 10000
#define QP_DEPTH 64
#define MAX_SGE 4
#define MAX_INLINE 64

static const char *dev_name = "ffr0";
static int ib_port = 1;
static int gid_idx = -1;
static int failures;
static int verbose;

/* ------------------------------------------------------------ reporting */

static void ok(const char *name)
{
	printf("ok %s\n", name);
	fflush(stdout);
}

static void not_ok(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void not_ok(const char *name, const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("not ok %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "verbs_check: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	printf("not ok setup: fatal error (see stderr)\n");
	exit(2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ patterns */

/* Deterministic bytes from a seed (xorshift64*), so each side can compute
 * what the other's memory must hold without sending it. */
static void fill_pattern(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x1234567ull;

	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
		}
		p[i] = (uint8_t)((x * 0x2545f4914f6cdd1dull) >> (8 * (i & 7)));
	}
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t pattern_hash(size_t len, uint64_t seed)
{
	uint8_t *tmp = malloc(len ? len : 1);
	uint64_t h;

	if (!tmp)
		die("out of memory");
	fill_pattern(tmp, len, seed);
	h = fnv1a(tmp, len);
	free(tmp);
	return h;
}

/* ------------------------------------------------------------ TCP channel */

struct chan {
	int fd;
	char buf[LINE_MAX_LEN * 4];
	size_t len;
};

static void chan_send(struct chan *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void chan_send(struct chan *c, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		die("line too long");
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = send(c->fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("send: %s", strerror(errno));
		}
		off += (int)w;
	}
	if (verbose)
		fprintf(stderr, "> %.*s", n, line);
}

/* Reads one line (without '\n') into out; returns 0, or -1 on EOF. */
static int chan_recv(struct chan *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			if (n >= cap)
				die("line too long");
			memcpy(out, c->buf, n);
			out[n] = 0;
			c->len -= n + 1;
			memmove(c->buf, nl + 1, c->len);
			if (verbose)
				fprintf(stderr, "< %s\n", out);
			return 0;
		}
		if (c->len == sizeof(c->buf))
			die("line too long");
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv: %s", strerror(errno));
		if (r == 0)
			return -1;
		c->len += (size_t)r;
	}
}

static void chan_expect(struct chan *c, char *out, size_t cap)
{
	if (chan_recv(c, out, cap))
		die("peer closed the TCP channel");
	if (!strncmp(out, "ERR", 3))
		die("peer reported: %s", out);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 60 };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_connect(const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	char service[16];
	uint64_t deadline = now_ms() + 15000;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res))
		die("cannot resolve %s", host);
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			die("socket: %s", strerror(errno));
		if (!connect(fd, res->ai_addr, res->ai_addrlen)) {
			freeaddrinfo(res);
			set_timeouts(fd);
			return fd;
		}
		close(fd);
		if (now_ms() > deadline)
			die("connect %s:%d: %s", host, port, strerror(errno));
		usleep(100000);
	}
}

static int tcp_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))
		die("listen on %d: %s", port, strerror(errno));
	return fd;
}

/* ------------------------------------------------------------ verbs setup */

struct dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_port_attr port;
	struct ibv_device_attr attr;
	union ibv_gid gid;
	uint8_t *buf;
	struct ibv_mr *mr;      /* [0, MAIN_LEN) */
	struct ibv_mr *noacc;   /* [NOACC_OFF, +SMALL_LEN), LOCAL_WRITE only */
	uint32_t stale_key;     /* key of a deregistered MR over [STALE_OFF, +SMALL_LEN) */
};

struct conn {
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint32_t psn;
	uint32_t max_inline;
};

struct remote_qp {
	uint32_t lid, qpn, psn;
	union ibv_gid gid;
};

static void gid_to_hex(const union ibv_gid *g, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", g->raw[i]);
}

static int hex_to_gid(const char *s, union ibv_gid *g)
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		g->raw[i] = (uint8_t)v;
	}
	return 0;
}

static void dev_open(struct dev *d)
{
	struct ibv_device **list;
	int n;

	memset(d, 0, sizeof(*d));
	list = ibv_get_device_list(&n);
	if (!list)
		die("ibv_get_device_list: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), dev_name))
			d->ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!d->ctx)
		die("device %s not found or cannot be opened (%d devices)", dev_name, n);
	if (ibv_query_device(d->ctx, &d->attr))
		die("ibv_query_device failed");
	if (ibv_query_port(d->ctx, (uint8_t)ib_port, &d->port))
		die("ibv_query_port failed");
	if (ibv_query_gid(d->ctx, (uint8_t)ib_port, gid_idx < 0 ? 0 : gid_idx, &d->gid))
		die("ibv_query_gid failed");
	d->pd = ibv_alloc_pd(d->ctx);
	if (!d->pd)
		die("ibv_alloc_pd: %s", strerror(errno));
	if (posix_memalign((void **)&d->buf, 4096, BUF_SIZE))
		die("out of memory");
	memset(d->buf, 0, BUF_SIZE);
	d->mr = ibv_reg_mr(d->pd, d->buf, MAIN_LEN,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			   IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC);
	if (!d->mr)
		die("ibv_reg_mr: %s", strerror(errno));
	d->noacc = ibv_reg_mr(d->pd, d->buf + NOACC_OFF, SMALL_LEN, IBV_ACCESS_LOCAL_WRITE);
	if (!d->noacc)
		die("ibv_reg_mr (local only): %s", strerror(errno));
	struct ibv_mr *stale = ibv_reg_mr(d->pd, d->buf + STALE_OFF, SMALL_LEN,
					  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
					  IBV_ACCESS_REMOTE_READ);
	if (!stale)
		die("ibv_reg_mr (stale): %s", strerror(errno));
	d->stale_key = stale->rkey;
	if (ibv_dereg_mr(stale))
		die("ibv_dereg_mr failed");
}

static const char *qp_state_str(int s)
{
	static const char *names[] = { "RESET", "INIT", "RTR", "RTS", "SQD", "SQE", "ERR" };

	return s >= 0 && s <= 6 ? names[s] : "?";
}

static int qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr a;
	struct ibv_qp_init_attr ia;

	if (ibv_query_qp(qp, &a, IBV_QP_STATE, &ia))
		return -1;
	return a.qp_state;
}

/* A fresh CQ and RC QP in RESET. */
static int conn_create(struct dev *d, struct conn *c)
{
	struct ibv_qp_init_attr ia = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = QP_DEPTH, .max_recv_wr = QP_DEPTH,
			 .max_send_sge = MAX_SGE, .max_recv_sge = MAX_SGE,
			 .max_inline_data = MAX_INLINE },
	};

	memset(c, 0, sizeof(*c));
	c->cq = ibv_create_cq(d->ctx, 2 * QP_DEPTH, NULL, NULL, 0);
	if (!c->cq)
		return -1;
	ia.send_cq = ia.recv_cq = c->cq;
	c->qp = ibv_create_qp(d->pd, &ia);
	if (!c->qp) {
		/* some providers cannot inline: retry without */
		ia.cap.max_inline_data = 0;
		c->qp = ibv_create_qp(d->pd, &ia);
	}
	if (!c->qp) {
		ibv_destroy_cq(c->cq);
		c->cq = NULL;
		return -1;
	}
	c->max_inline = ia.cap.max_inline_data;
	c->psn = (uint32_t)(lrand48() & 0xffffff);
	return 0;
}

static void conn_destroy(struct conn *c)
{
	if (c->qp && ibv_destroy_qp(c->qp))
		fprintf(stderr, "verbs_check: ibv_destroy_qp: %s\n", strerror(errno));
	if (c->cq && ibv_destroy_cq(c->cq))
		fprintf(stderr, "verbs_check: ibv_destroy_cq: %s\n", strerror(errno));
	memset(c, 0, sizeof(*c));
}

static int conn_init(struct conn *c, int access)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = (uint8_t)ib_port,
		.qp_access_flags = (unsigned)access,
	};

	return ibv_modify_qp(c->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			     IBV_QP_ACCESS_FLAGS);
}

struct path {
	int min_rnr_timer;
	int rnr_retry;
	int timeout;
	int retry_cnt;
};

static const struct path default_path = { .min_rnr_timer = 12, .rnr_retry = 7, .timeout = 14, .retry_cnt = 7 };

/* INIT -> RTR -> RTS towards r; returns 0 or the failing ibv_modify_qp's result. */
static int conn_connect(struct dev *d, struct conn *c, const struct remote_qp *r, const struct path *p)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = d->port.active_mtu,
		.dest_qp_num = r->qpn,
		.rq_psn = r->psn,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = (uint8_t)p->min_rnr_timer,
		.ah_attr = { .dlid = (uint16_t)r->lid, .sl = 0, .src_path_bits = 0,
			     .port_num = (uint8_t)ib_port },
	};
	int ret;

	if (gid_idx >= 0) {
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = r->gid;
		a.ah_attr.grh.sgid_index = (uint8_t)gid_idx;
		a.ah_attr.grh.hop_limit = 1;
	}
	ret = ibv_modify_qp(c->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			    IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			    IBV_QP_MIN_RNR_TIMER);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = (uint8_t)p->timeout;
	a.retry_cnt = (uint8_t)p->retry_cnt;
	a.rnr_retry = (uint8_t)p->rnr_retry;
	a.sq_psn = c->psn;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(c->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

/* Polls until n completions arrived or timeout; returns how many. */
static int poll_n(struct ibv_cq *cq, struct ibv_wc *wc, int n, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int got = 0;
	unsigned empty = 0;

	while (got < n) {
		int r = ibv_poll_cq(cq, n - got, wc + got);

		if (r < 0) {
			fprintf(stderr, "verbs_check: ibv_poll_cq returned %d\n", r);
			break;
		}
		got += r;
		if (r)
			continue;
		if (now_ms() > deadline)
			break;
		if (++empty > 1000)
			usleep(50); /* leave the CPU to the provider on small machines */
		else
			sched_yield();
	}
	return got;
}

/* ------------------------------------------------------------ server */

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

static void serve(struct dev *d, struct chan *ch)
{
	char line[LINE_MAX_LEN], arg[64];
	struct conn c = { 0 };

	server_info(d, ch);
	while (!chan_recv(ch, line, sizeof(line))) {
		uint64_t off, len, seed, val;
		unsigned access, rnr, lid, qpn, psn, n, tmo;

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
		} else if (!strcmp(line, "STATE")) {
			chan_send(ch, "STATE %d", c.qp ? qp_state(c.qp) : -1);
		} else {
			chan_send(ch, "ERR unknown command");
		}
	}
	conn_destroy(&c);
}

/* ------------------------------------------------------------ client side */

struct peer {
	struct chan ch;
	const char *host;
	uint32_t lid;
	union ibv_gid gid;
	uint64_t addr, len, noacc_addr;
	uint32_t rkey, noacc_rkey, stale_rkey;
	int atomics;
};

static void peer_open(struct peer *p, const char *host, int port)
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

static void peer_close(struct peer *p)
{
	char line[LINE_MAX_LEN];

	chan_send(&p->ch, "BYE");
	chan_recv(&p->ch, line, sizeof(line));
	close(p->ch.fd);
}

static uint64_t peer_sum(struct peer *p, uint64_t off, uint64_t len)
{
	char line[LINE_MAX_LEN];
	uint64_t v;

	chan_send(&p->ch, "SUM %" PRIu64 " %" PRIu64, off, len);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "SUM %" SCNu64, &v) != 1)
		die("bad SUM reply: %s", line);
	return v;
}

static void peer_cmd(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_cmd(struct peer *p, const char *fmt, ...)
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

static void peer_fill(struct peer *p, uint64_t off, uint64_t len, uint64_t seed)
{
	peer_cmd(p, "FILL %" PRIu64 " %" PRIu64 " %" PRIu64, off, len, seed);
}

/* Like peer_cmd but a refusal is returned (-1), not fatal. */
static int peer_try_cmd(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int peer_try_cmd(struct peer *p, const char *fmt, ...)
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

static uint64_t peer_get64(struct peer *p, uint64_t off)
{
	char line[LINE_MAX_LEN];
	uint64_t v;

	chan_send(&p->ch, "GET64 %" PRIu64, off);
	chan_expect(&p->ch, line, sizeof(line));
	if (sscanf(line, "VAL %" SCNu64, &v) != 1)
		die("bad GET64 reply: %s", line);
	return v;
}

struct rwc {
	uint64_t wr_id;
	int status, opcode;
	unsigned byte_len, imm, flags;
};

/* Asks the peer to poll its CQ for n completions; returns how many it got. */
static int peer_poll(struct peer *p, int n, int timeout_ms, struct rwc *out)
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

static int peer_state(struct peer *p)
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
static int pair_connect(struct dev *d, struct peer *p, struct conn *c, unsigned peer_access,
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

static const unsigned ALL_ACCESS = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;

static int post_one(struct conn *c, enum ibv_wr_opcode op, uint64_t wr_id, struct ibv_sge *sge,
		    int nsge, uint64_t raddr, uint32_t rkey, unsigned flags)
{
	struct ibv_send_wr wr = {
		.wr_id = wr_id, .sg_list = sge, .num_sge = nsge, .opcode = op,
		.send_flags = flags | IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad = NULL;

	return ibv_post_send(c->qp, &wr, &bad);
}

/* Posts one WR and waits for its completion; returns the status or -1 on timeout/post error. */
static int do_one(struct conn *c, enum ibv_wr_opcode op, struct ibv_sge *sge, int nsge,
		  uint64_t raddr, uint32_t rkey, unsigned flags, char *why, size_t whylen)
{
	struct ibv_wc wc;
	int ret = post_one(c, op, 7, sge, nsge, raddr, rkey, flags);

	if (ret) {
		snprintf(why, whylen, "ibv_post_send returned %d (%s)", ret, strerror(ret));
		return -1;
	}
	if (poll_n(c->cq, &wc, 1, POLL_TIMEOUT_MS) != 1) {
		snprintf(why, whylen, "no completion within %d ms", POLL_TIMEOUT_MS);
		return -1;
	}
	if (wc.status != IBV_WC_SUCCESS)
		snprintf(why, whylen, "completion status %s (%d)", ibv_wc_status_str(wc.status), wc.status);
	return wc.status;
}

static struct ibv_sge lsge(struct dev *d, uint64_t off, uint32_t len)
{
	return (struct ibv_sge){ .addr = (uintptr_t)(d->buf + off), .length = len, .lkey = d->mr->lkey };
}

/* The data checks share one connected pair; an error check gets fresh QPs. */
struct client {
	struct dev *d;
	struct peer *p;
	struct conn c;
	uint64_t seed;
};

static void ensure_good(struct client *cl)
{
	if (cl->c.qp && qp_state(cl->c.qp) == IBV_QPS_RTS)
		return;
	conn_destroy(&cl->c);
	if (pair_connect(cl->d, cl->p, &cl->c, ALL_ACCESS, default_path.min_rnr_timer, &default_path, NULL))
		die("cannot connect a QP pair to %s", cl->p->host);
}

static void check_write(struct client *cl, uint32_t len, int with_imm)
{
	struct dev *d = cl->d;
	struct peer *p = cl->p;
	char name[64], why[256];
	uint64_t seed = ++cl->seed, roff = 4096 * 3 + (len < 4096 ? 5 : 0);
	struct ibv_sge sge = lsge(d, 0, len);
	int st;

	snprintf(name, sizeof(name), "%s_%u", with_imm ? "write_imm" : "write", len);
	ensure_good(cl);
	if (roff + len > MAIN_LEN)
		roff = 0;
	peer_fill(p, roff, len, seed + 1000);
	fill_pattern(d->buf, len, seed);
	if (with_imm)
		peer_cmd(p, "RECV 11 0");
	struct ibv_send_wr wr = {
		.wr_id = 9, .sg_list = &sge, .num_sge = 1,
		.opcode = with_imm ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE,
		.send_flags = IBV_SEND_SIGNALED, .imm_data = htonl(0xdeadbeef),
		.wr.rdma = { .remote_addr = p->addr + roff, .rkey = p->rkey },
	}, *bad;
	struct ibv_wc wc;

	if ((st = ibv_post_send(cl->c.qp, &wr, &bad))) {
		not_ok(name, "ibv_post_send returned %d", st);
		return;
	}
	if (poll_n(cl->c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1) {
		not_ok(name, "no completion");
		return;
	}
	if (wc.status != IBV_WC_SUCCESS || wc.opcode != IBV_WC_RDMA_WRITE || wc.wr_id != 9) {
		not_ok(name, "completion status %s opcode %d wr_id %" PRIu64,
		       ibv_wc_status_str(wc.status), wc.opcode, wc.wr_id);
		return;
	}
	if (with_imm) {
		struct rwc r;

		if (peer_poll(p, 1, POLL_TIMEOUT_MS, &r) != 1) {
			not_ok(name, "no receive completion at the target");
			return;
		}
		if (r.status != IBV_WC_SUCCESS || r.opcode != IBV_WC_RECV_RDMA_WITH_IMM ||
		    !(r.flags & IBV_WC_WITH_IMM) || r.imm != 0xdeadbeef || r.byte_len != len || r.wr_id != 11) {
			not_ok(name, "target completion status %d opcode %d flags 0x%x imm 0x%x byte_len %u wr_id %" PRIu64,
			       r.status, r.opcode, r.flags, r.imm, r.byte_len, r.wr_id);
			return;
		}
	}
	if (peer_sum(p, roff, len) != pattern_hash(len, seed)) {
		not_ok(name, "target bytes differ from what was written");
		return;
	}
	(void)why;
	ok(name);
}

static void check_read(struct client *cl, uint32_t len)
{
	struct dev *d = cl->d;
	struct peer *p = cl->p;
	char name[64], why[256];
	uint64_t seed = ++cl->seed, roff = 4096 * 5 + (len < 4096 ? 3 : 0), loff = 8192 + 1;
	struct ibv_sge sge = lsge(d, loff, len);
	int st;

	snprintf(name, sizeof(name), "read_%u", len);
	ensure_good(cl);
	if (roff + len > MAIN_LEN)
		roff = 0;
	peer_fill(p, roff, len, seed);
	memset(d->buf + loff, 0xa5, len);
	st = do_one(&cl->c, IBV_WR_RDMA_READ, &sge, 1, p->addr + roff, p->rkey, 0, why, sizeof(why));
	if (st != IBV_WC_SUCCESS) {
		not_ok(name, "%s", why);
		return;
	}
	if (fnv1a(d->buf + loff, len) != pattern_hash(len, seed)) {
		not_ok(name, "local bytes differ from the remote buffer");
		return;
	}
	ok(name);
}

/* SEND of len bytes from nsge local pieces into a receive of the given pieces. */
static void check_send(struct client *cl, const char *name, const uint32_t *slen, int nsge,
		       const uint64_t *roffs, const uint32_t *rlens, int nrsge, int inl)
{
	struct dev *d = cl->d;
	struct peer *p = cl->p;
	struct ibv_sge sge[MAX_SGE];
	char cmd[LINE_MAX_LEN];
	uint8_t *stream, stackbuf[MAX_INLINE];
	uint32_t total = 0, rtotal = 0;
	uint64_t loff = 0, seed = ++cl->seed;
	struct ibv_wc wc;
	struct rwc r;
	int at, st;

	ensure_good(cl);
	for (int i = 0; i < nsge; i++)
		total += slen[i];
	for (int i = 0; i < nrsge; i++)
		rtotal += rlens[i];
	stream = malloc(total ? total : 1);
	if (!stream)
		die("out of memory");
	fill_pattern(stream, total, seed);
	if (inl && cl->c.max_inline < total) {
		not_ok(name, "QP max_inline_data %u < %u", cl->c.max_inline, total);
		free(stream);
		return;
	}
	/* scatter the stream over the local pieces, 4 KiB + 1 apart */
	for (int i = 0, s = 0; i < nsge; i++) {
		if (inl) {
			memcpy(stackbuf, stream, total);
			sge[i] = (struct ibv_sge){ .addr = (uintptr_t)stackbuf, .length = total, .lkey = 0 };
		} else {
			memcpy(d->buf + loff, stream + s, slen[i]);
			sge[i] = lsge(d, loff, slen[i]);
		}
		s += (int)slen[i];
		loff += slen[i] + 4097;
	}
	for (int i = 0; i < nrsge; i++)
		peer_fill(p, roffs[i], rlens[i], seed + 77 + (uint64_t)i);
	at = snprintf(cmd, sizeof(cmd), "RECV 21 %d", nrsge);
	for (int i = 0; i < nrsge; i++)
		at += snprintf(cmd + at, sizeof(cmd) - (size_t)at, " %" PRIu64 " %u", roffs[i], rlens[i]);
	peer_cmd(p, "%s", cmd);
	struct ibv_send_wr wr = {
		.wr_id = 20, .sg_list = sge, .num_sge = inl ? 1 : nsge, .opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED | (inl ? IBV_SEND_INLINE : 0),
	}, *bad;

	st = ibv_post_send(cl->c.qp, &wr, &bad);
	if (inl)
		memset(stackbuf, 0, sizeof(stackbuf)); /* inline data was copied at post time */
	if (st) {
		not_ok(name, "ibv_post_send returned %d", st);
		goto out;
	}
	if (poll_n(cl->c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1) {
		not_ok(name, "no send completion");
		goto out;
	}
	if (wc.status != IBV_WC_SUCCESS || wc.opcode != IBV_WC_SEND) {
		not_ok(name, "send completion status %s opcode %d", ibv_wc_status_str(wc.status), wc.opcode);
		goto out;
	}
	if (peer_poll(p, 1, POLL_TIMEOUT_MS, &r) != 1) {
		not_ok(name, "no receive completion at the target");
		goto out;
	}
	if (r.status != IBV_WC_SUCCESS || r.opcode != IBV_WC_RECV || r.byte_len != total || r.wr_id != 21) {
		not_ok(name, "receive completion status %d opcode %d byte_len %u (want %u) wr_id %" PRIu64,
		       r.status, r.opcode, r.byte_len, total, r.wr_id);
		goto out;
	}
	/* the receive pieces hold the stream in order; the rest of each piece is untouched */
	for (int i = 0, s = 0; i < nrsge; i++) {
		uint32_t n = total - (uint32_t)s < rlens[i] ? total - (uint32_t)s : rlens[i];
		uint8_t *want = malloc(rlens[i]);

		if (!want)
			die("out of memory");
		fill_pattern(want, rlens[i], seed + 77 + (uint64_t)i);
		memcpy(want, stream + s, n);
		if (peer_sum(p, roffs[i], rlens[i]) != fnv1a(want, rlens[i])) {
			free(want);
			not_ok(name, "receive piece %d (offset %" PRIu64 ", %u bytes) differs", i, roffs[i], rlens[i]);
			goto out;
		}
		free(want);
		s += (int)n;
	}
	(void)rtotal;
	ok(name);
out:
	free(stream);
}

static void check_atomics(struct client *cl)
{
	struct dev *d = cl->d;
	struct peer *p = cl->p;
	const uint64_t roff = 0x40000, loff = 0x1000;
	uint64_t *res = (uint64_t *)(void *)(d->buf + loff), v;
	struct ibv_sge sge = lsge(d, loff, 8);
	int st;

	if (!p->atomics || d->attr.atomic_cap == IBV_ATOMIC_NONE) {
		not_ok("cas", "device reports no atomic support");
		not_ok("faa", "device reports no atomic support");
		return;
	}
	ensure_good(cl);
	struct ibv_send_wr wr = {
		.wr_id = 30, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_ATOMIC_CMP_AND_SWP,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	struct ibv_wc wc;

	/* CAS that succeeds, then one that does not */
	peer_cmd(p, "SET64 %" PRIu64 " %" PRIu64, roff, (uint64_t)0x1111222233334444ull);
	*res = 0;
	wr.wr.atomic.remote_addr = p->addr + roff;
	wr.wr.atomic.compare_add = 0x1111222233334444ull;
	wr.wr.atomic.swap = 0x5555666677778888ull;
	wr.wr.atomic.rkey = p->rkey;
	st = ibv_post_send(cl->c.qp, &wr, &bad);
	if (st || poll_n(cl->c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS ||
	    wc.opcode != IBV_WC_COMP_SWAP) {
		not_ok("cas", "post %d or completion failed (status %s)", st, st ? "-" : ibv_wc_status_str(wc.status));
		goto faa;
	}
	v = peer_get64(p, roff);
	if (*res != 0x1111222233334444ull || v != 0x5555666677778888ull) {
		not_ok("cas", "swap: returned 0x%" PRIx64 " target 0x%" PRIx64, *res, v);
		goto faa;
	}
	*res = 0;
	wr.wr.atomic.compare_add = 1;
	wr.wr.atomic.swap = 9;
	st = ibv_post_send(cl->c.qp, &wr, &bad);
	if (st || poll_n(cl->c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS) {
		not_ok("cas", "second CAS: post %d or completion failed", st);
		goto faa;
	}
	v = peer_get64(p, roff);
	if (*res != 0x5555666677778888ull || v != 0x5555666677778888ull) {
		not_ok("cas", "failed compare: returned 0x%" PRIx64 " target 0x%" PRIx64, *res, v);
		goto faa;
	}
	ok("cas");
faa:
	ensure_good(cl);
	peer_cmd(p, "SET64 %" PRIu64 " %" PRIu64, roff, (uint64_t)1000);
	*res = 0;
	wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
	wr.wr.atomic.remote_addr = p->addr + roff;
	wr.wr.atomic.compare_add = 0x100000001ull;
	wr.wr.atomic.swap = 0;
	wr.wr.atomic.rkey = p->rkey;
	st = ibv_post_send(cl->c.qp, &wr, &bad);
	if (st || poll_n(cl->c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS ||
	    wc.opcode != IBV_WC_FETCH_ADD) {
		not_ok("faa", "post %d or completion failed (status %s)", st, st ? "-" : ibv_wc_status_str(wc.status));
		return;
	}
	v = peer_get64(p, roff);
	if (*res != 1000 || v != 1000 + 0x100000001ull) {
		not_ok("faa", "returned %" PRIu64 " target 0x%" PRIx64, *res, v);
		return;
	}
	/* 64-bit wrap-around */
	peer_cmd(p, "SET64 %" PRIu64 " %" PRIu64, roff, UINT64_MAX);
	wr.wr.atomic.compare_add = 2;
	st = ibv_post_send(cl->c.qp, &wr, &bad);
	if (st || poll_n(cl->c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS) {
		not_ok("faa", "wrap: post %d or completion failed", st);
		return;
	}
	v = peer_get64(p, roff);
	if (*res != UINT64_MAX || v != 1) {
		not_ok("faa", "wrap: returned 0x%" PRIx64 " target 0x%" PRIx64, *res, v);
		return;
	}
	ok("faa");
}

/* One WR that must fail with want_status, two more behind it that must flush,
 * the QP in ERR afterwards, and the target untouched. */
static void check_error(struct client *cl, const char *name, unsigned peer_access, uint64_t raddr,
			uint32_t rkey, uint32_t lkey, int want_status, uint64_t watch_off, uint32_t watch_len)
{
	struct dev *d = cl->d;
	struct peer *p = cl->p;
	struct conn c;
	struct ibv_sge sge[3];
	struct ibv_send_wr wr[3], *bad = NULL;
	struct ibv_wc wc[4];
	uint64_t seed = ++cl->seed, good_off = 0x80000;
	int st, got;

	if (pair_connect(d, p, &c, peer_access, default_path.min_rnr_timer, &default_path, NULL)) {
		not_ok(name, "could not connect a fresh QP pair");
		conn_destroy(&c);
		return;
	}
	peer_fill(p, watch_off, watch_len, seed);
	peer_fill(p, good_off, 4096, seed + 1);
	fill_pattern(d->buf + 0x10000, 3 * 4096, seed + 2);
	memset(wr, 0, sizeof(wr));
	for (int i = 0; i < 3; i++) {
		sge[i] = lsge(d, 0x10000 + 4096 * (uint64_t)i, 64);
		wr[i].wr_id = 100 + (uint64_t)i;
		wr[i].sg_list = &sge[i];
		wr[i].num_sge = 1;
		wr[i].opcode = IBV_WR_RDMA_WRITE;
		wr[i].send_flags = IBV_SEND_SIGNALED;
		wr[i].wr.rdma.remote_addr = p->addr + good_off + 64 * (uint64_t)i;
		wr[i].wr.rdma.rkey = p->rkey;
		wr[i].next = i < 2 ? &wr[i + 1] : NULL;
	}
	wr[0].wr.rdma.remote_addr = raddr;
	wr[0].wr.rdma.rkey = rkey;
	sge[0].lkey = lkey;
	st = ibv_post_send(c.qp, wr, &bad);
	if (st) {
		not_ok(name, "ibv_post_send returned %d", st);
		goto out;
	}
	got = poll_n(c.cq, wc, 3, POLL_TIMEOUT_MS);
	if (got != 3) {
		not_ok(name, "%d of 3 completions within %d ms", got, POLL_TIMEOUT_MS);
		goto out;
	}
	if (wc[0].wr_id != 100 || wc[0].status != (enum ibv_wc_status)want_status) {
		not_ok(name, "first completion wr_id %" PRIu64 " status %s (%d), want %s", wc[0].wr_id,
		       ibv_wc_status_str(wc[0].status), wc[0].status,
		       ibv_wc_status_str((enum ibv_wc_status)want_status));
		goto out;
	}
	for (int i = 1; i < 3; i++) {
		if (wc[i].status != IBV_WC_WR_FLUSH_ERR || wc[i].wr_id != 100 + (uint64_t)i) {
			not_ok(name, "completion %d wr_id %" PRIu64 " status %s, want WR_FLUSH_ERR", i,
			       wc[i].wr_id, ibv_wc_status_str(wc[i].status));
			goto out;
		}
	}
	st = qp_state(c.qp);
	if (st != IBV_QPS_ERR) {
		not_ok(name, "QP state %s after the error, want ERR", qp_state_str(st));
		goto out;
	}
	/* a WR posted in ERR is flushed (or refused at post time) */
	sge[1].lkey = d->mr->lkey;
	wr[1].next = NULL;
	st = ibv_post_send(c.qp, &wr[1], &bad);
	if (!st) {
		if (poll_n(c.cq, wc, 1, POLL_TIMEOUT_MS) != 1 || wc[0].status != IBV_WC_WR_FLUSH_ERR) {
			not_ok(name, "WR posted in ERR did not complete with WR_FLUSH_ERR");
			goto out;
		}
	}
	if (peer_sum(p, watch_off, watch_len) != pattern_hash(watch_len, seed)) {
		not_ok(name, "the target buffer was written");
		goto out;
	}
	if (peer_sum(p, good_off, 4096) != pattern_hash(4096, seed + 1)) {
		not_ok(name, "a flushed WR wrote to the target");
		goto out;
	}
	printf("# %s: responder QP state %s\n", name, qp_state_str(peer_state(p)));
	ok(name);
out:
	conn_destroy(&c);
}

static void check_wrong_state(struct client *cl)
{
	struct dev *d = cl->d;
	struct conn c;
	struct ibv_sge sge = lsge(d, 0, 64);
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_wc wc;
	int st;

	if (conn_create(d, &c))
		die("create_qp: %s", strerror(errno));
	st = ibv_post_send(c.qp, &wr, &bad);
	if (st == 0)
		not_ok("post_send_reset", "ibv_post_send in RESET succeeded");
	else if (bad != &wr)
		not_ok("post_send_reset", "returned %d but bad_wr does not point at the WR", st);
	else
		printf("ok post_send_reset (%s)\n", strerror(st));
	if (conn_init(&c, (int)ALL_ACCESS))
		die("modify_qp INIT failed");
	bad = NULL;
	st = ibv_post_send(c.qp, &wr, &bad);
	if (st == 0)
		not_ok("post_send_init", "ibv_post_send in INIT succeeded");
	else if (bad != &wr)
		not_ok("post_send_init", "returned %d but bad_wr does not point at the WR", st);
	else
		printf("ok post_send_init (%s)\n", strerror(st));
	if (poll_n(c.cq, &wc, 1, 50) != 0)
		not_ok("post_wrong_state_no_cqe", "a refused WR produced a completion");
	else
		ok("post_wrong_state_no_cqe");
	fflush(stdout);
	conn_destroy(&c);
}

static void check_rnr(struct client *cl)
{
	struct dev *d = cl->d;
	struct conn c;
	struct path path = default_path;
	struct ibv_sge sge = lsge(d, 0, 64);
	struct ibv_wc wc;
	char why[256];
	uint64_t t0;
	int st;

	path.rnr_retry = 1;
	/* the responder's min_rnr_timer 1 = 0.01 ms; no receive is posted there */
	if (pair_connect(d, cl->p, &c, ALL_ACCESS, 1, &path, NULL)) {
		not_ok("rnr_retry_exc", "could not connect a fresh QP pair");
		conn_destroy(&c);
		return;
	}
	t0 = now_ms();
	st = do_one(&c, IBV_WR_SEND, &sge, 1, 0, 0, 0, why, sizeof(why));
	if (st != IBV_WC_RNR_RETRY_EXC_ERR) {
		not_ok("rnr_retry_exc", "want RNR_RETRY_EXC_ERR: %s", st == IBV_WC_SUCCESS ? "send succeeded" : why);
	} else if ((st = qp_state(c.qp)) != IBV_QPS_ERR) {
		not_ok("rnr_retry_exc", "QP state %s, want ERR", qp_state_str(st));
	} else {
		/* anything posted now is flushed */
		if (post_one(&c, IBV_WR_SEND, 8, &sge, 1, 0, 0, 0) == 0 &&
		    (poll_n(c.cq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_WR_FLUSH_ERR))
			not_ok("rnr_retry_exc", "WR posted after the error was not flushed");
		else
			printf("ok rnr_retry_exc (%" PRIu64 " ms)\n", now_ms() - t0);
	}
	fflush(stdout);
	conn_destroy(&c);
}

static void run_client(struct dev *d, const char *host, int port)
{
	struct peer p;
	struct client cl = { .d = d, .p = &p, .seed = (uint64_t)getpid() << 8 };
	static const uint32_t sizes[] = { 1, 4096, 1u << 20 };

	peer_open(&p, host, port);
	printf("# peer %s lid %u rkey 0x%x; local lid %u\n", host, p.lid, p.rkey, d->port.lid);
	for (unsigned i = 0; i < 3; i++)
		check_write(&cl, sizes[i], 0);
	check_write(&cl, 4096, 1);
	check_write(&cl, 1, 1);
	for (unsigned i = 0; i < 3; i++)
		check_read(&cl, sizes[i]);
	for (unsigned i = 0; i < 3; i++) {
		char name[32];
		uint64_t roff = 0x100000 - (sizes[i] == (1u << 20) ? 0x100000 : 0) + 7;
		uint32_t rlen = sizes[i];

		snprintf(name, sizeof(name), "send_%u", sizes[i]);
		check_send(&cl, name, &sizes[i], 1, &roff, &rlen, 1, 0);
	}
	{
		static const uint32_t slens[] = { 100, 1, 4000, 3000 };
		static const uint64_t roffs[] = { 0x10000, 0x20003, 0x30000 };
		static const uint32_t rlens[] = { 5000, 1, 3000 };

		check_send(&cl, "send_sges", slens, 4, roffs, rlens, 3, 0);
	}
	{
		static const uint32_t slen[] = { 64 };
		static const uint64_t roff[] = { 0x50000 };
		static const uint32_t rlen[] = { 256 };

		check_send(&cl, "send_inline", slen, 1, roff, rlen, 1, 1);
	}
	check_atomics(&cl);

	/* error semantics, each on fresh QPs */
	check_error(&cl, "loc_prot_bad_lkey", ALL_ACCESS, p.addr + 0x60000, p.rkey, d->stale_key,
		    IBV_WC_LOC_PROT_ERR, 0x60000, 4096);
	check_error(&cl, "rem_access_bad_rkey", ALL_ACCESS, p.addr + 0x60000, p.stale_rkey, d->mr->lkey,
		    IBV_WC_REM_ACCESS_ERR, 0x60000, 4096);
	check_error(&cl, "rem_access_out_of_bounds", ALL_ACCESS, p.addr + MAIN_LEN - 16, p.rkey, d->mr->lkey,
		    IBV_WC_REM_ACCESS_ERR, MAIN_LEN - 16, 64);
	check_error(&cl, "rem_access_mr_no_remote_write", ALL_ACCESS, p.noacc_addr, p.noacc_rkey, d->mr->lkey,
		    IBV_WC_REM_ACCESS_ERR, NOACC_OFF, 4096);
	check_error(&cl, "rem_access_qp_no_remote_write", IBV_ACCESS_LOCAL_WRITE, p.addr + 0x60000, p.rkey,
		    d->mr->lkey, IBV_WC_REM_ACCESS_ERR, 0x60000, 4096);
	check_wrong_state(&cl);
	check_rnr(&cl);

	conn_destroy(&cl.c);
	peer_close(&p);
}

/* Tenant walls: the foreign server belongs to another tenant. */
static void run_wall(struct dev *d, const char *peer_host, const char *foreign_host, int port)
{
	struct peer own, foreign;
	struct client cl = { .d = d, .p = &own, .seed = (uint64_t)getpid() << 8 };
	struct path fast = default_path;
	struct conn c;
	struct ibv_sge sge;
	struct ibv_wc wc;
	char why[256];
	int st, pret = 0;
	const uint64_t woff = 0x70000;

	peer_open(&own, peer_host, port);
	peer_open(&foreign, foreign_host, port);
	printf("# own peer %s lid %u; foreign %s lid %u; local lid %u\n", peer_host, own.lid,
	       foreign_host, foreign.lid, d->port.lid);

	/* the legitimate path works (so a failure below is the wall, not a broken setup) */
	check_write(&cl, 4096, 0);

	/* 1. a QP connected to the foreign tenant's QP cannot deliver anything:
	 * neither a WRITE (with the foreign rkey) nor a SEND into posted receives */
	fast.timeout = 10;
	fast.retry_cnt = 1;
	fast.rnr_retry = 1;
	for (int op = 0; op < 2; op++) {
		const char *name = op ? "wall_connect_send" : "wall_connect_write";
		struct rwc r;

		peer_fill(&foreign, woff, 4096, 4242);
		st = pair_connect(d, &foreign, &c, ALL_ACCESS, 1, &fast, &pret);
		if (st) {
			printf("# %s: connecting to the foreign QP was refused by ibv_modify_qp (%d)\n", name, st);
		} else {
			fill_pattern(d->buf, 4096, 99);
			sge = lsge(d, 0, 4096);
			if (op == 1 && peer_try_cmd(&foreign, "RECV 5 1 %" PRIu64 " 4096", woff))
				printf("# %s: the foreign side could not post a receive\n", name);
			st = do_one(&c, op ? IBV_WR_SEND : IBV_WR_RDMA_WRITE, &sge, 1, foreign.addr + woff,
				    foreign.rkey, 0, why, sizeof(why));
			if (st == IBV_WC_SUCCESS) {
				not_ok(name, "a %s over a QP connected to another tenant's QP succeeded",
				       op ? "SEND" : "WRITE");
				conn_destroy(&c);
				continue;
			}
			printf("# %s: %s\n", name, why);
			if (op == 1 && peer_poll(&foreign, 1, 200, &r) == 1 && r.status == IBV_WC_SUCCESS) {
				not_ok(name, "the foreign QP received the message");
				conn_destroy(&c);
				continue;
			}
		}
		if (peer_sum(&foreign, woff, 4096) != pattern_hash(4096, 4242))
			not_ok(name, "the foreign tenant's buffer was written");
		else
			ok(name);
		conn_destroy(&c);
	}

	/* 2. the foreign rkey is not honoured over a legitimate QP */
	conn_destroy(&cl.c);
	ensure_good(&cl);
	peer_fill(&foreign, woff, 4096, 4343);
	fill_pattern(d->buf, 4096, 98);
	sge = lsge(d, 0, 4096);
	st = do_one(&cl.c, IBV_WR_RDMA_WRITE, &sge, 1, foreign.addr + woff, foreign.rkey, 0, why, sizeof(why));
	if (st == IBV_WC_SUCCESS)
		not_ok("wall_rkey_write", "a WRITE with another tenant's rkey succeeded");
	else if (peer_sum(&foreign, woff, 4096) != pattern_hash(4096, 4343))
		not_ok("wall_rkey_write", "the foreign tenant's buffer was written (%s)", why);
	else
		printf("ok wall_rkey_write (%s)\n", why);
	fflush(stdout);

	conn_destroy(&cl.c);
	ensure_good(&cl);
	memset(d->buf + 0x8000, 0, 4096);
	sge = lsge(d, 0x8000, 4096);
	st = do_one(&cl.c, IBV_WR_RDMA_READ, &sge, 1, foreign.addr + woff, foreign.rkey, 0, why, sizeof(why));
	if (st == IBV_WC_SUCCESS)
		not_ok("wall_rkey_read", "a READ with another tenant's rkey succeeded");
	else if (fnv1a(d->buf + 0x8000, 4096) == pattern_hash(4096, 4343))
		not_ok("wall_rkey_read", "the foreign tenant's bytes arrived");
	else
		printf("ok wall_rkey_read (%s)\n", why);
	fflush(stdout);
	(void)wc;

	conn_destroy(&cl.c);
	peer_close(&own);
	peer_close(&foreign);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: verbs_check --server [--port P] [-d DEV] [-i PORT] [-g GIDX]\n"
		"       verbs_check --client HOST [--port P] [-d DEV] [-i PORT] [-g GIDX]\n"
		"       verbs_check --wall --peer HOST --foreign HOST [--port P] [-d DEV]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", no_argument, NULL, 's' },
		{ "client", required_argument, NULL, 'c' },
		{ "wall", no_argument, NULL, 'w' },
		{ "peer", required_argument, NULL, 'P' },
		{ "foreign", required_argument, NULL, 'F' },
		{ "port", required_argument, NULL, 'p' },
		{ "ib-dev", required_argument, NULL, 'd' },
		{ "ib-port", required_argument, NULL, 'i' },
		{ "gid-idx", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *client = NULL, *peer = NULL, *foreign = NULL;
	int server = 0, wall = 0, port = 18515, o;
	struct dev d;

	while ((o = getopt_long(argc, argv, "sc:wP:F:p:d:i:g:v", opts, NULL)) != -1) {
		switch (o) {
		case 's': server = 1; break;
		case 'c': client = optarg; break;
		case 'w': wall = 1; break;
		case 'P': peer = optarg; break;
		case 'F': foreign = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'd': dev_name = optarg; break;
		case 'i': ib_port = atoi(optarg); break;
		case 'g': gid_idx = atoi(optarg); break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (server + !!client + wall != 1 || (wall && (!peer || !foreign)))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand48((long)getpid() ^ (long)now_ms());

	if (server) {
		/* listen before touching the device, so a client never races the setup */
		int lfd = tcp_listen(port);
		struct chan ch = { 0 };

		dev_open(&d);
		ch.fd = accept(lfd, NULL, NULL);
		if (ch.fd < 0)
			die("accept: %s", strerror(errno));
		set_timeouts(ch.fd);
		close(lfd);
		serve(&d, &ch);
		close(ch.fd);
		printf("# server done\n");
	} else {
		dev_open(&d);
		if (client)
			run_client(&d, client, port);
		else
			run_wall(&d, peer, foreign, port);
		printf("# %d failure(s)\n", failures);
	}
	ibv_dereg_mr(d.mr);
	ibv_dereg_mr(d.noacc);
	ibv_dealloc_pd(d.pd);
	ibv_close_device(d.ctx);
	free(d.buf);
	return failures ? 1 : 0;
}
