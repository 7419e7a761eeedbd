/* verbs_check: an ordinary libibverbs program (it would pass on real RDMA
 * hardware) that checks data and error semantics of a verbs provider.
 *
 * Two processes, a server and a client, exchange their QP numbers, LIDs,
 * PSNs, GIDs, buffer addresses and rkeys over their own TCP connection, as
 * perftest does. The server is passive: it owns a target buffer and answers
 * the client's commands over TCP (create and connect a fresh QP, post a
 * receive, fill or checksum part of its buffer, poll its CQ). The client
 * drives every check and prints `ok NAME` or `not ok NAME: detail`; its exit
 * status is non-zero if any check failed.
 *
 *   verbs_check --server [--port P] [-d DEV] [-i PORT] [-g GIDX]
 *   verbs_check --client HOST [--port P] [-d DEV] [-i PORT] [-g GIDX]
 *   verbs_check --wall --peer HOST --foreign HOST [--port P] [-d DEV]
 *       wall mode: HOST peer is a server of the client's own tenant, the
 *       foreign one a server of another tenant; checks that the foreign QP
 *       cannot be reached and the foreign rkey cannot be used.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: verbs_check --server [--port P] [-d DEV] [-i PORT] [-g GIDX]\n"
		"       verbs_check --client HOST [--port P] [-d DEV] [-i PORT] [-g GIDX]\n"
		"       verbs_check --wall --peer HOST --foreign HOST [--port P] [-d DEV]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", no_argument, NULL, 's' },
		{ "client", required_argument, NULL, 'c' },
		{ "wall", no_argument, NULL, 'w' },
		{ "peer", required_argument, NULL, 'P' },
		{ "foreign", required_argument, NULL, 'F' },
		{ "port", required_argument, NULL, 'p' },
		{ "ib-dev", required_argument, NULL, 'd' },
		{ "ib-port", required_argument, NULL, 'i' },
		{ "gid-idx", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *client = NULL, *peer = NULL, *foreign = NULL;
	int server = 0, wall = 0, port = 18515, o;
	struct dev d;

	while ((o = getopt_long(argc, argv, "sc:wP:F:p:d:i:g:v", opts, NULL)) != -1) {
		switch (o) {
		case 's': server = 1; break;
		case 'c': client = optarg; break;
		case 'w': wall = 1; break;
		case 'P': peer = optarg; break;
		case 'F': foreign = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'd': dev_name = optarg; break;
		case 'i': ib_port = atoi(optarg); break;
		case 'g': gid_idx = atoi(optarg); break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (server + !!client + wall != 1 || (wall && (!peer || !foreign)))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand48((long)getpid() ^ (long)now_ms());

	if (server) {
		/* listen before touching the device, so a client never races the setup */
		int lfd = tcp_listen(port);
		struct chan ch = { 0 };

		dev_open(&d);
		ch.fd = accept(lfd, NULL, NULL);
		if (ch.fd < 0)
			die("accept: %s", strerror(errno));
		set_timeouts(ch.fd);
		close(lfd);
		serve(&d, &ch);
		close(ch.fd);
		printf("# server done\n");
	} else {
		dev_open(&d);
		if (client)
			run_client(&d, client, port);
		else
			run_wall(&d, peer, foreign, port);
		printf("# %d failure(s)\n", failures);
	}
	ibv_dereg_mr(d.mr);
	ibv_dereg_mr(d.noacc);
	ibv_dealloc_pd(d.pd);
	ibv_close_device(d.ctx);
	free(d.buf);
	return failures ? 1 : 0;
}
