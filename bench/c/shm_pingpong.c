/* Baseline: shared-memory ping-pong of SIZE bytes between two processes, the
 * physical limit of a one-copy design (what the router's shared-memory data
 * plane can at best approach). Each round the pinger copies the message into
 * a MAP_SHARED buffer and publishes a sequence number; the ponger spins until
 * it sees it, copies the message out, and answers the same way through a
 * second buffer. Both sides busy-poll, as perftest's *_lat tools do: on a
 * 2-core machine they take both cores, which is the point.
 * Reports one-way latency (half the round trip, as perftest) after ITERS/10
 * warm-up rounds: median, p99, p99.9 and min in microseconds, one JSON object.
 * usage: shm_pingpong ITERS SIZE */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CACHE_LINE 64
/* spins between liveness checks of the other side: rare enough not to show
 * in a round trip, often enough that a dead peer ends the run within ~0.1 s
 * (a spin with pause can take ~1 µs in a VM that traps pause loops) */
#define SPINS_PER_CHECK (1u << 14)

/* One direction of the exchange. The sequence number has a cache line to
 * itself so that polling it does not contend with the payload's lines. */
struct lane {
	_Alignas(CACHE_LINE) uint64_t seq;
	_Alignas(CACHE_LINE) char pad;
};

struct shared {
	struct lane ping; /* pinger -> ponger */
	struct lane pong; /* ponger -> pinger */
	/* then two SIZE-byte buffers, ping's and pong's, each cache-line aligned */
};

/* The release store makes the payload copied into the buffer before it
 * visible to the other process no later than the sequence number itself;
 * the acquire load keeps the reader's copy-out from being hoisted above the
 * load that saw the number. Without the pair a compiler (or a weakly ordered
 * CPU) could let the reader copy a stale or half-written message. */
static inline void publish(uint64_t *seq, uint64_t v)
{
	__atomic_store_n(seq, v, __ATOMIC_RELEASE);
}

static inline uint64_t observe(const uint64_t *seq)
{
	return __atomic_load_n(seq, __ATOMIC_ACQUIRE);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Spins until *seq == want; returns -1 if peer_gone() says the other side died. */
static int wait_for(const uint64_t *seq, uint64_t want, int (*peer_gone)(void))
{
	unsigned spins = 0;

	while (observe(seq) != want) {
		cpu_relax();
		if (++spins == SPINS_PER_CHECK) {
			spins = 0;
			if (peer_gone())
				return -1;
		}
	}
	return 0;
}

static pid_t child, parent;

static int child_gone(void)
{
	return waitpid(child, NULL, WNOHANG) != 0;
}

static int parent_gone(void)
{
	return getppid() != parent;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The ponger: answers `rounds` messages, then exits. */
static int pong(struct shared *sh, char *ping_buf, char *pong_buf, char *local, size_t size, uint64_t rounds)
{
	for (uint64_t i = 1; i <= rounds; i++) {
		if (wait_for(&sh->ping.seq, i, parent_gone)) {
			fputs("shm_pingpong: pinger exited mid-run\n", stderr);
			return 1;
		}
		memcpy(local, ping_buf, size);
		memcpy(pong_buf, local, size);
		publish(&sh->pong.seq, i);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long iters = argc == 3 ? atol(argv[1]) : 0;
	size_t size = argc == 3 ? strtoull(argv[2], NULL, 0) : 0;
	size_t buf_off = (sizeof(struct shared) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
	size_t stride = (size + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
	size_t map_len = buf_off + 2 * stride;
	long warm = iters / 10;
	struct shared *sh;
	char *ping_buf, *pong_buf, *local;
	double *lat;
	int status, ret = 1;

	if (iters < 10 || size == 0 || size > (1u << 30)) {
		fprintf(stderr, "usage: shm_pingpong ITERS SIZE (ITERS >= 10, 0 < SIZE <= 1 GiB)\n");
		return 2;
	}
	lat = calloc(iters, sizeof(*lat));
	if (!lat) {
		perror("shm_pingpong: calloc");
		goto out;
	}
	local = malloc(size);
	if (!local) {
		perror("shm_pingpong: malloc");
		goto free_lat;
	}
	memset(local, 0x5a, size);
	sh = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("shm_pingpong: mmap");
		goto free_local;
	}
	ping_buf = (char *)sh + buf_off;
	pong_buf = ping_buf + stride;
	parent = getpid();
	child = fork();
	if (child < 0) {
		perror("shm_pingpong: fork");
		goto unmap;
	}
	if (child == 0)
		_exit(pong(sh, ping_buf, pong_buf, local, size, (uint64_t)(warm + iters)));

	for (long i = 1; i <= warm + iters; i++) {
		double t0 = now_us();

		memcpy(ping_buf, local, size);
		publish(&sh->ping.seq, (uint64_t)i);
		if (wait_for(&sh->pong.seq, (uint64_t)i, child_gone)) {
			fputs("shm_pingpong: ponger exited mid-run\n", stderr);
			goto unmap; /* reaped by child_gone */
		}
		memcpy(local, pong_buf, size);
		if (i > warm)
			lat[i - warm - 1] = (now_us() - t0) / 2;
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fputs("shm_pingpong: ponger failed\n", stderr);
		goto unmap;
	}
	qsort(lat, iters, sizeof(*lat), cmp);
	printf("{\"size\":%zu,\"iters\":%ld,\"median_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"min_us\":%.3f}\n",
	       size, iters, lat[iters / 2], lat[(long)(iters * 0.99)], lat[(long)(iters * 0.999)], lat[0]);
	ret = 0;
unmap:
	munmap(sh, map_len);
free_local:
	free(local);
free_lat:
	free(lat);
out:
	return ret;
}
