/* `tcpconnect ITERS`: the baseline, TCP connect + accept over loopback. */
#include "vc.h"
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int cmd_tcpconnect(long iters)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	double *v = calloc((size_t)iters, sizeof(*v));
	int ls = -1, ret = 1;

	if (!v) {
		fail("calloc");
		return 1;
	}
	ls = tcp_listen("127.0.0.1", 0);
	if (ls < 0)
		goto out;
	if (getsockname(ls, (struct sockaddr *)&sa, &len)) {
		fail("getsockname");
		goto out;
	}
	for (long i = -1; i < iters; i++) {
		double t0 = now_us();
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;

		if (c < 0) {
			fail("socket");
			goto out;
		}
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa))) {
			fail("connect");
			close(c);
			goto out;
		}
		a = accept(ls, NULL, NULL);
		if (a < 0) {
			fail("accept");
			close(c);
			goto out;
		}
		if (i >= 0)
			v[i] = now_us() - t0;
		/* reset instead of TIME_WAIT: thousands of cycles must not exhaust ports */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		close(a);
	}
	printf("{\"mode\":\"tcpconnect\",\"iters\":%ld,", iters);
	print_samples("connect_us", v, iters, 1);
	printf("}\n");
	ret = 0;
out:
	if (ls >= 0)
		close(ls);
	free(v);
	return ret;
}
