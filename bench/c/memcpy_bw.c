/* Baseline: single-thread memcpy bandwidth between two buffers of SIZE bytes,
 * the physical limit of a one-copy data plane. Prints one JSON object. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 1 << 20;
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	char *src, *dst;
	unsigned long iters = 0;
	double t0, t;

	if (size == 0 || secs <= 0) {
		fprintf(stderr, "usage: memcpy_bw SIZE SECONDS\n");
		return 2;
	}
	src = aligned_alloc(4096, (size + 4095) & ~4095UL);
	dst = aligned_alloc(4096, (size + 4095) & ~4095UL);
	if (!src || !dst)
		return 1;
	memset(src, 0xa5, size);
	memset(dst, 0, size);
	/* Warm-up: fault the pages in and settle the caches. */
	for (int i = 0; i < 16; i++)
		memcpy(dst, src, size);
	t0 = now_s();
	do {
		for (int i = 0; i < 64; i++)
			memcpy(dst, src, size);
		/* Keep the compiler from proving the copies dead. */
		__asm__ volatile("" : : "r"(dst) : "memory");
		iters += 64;
		t = now_s();
	} while (t - t0 < secs);
	printf("{\"size\":%zu,\"iters\":%lu,\"seconds\":%.6f,\"gbps\":%.3f}\n",
	       size, iters, t - t0, (double)size * iters * 8 / (t - t0) / 1e9);
	return 0;
}
