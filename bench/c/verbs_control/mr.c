/* `mr SIZE ITERS`: ibv_reg_mr/ibv_dereg_mr of one buffer, against mapping
 * and touching a fresh region of the same size. */
#include "vc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int cmd_mr(size_t size, long iters)
{
	double *v = calloc(3 * (size_t)iters, sizeof(*v));
	double *reg = v, *dereg = v + iters, *touch = v + 2 * iters;
	struct vc_dev d = { 0 };
	char *buf = NULL;
	int ret = 1, r;

	if (!v) {
		fail("calloc");
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, size)) {
		fail("posix_memalign");
		goto out;
	}
	memset(buf, 0xa5, size);
	if (vc_dev_open(&d))
		goto out;
	/* iteration -1 is a warm-up, not recorded */
	for (long i = -1; i < iters; i++) {
		double t0 = now_us(), t1;
		struct ibv_mr *mr = ibv_reg_mr(d.pd, buf, size, ACCESS);
		char *p;

		t1 = now_us();
		if (!mr) {
			fail("ibv_reg_mr");
			goto out;
		}
		r = ibv_dereg_mr(mr);
		if (r) {
			fail_ret("ibv_dereg_mr", r);
			goto out;
		}
		if (i >= 0) {
			reg[i] = t1 - t0;
			dereg[i] = now_us() - t1;
		}
		t0 = now_us();
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fail("mmap");
			goto out;
		}
		memset(p, 0xa5, size);
		if (i >= 0)
			touch[i] = now_us() - t0;
		munmap(p, size);
	}
	printf("{\"mode\":\"mr\",\"size\":%zu,\"iters\":%ld,", size, iters);
	print_samples("reg_us", reg, iters, 0);
	print_samples("dereg_us", dereg, iters, 0);
	print_samples("touch_us", touch, iters, 1);
	printf("}\n");
	ret = 0;
out:
	if (vc_dev_close(&d))
		ret = 1;
	free(buf);
	free(v);
	return ret;
}
