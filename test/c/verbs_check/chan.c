/* verbs_check: the line-based TCP channel between client and server. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void chan_send(struct chan *c, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		die("line too long");
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = send(c->fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("send: %s", strerror(errno));
		}
		off += (int)w;
	}
	if (verbose)
		fprintf(stderr, "> %.*s", n, line);
}

/* Reads one line (without '\n') into out; returns 0, or -1 on EOF. */
int chan_recv(struct chan *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			if (n >= cap)
				die("line too long");
			memcpy(out, c->buf, n);
			out[n] = 0;
			c->len -= n + 1;
			memmove(c->buf, nl + 1, c->len);
			if (verbose)
				fprintf(stderr, "< %s\n", out);
			return 0;
		}
		if (c->len == sizeof(c->buf))
			die("line too long");
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv: %s", strerror(errno));
		if (r == 0)
			return -1;
		c->len += (size_t)r;
	}
}

void chan_expect(struct chan *c, char *out, size_t cap)
{
	if (chan_recv(c, out, cap))
		die("peer closed the TCP channel");
	if (!strncmp(out, "ERR", 3))
		die("peer reported: %s", out);
}

void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 60 };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int tcp_connect(const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	char service[16];
	uint64_t deadline = now_ms() + 15000;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res))
		die("cannot resolve %s", host);
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			die("socket: %s", strerror(errno));
		if (!connect(fd, res->ai_addr, res->ai_addrlen)) {
			freeaddrinfo(res);
			set_timeouts(fd);
			return fd;
		}
		close(fd);
		if (now_ms() > deadline)
			die("connect %s:%d: %s", host, port, strerror(errno));
		usleep(100000);
	}
}

int tcp_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))
		die("listen on %d: %s", port, strerror(errno));
	return fd;
}
