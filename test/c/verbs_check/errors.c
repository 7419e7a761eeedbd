/* verbs_check: error-semantics checks (LOC_PROT_ERR, REM_ACCESS_ERR and flush,
 * posting in the wrong state, RNR retry exceeded), each on fresh QPs. */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* One WR that must fail with want_status, two more behind it that must flush,
 * the QP in ERR afterwards, and the target untouched. */
void check_error(struct client *cl, const char *name, unsigned peer_access, uint64_t raddr,
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

void check_wrong_state(struct client *cl)
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

void check_rnr(struct client *cl)
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
