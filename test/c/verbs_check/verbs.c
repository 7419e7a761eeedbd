/* verbs_check: device, memory regions and RC QP setup, connect, post and poll helpers. */
#include "common.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gid_to_hex(const union ibv_gid *g, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", g->raw[i]);
}

int hex_to_gid(const char *s, union ibv_gid *g)
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

void dev_open(struct dev *d)
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

const char *qp_state_str(int s)
{
	static const char *names[] = { "RESET", "INIT", "RTR", "RTS", "SQD", "SQE", "ERR" };

	return s >= 0 && s <= 6 ? names[s] : "?";
}

int qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr a;
	struct ibv_qp_init_attr ia;

	if (ibv_query_qp(qp, &a, IBV_QP_STATE, &ia))
		return -1;
	return a.qp_state;
}

/* A fresh CQ and RC QP in RESET. */
int conn_create(struct dev *d, struct conn *c)
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

void conn_destroy(struct conn *c)
{
	if (c->qp && ibv_destroy_qp(c->qp))
		fprintf(stderr, "verbs_check: ibv_destroy_qp: %s\n", strerror(errno));
	if (c->cq && ibv_destroy_cq(c->cq))
		fprintf(stderr, "verbs_check: ibv_destroy_cq: %s\n", strerror(errno));
	memset(c, 0, sizeof(*c));
}

int conn_init(struct conn *c, int access)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = (uint8_t)ib_port,
		.qp_access_flags = (unsigned)access,
	};

	return ibv_modify_qp(c->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			     IBV_QP_ACCESS_FLAGS);
}

const struct path default_path = { .min_rnr_timer = 12, .rnr_retry = 7, .timeout = 14, .retry_cnt = 7 };

/* INIT -> RTR -> RTS towards r; returns 0 or the failing ibv_modify_qp's result. */
int conn_connect(struct dev *d, struct conn *c, const struct remote_qp *r, const struct path *p)
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
int poll_n(struct ibv_cq *cq, struct ibv_wc *wc, int n, int timeout_ms)
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

const unsigned ALL_ACCESS = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			    IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;

int post_one(struct conn *c, enum ibv_wr_opcode op, uint64_t wr_id, struct ibv_sge *sge,
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
int do_one(struct conn *c, enum ibv_wr_opcode op, struct ibv_sge *sge, int nsge,
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

struct ibv_sge lsge(struct dev *d, uint64_t off, uint32_t len)
{
	return (struct ibv_sge){ .addr = (uintptr_t)(d->buf + off), .length = len, .lkey = d->mr->lkey };
}
