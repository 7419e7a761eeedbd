/* Helpers every mode shares: clock, error messages, JSON samples, argument
 * parsing, whole-buffer socket I/O, TCP listen/dial, and the device + PD. */
#include "vc.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* For calls that set errno. */
void fail(const char *call)
{
	fprintf(stderr, "verbs_control: %s failed: %s (errno %d)\n", call, strerror(errno), errno);
}

/* For verbs that return an errno value instead of setting errno. */
int fail_ret(const char *call, int ret)
{
	fprintf(stderr, "verbs_control: %s failed: %s (errno %d)\n", call, strerror(ret), ret);
	return ret;
}

void print_samples(const char *name, const double *v, size_t n, int last)
{
	printf("\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		printf("%s%.3f", i ? "," : "", v[i]);
	printf("]%s", last ? "" : ",");
}

long parse_count(const char *s, long min, long max, const char *what)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "verbs_control: %s must be %ld..%ld, not '%s'\n", what, min, max, s);
		return -1;
	}
	return v;
}

int full_io(int fd, void *buf, size_t n, int wr)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = wr ? write(fd, (char *)buf + done, n - done) : read(fd, (char *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			fail(wr ? "write (peer)" : "read (peer)");
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

int tcp_listen(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fail("socket");
		return -1;
	}
	if (host && inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "verbs_control: bad address %s\n", host);
		goto err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		fail("bind/listen");
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int tcp_dial(const char *host, const char *port)
{
	struct addrinfo *ai, hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	int fd, r = getaddrinfo(host, port, &hints, &ai);

	if (r) {
		fprintf(stderr, "verbs_control: getaddrinfo %s:%s: %s\n", host, port, gai_strerror(r));
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	else if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		fail("connect");
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}


/* Times of session set-up include these calls: keep them the verbs an
 * application makes, nothing more. */
int vc_dev_open(struct vc_dev *d)
{
	int n = 0;

	memset(d, 0, sizeof(*d));
	d->list = ibv_get_device_list(&n);
	if (!d->list) {
		fail("ibv_get_device_list");
		return -1;
	}
	if (n < 1) {
		fprintf(stderr, "verbs_control: ibv_get_device_list: no device (errno %d: %s)\n", errno, strerror(errno));
		goto err;
	}
	d->ctx = ibv_open_device(d->list[0]);
	if (!d->ctx) {
		fail("ibv_open_device");
		goto err;
	}
	d->pd = ibv_alloc_pd(d->ctx);
	if (!d->pd) {
		fail("ibv_alloc_pd");
		goto err;
	}
	return 0;
err:
	vc_dev_close(d);
	return -1;
}

int vc_dev_close(struct vc_dev *d)
{
	int ret = 0, r;

	if (d->pd && (r = ibv_dealloc_pd(d->pd))) {
		fail_ret("ibv_dealloc_pd", r);
		ret = -1;
	}
	if (d->ctx && (r = ibv_close_device(d->ctx))) {
		fail_ret("ibv_close_device", r);
		ret = -1;
	}
	if (d->list)
		ibv_free_device_list(d->list);
	memset(d, 0, sizeof(*d));
	return ret;
}
