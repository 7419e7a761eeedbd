/* Baseline: TCP ping-pong of SIZE bytes over loopback (or any address), the
 * path a container would otherwise use. Reports one-way latency (half the
 * round trip, as perftest's *_lat tools do) median and p99 in microseconds.
 *
 * Two receive modes, chosen by the client and sent to the server:
 *   block  read() sleeps until data arrives: what most TCP programs do. On a
 *          VM this pays for waking an idle vCPU, so it moves with the load.
 *   busy   recv(MSG_DONTWAIT) in a loop on both ends: the like-for-like
 *          baseline for perftest, whose *_lat tools busy-poll their CQ.
 * usage: tcp_pingpong server PORT | tcp_pingpong client HOST PORT ITERS SIZE [block|busy] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int busy_poll;

static int full(int fd, char *buf, size_t n, int wr)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = wr ? write(fd, buf + done, n - done)
			       : recv(fd, buf + done, n - done, busy_poll ? MSG_DONTWAIT : 0);
		if (r < 0 && !wr && busy_poll && (errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* What the client tells the server before the first round trip. */
struct hello {
	uint64_t size;
	uint32_t busy;
	uint32_t pad;
};

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int one = 1;
	char buf[65536];

	if (argc >= 3 && !strcmp(argv[1], "server")) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
		int ls = socket(AF_INET, SOCK_STREAM, 0), fd;
		struct hello h;

		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1)) {
			perror("bind/listen");
			return 1;
		}
		fd = accept(ls, NULL, NULL);
		if (fd < 0)
			return 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (full(fd, (char *)&h, sizeof(h), 0) || h.size == 0 || h.size > sizeof(buf))
			return 1;
		busy_poll = h.busy != 0;
		while (!full(fd, buf, h.size, 0))
			if (full(fd, buf, h.size, 1))
				break;
		return 0;
	}
	if (argc >= 6 && !strcmp(argv[1], "client")) {
		struct addrinfo *ai, hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
		long iters = atol(argv[4]);
		size_t size = strtoull(argv[5], NULL, 0);
		const char *mode = argc >= 7 ? argv[6] : "block";
		struct hello h = { .size = size, .busy = !strcmp(mode, "busy") };
		double *lat;
		int fd;

		if (strcmp(mode, "block") && strcmp(mode, "busy")) {
			fprintf(stderr, "tcp_pingpong: mode must be block or busy, not %s\n", mode);
			return 2;
		}
		if (iters < 10 || size == 0 || size > sizeof(buf) || getaddrinfo(argv[2], argv[3], &hints, &ai))
			return 2;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		for (int tries = 0; connect(fd, ai->ai_addr, ai->ai_addrlen); tries++) {
			if (tries > 200) {
				perror("connect");
				return 1;
			}
			usleep(10000);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		lat = calloc(iters, sizeof(*lat));
		memset(buf, 0x5a, size);
		if (!lat || full(fd, (char *)&h, sizeof(h), 1))
			return 1;
		busy_poll = h.busy;
		for (long i = 0; i < iters / 10; i++) /* warm-up */
			if (full(fd, buf, size, 1) || full(fd, buf, size, 0))
				return 1;
		for (long i = 0; i < iters; i++) {
			double t0 = now_us();
			if (full(fd, buf, size, 1) || full(fd, buf, size, 0))
				return 1;
			lat[i] = (now_us() - t0) / 2;
		}
		qsort(lat, iters, sizeof(*lat), cmp);
		printf("{\"size\":%zu,\"iters\":%ld,\"mode\":\"%s\",\"median_us\":%.3f,\"p99_us\":%.3f,\"min_us\":%.3f}\n",
		       size, iters, mode, lat[iters / 2], lat[(long)(iters * 0.99)], lat[0]);
		return 0;
	}
	fprintf(stderr, "usage: tcp_pingpong server PORT | client HOST PORT ITERS SIZE [block|busy]\n");
	return 2;
}
