/* verbs_check: wall mode, checks that another tenant's QPs and rkeys are out of reach. */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Tenant walls: the foreign server belongs to another tenant. */
void run_wall(struct dev *d, const char *peer_host, const char *foreign_host, int port)
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
