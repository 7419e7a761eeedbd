/* verbs_check: client mode, the sequence of checks against one server. */
#include "common.h"

#include <stdio.h>
#include <unistd.h>

void run_client(struct dev *d, const char *host, int port)
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
	/* The router copies large WRITEs and READs in chunks: an odd length
	 * ends in a short one, and the immediate comes with the last. */
	check_write(&cl, (1u << 20) + 13, 0);
	check_write(&cl, (1u << 20) + 13, 1);
	for (unsigned i = 0; i < 3; i++)
		check_read(&cl, sizes[i]);
	check_read(&cl, (1u << 20) + 13);
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
	check_order(&cl, 1000, 64);
	check_events(&cl);

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
