/* verbs_check: byte-exact data checks (WRITE, WRITE_WITH_IMM, READ, SEND with
 * SGEs and inline, CAS and FAA) over the client's shared QP pair. */
#include "common.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void check_write(struct client *cl, uint32_t len, int with_imm)
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

void check_read(struct client *cl, uint32_t len)
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
void check_send(struct client *cl, const char *name, const uint32_t *slen, int nsge,
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

void check_atomics(struct client *cl)
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
