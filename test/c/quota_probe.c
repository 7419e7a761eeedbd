/*
 * quota_probe: creates verbs objects until a count is reached or a create
 * fails, and says which errno the failure had; then holds them until it is
 * killed (at most 120 s: SIGALRM ends it), so a test can look at the
 * router's accounting and kill the process to see its quota come back.
 *
 *   quota_probe KIND COUNT [SIZE]
 *     qp N     N RC QPs (one CQ, one PD)
 *     cq N E   N CQs of E entries
 *     mr N B   N MRs of B bytes each
 *     pd N     N PDs
 *   output: "created K of N", then "refused errno=NAME" if a create failed,
 *   then "holding" until killed; exit status 1 if the setup (device, PD, CQ)
 *   fails, 2 for bad usage.
 */
#include <errno.h>
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *errno_name(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	case EDQUOT: return "EDQUOT";
	case EPERM: return "EPERM";
	default: return strerror(e);
	}
}

static int create_one(const char *kind, struct ibv_context *ctx, struct ibv_pd *pd, struct ibv_cq *cq, size_t size)
{
	if (!strcmp(kind, "qp")) {
		struct ibv_qp_init_attr a = {
			.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = 16, .max_recv_wr = 16, .max_send_sge = 1, .max_recv_sge = 1 },
		};
		return ibv_create_qp(pd, &a) ? 0 : -1;
	}
	if (!strcmp(kind, "cq"))
		return ibv_create_cq(ctx, (int)size, NULL, NULL, 0) ? 0 : -1;
	if (!strcmp(kind, "pd"))
		return ibv_alloc_pd(ctx) ? 0 : -1;
	if (!strcmp(kind, "mr")) {
		/* Page-aligned and page-sized, so no two registrations share a page
		 * (the shim moves registered pages onto shared memory). */
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		void *buf = aligned_alloc(page, (size + page - 1) / page * page);
		if (!buf)
			return -1;
		return ibv_reg_mr(pd, buf, size, IBV_ACCESS_LOCAL_WRITE) ? 0 : -1;
	}
	errno = EINVAL;
	return -1;
}

int main(int argc, char **argv)
{
	struct ibv_device **list = NULL;
	struct ibv_context *ctx = NULL;
	struct ibv_pd *pd = NULL;
	struct ibv_cq *cq = NULL;
	int n, count, created = 0, err = 0;
	size_t size;

	if (argc < 3) {
		fprintf(stderr, "usage: quota_probe qp|cq|mr|pd COUNT [SIZE]\n");
		return 2;
	}
	count = atoi(argv[2]);
	size = argc > 3 ? strtoull(argv[3], NULL, 0) : 4096;
	list = ibv_get_device_list(&n);
	if (!list || n < 1) {
		fprintf(stderr, "quota_probe: no device (errno %s)\n", errno_name(errno));
		goto out;
	}
	ctx = ibv_open_device(list[0]);
	if (!ctx) {
		fprintf(stderr, "quota_probe: ibv_open_device: %s\n", errno_name(errno));
		goto out;
	}
	pd = ibv_alloc_pd(ctx);
	cq = pd ? ibv_create_cq(ctx, 16, NULL, NULL, 0) : NULL;
	if (!cq) {
		fprintf(stderr, "quota_probe: setup (pd, cq): %s\n", errno_name(errno));
		goto out;
	}
	for (created = 0; created < count; created++) {
		errno = 0;
		if (create_one(argv[1], ctx, pd, cq, size)) {
			err = errno;
			break;
		}
	}
	printf("created %d of %d\n", created, count);
	if (created < count)
		printf("refused errno=%s\n", errno_name(err));
	printf("holding\n");
	fflush(stdout);
	/* Hold the objects until killed; the alarm bounds the hold. */
	alarm(120);
	for (;;)
		pause();
out:
	/* Objects go with the process: the router reclaims them at session end. */
	if (list)
		ibv_free_device_list(list);
	return 1;
}
