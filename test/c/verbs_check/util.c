/* verbs_check: options, reporting (ok / not ok / die), time, and the
 * deterministic byte patterns both sides use to check memory. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

const char *dev_name = "ffr0";
int ib_port = 1;
int gid_idx = -1;
int failures;
int verbose;

/* ------------------------------------------------------------ reporting */

void ok(const char *name)
{
	printf("ok %s\n", name);
	fflush(stdout);
}

void not_ok(const char *name, const char *fmt, ...)
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

void die(const char *fmt, ...)
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

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ patterns */

/* Deterministic bytes from a seed (xorshift64*), so each side can compute
 * what the other's memory must hold without sending it. */
void fill_pattern(uint8_t *p, size_t len, uint64_t seed)
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

uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t pattern_hash(size_t len, uint64_t seed)
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
