/* `qp COUNT`: RC QPs created, connected in pairs within the process and
 * destroyed, timed per QP; and the QP set the remote mode shares. */
#include "vc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qpset_open(struct qpset *s, long count)
{
	struct ibv_port_attr port;
	int r;

	memset(s, 0, sizeof(*s));
	s->count = count;
	s->qp = calloc((size_t)count, sizeof(*s->qp));
	s->create_us = calloc(3 * (size_t)count, sizeof(double));
	if (!s->qp || !s->create_us) {
		fail("calloc");
		return -1;
	}
	s->connect_us = s->create_us + count;
	s->destroy_us = s->create_us + 2 * count;
	if (vc_dev_open(&s->dev))
		return -1;
	r = ibv_query_port(s->dev.ctx, 1, &port);
	if (r) {
		fail_ret("ibv_query_port", r);
		return -1;
	}
	s->lid = port.lid;
	s->mtu = port.active_mtu;
	s->cq = ibv_create_cq(s->dev.ctx, CQ_DEPTH, NULL, NULL, 0);
	if (!s->cq) {
		fail("ibv_create_cq");
		return -1;
	}
	if (posix_memalign((void **)&s->buf, 4096, 4096)) {
		fail("posix_memalign");
		return -1;
	}
	memset(s->buf, 0, 4096);
	s->mr = ibv_reg_mr(s->dev.pd, s->buf, 4096, ACCESS);
	if (!s->mr) {
		fail("ibv_reg_mr");
		return -1;
	}
	return 0;
}

/* Frees whatever qpset_open and the QP steps left; safe on a partial set. */
int qpset_close(struct qpset *s)
{
	int ret = 0, r;

	for (long i = 0; s->qp && i < s->count; i++) {
		if (s->qp[i] && (r = ibv_destroy_qp(s->qp[i])))
			ret = fail_ret("ibv_destroy_qp", r);
	}
	if (s->mr && (r = ibv_dereg_mr(s->mr)))
		ret = fail_ret("ibv_dereg_mr", r);
	if (s->cq && (r = ibv_destroy_cq(s->cq)))
		ret = fail_ret("ibv_destroy_cq", r);
	if (vc_dev_close(&s->dev))
		ret = -1;
	free(s->buf);
	free(s->create_us);
	free(s->qp);
	memset(s, 0, sizeof(*s));
	return ret;
}

int qpset_create(struct qpset *s)
{
	struct ibv_qp_init_attr a = {
		.send_cq = s->cq,
		.recv_cq = s->cq,
		.cap = { .max_send_wr = QP_WR, .max_recv_wr = QP_WR, .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};

	for (long i = 0; i < s->count; i++) {
		double t0 = now_us();

		s->qp[i] = ibv_create_qp(s->dev.pd, &a);
		s->create_us[i] = now_us() - t0;
		if (!s->qp[i]) {
			fail("ibv_create_qp");
			return -1;
		}
	}
	return 0;
}

int qp_init(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = 1,
		.qp_access_flags = ACCESS,
	};
	int r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);

	return r ? fail_ret("ibv_modify_qp(INIT)", r) : 0;
}

int qp_rtr_rts(struct ibv_qp *qp, enum ibv_mtu mtu, uint16_t dlid, uint32_t dqpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = mtu,
		.dest_qp_num = dqpn,
		.rq_psn = 0,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = { .dlid = dlid, .port_num = 1 },
	};
	int r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			      IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);

	if (r)
		return fail_ret("ibv_modify_qp(RTR)", r);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			  IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	return r ? fail_ret("ibv_modify_qp(RTS)", r) : 0;
}

int qpset_destroy(struct qpset *s)
{
	for (long i = 0; i < s->count; i++) {
		double t0 = now_us();
		int r = ibv_destroy_qp(s->qp[i]);

		s->destroy_us[i] = now_us() - t0;
		if (r)
			return fail_ret("ibv_destroy_qp", r);
		s->qp[i] = NULL;
	}
	return 0;
}

int post_recv(struct qpset *s, struct ibv_qp *qp, char *dst)
{
	struct ibv_sge sge = { .addr = (uintptr_t)dst, .length = MSG_LEN, .lkey = s->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 2, .sg_list = &sge, .num_sge = 1 }, *bad;
	int r = ibv_post_recv(qp, &wr, &bad);

	return r ? fail_ret("ibv_post_recv", r) : 0;
}

int post_send(struct qpset *s, struct ibv_qp *qp, char *src)
{
	struct ibv_sge sge = { .addr = (uintptr_t)src, .length = MSG_LEN, .lkey = s->mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int r;

	snprintf(src, MSG_LEN, "verbs_control qpn %u", qp->qp_num);
	r = ibv_post_send(qp, &wr, &bad);
	return r ? fail_ret("ibv_post_send", r) : 0;
}

/* Polls until `want` successful completions arrived, or fails. */
int wait_completions(struct qpset *s, int want)
{
	double deadline = now_us() + POLL_TIMEOUT_US;
	struct ibv_wc wc;

	while (want > 0) {
		int n = ibv_poll_cq(s->cq, 1, &wc);

		if (n < 0) {
			fprintf(stderr, "verbs_control: ibv_poll_cq failed (%d)\n", n);
			return -1;
		}
		if (n == 0) {
			if (now_us() > deadline) {
				fprintf(stderr, "verbs_control: no completion within %.0f s\n", POLL_TIMEOUT_US / 1e6);
				return -1;
			}
			continue;
		}
		if (wc.status != IBV_WC_SUCCESS) {
			fprintf(stderr, "verbs_control: completion wr_id %llu: %s\n",
				(unsigned long long)wc.wr_id, ibv_wc_status_str(wc.status));
			return -1;
		}
		want--;
	}
	return 0;
}

/* QP 0 sends MSG_LEN bytes to QP 1 and they arrive intact. */
static int check_local_pair(struct qpset *s)
{
	char *src = s->buf, *dst = s->buf + 2048;

	if (post_recv(s, s->qp[1], dst) || post_send(s, s->qp[0], src) || wait_completions(s, 2))
		return -1;
	if (memcmp(src, dst, MSG_LEN)) {
		fprintf(stderr, "verbs_control: check message arrived corrupted\n");
		return -1;
	}
	return 0;
}

void print_qp_result(const char *mode, struct qpset *s, double wall_us)
{
	printf("{\"mode\":\"%s\",\"count\":%ld,\"create_connect_wall_us\":%.3f,\"verified\":true,", mode, s->count, wall_us);
	print_samples("create_us", s->create_us, s->count, 0);
	print_samples("connect_us", s->connect_us, s->count, 0);
	print_samples("destroy_us", s->destroy_us, s->count, 1);
	printf("}\n");
}

/* Connects the QPs in pairs (0-1, 2-3, ...); per QP its INIT, RTR and RTS. */
static int connect_pairs(struct qpset *s)
{
	for (long i = 0; i < s->count; i += 2) {
		struct ibv_qp *a = s->qp[i], *b = s->qp[i + 1];
		double ta, tb, tc, td;

		ta = now_us();
		if (qp_init(a))
			return -1;
		tb = now_us();
		if (qp_init(b))
			return -1;
		tc = now_us();
		if (qp_rtr_rts(a, s->mtu, s->lid, b->qp_num))
			return -1;
		td = now_us();
		if (qp_rtr_rts(b, s->mtu, s->lid, a->qp_num))
			return -1;
		s->connect_us[i] = (tb - ta) + (td - tc);
		s->connect_us[i + 1] = (tc - tb) + (now_us() - td);
	}
	return 0;
}

/* One untimed pair first: the first QP of a process pays one-time costs
 * (lazy symbol binding, first allocations) that are no QP's own. */
int qp_warm_up(void)
{
	struct qpset w = { 0 };
	int ret = -1;

	if (qpset_open(&w, 2) == 0 && qpset_create(&w) == 0 && connect_pairs(&w) == 0 && qpset_destroy(&w) == 0)
		ret = 0;
	if (qpset_close(&w))
		ret = -1;
	return ret;
}

int cmd_qp(long count)
{
	struct qpset s = { 0 };
	double t0, wall;
	int ret = 1;

	if (qp_warm_up() || qpset_open(&s, count))
		goto out;
	t0 = now_us();
	if (qpset_create(&s) || connect_pairs(&s))
		goto out;
	wall = now_us() - t0;
	if (check_local_pair(&s) || qpset_destroy(&s))
		goto out;
	print_qp_result("qp", &s, wall);
	ret = 0;
out:
	if (qpset_close(&s))
		ret = 1;
	return ret;
}
