/* verbs_control: argument dispatch (the modes are described in vc.h). */
#include "vc.h"
#include <stdio.h>
#include <string.h>

static int usage(void)
{
	fputs("usage: verbs_control session ITERS | qp COUNT | mr SIZE ITERS | tcpconnect ITERS\n"
	      "       verbs_control qpremote server PORT COUNT | qpremote client HOST PORT COUNT\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	long a, b;

	if (argc == 3 && !strcmp(argv[1], "session"))
		return (a = parse_count(argv[2], 1, 1000000, "ITERS")) < 0 ? 2 : cmd_session(a);
	if (argc == 3 && !strcmp(argv[1], "qp")) {
		a = parse_count(argv[2], 2, 1 << 20, "COUNT");
		if (a < 0 || a % 2) {
			fprintf(stderr, "verbs_control: COUNT must be even (QPs are connected in pairs)\n");
			return 2;
		}
		return cmd_qp(a);
	}
	if (argc == 5 && !strcmp(argv[1], "qpremote") && !strcmp(argv[2], "server")) {
		a = parse_count(argv[3], 1, 65535, "PORT");
		b = parse_count(argv[4], 1, 1 << 20, "COUNT");
		return a < 0 || b < 0 ? 2 : qpremote_server((int)a, b);
	}
	if (argc == 6 && !strcmp(argv[1], "qpremote") && !strcmp(argv[2], "client")) {
		b = parse_count(argv[5], 1, 1 << 20, "COUNT");
		return b < 0 ? 2 : qpremote_client(argv[3], argv[4], b);
	}
	if (argc == 4 && !strcmp(argv[1], "mr")) {
		a = parse_count(argv[2], 1, 1L << 40, "SIZE");
		b = parse_count(argv[3], 1, 1000000, "ITERS");
		return a < 0 || b < 0 ? 2 : cmd_mr((size_t)a, b);
	}
	if (argc == 3 && !strcmp(argv[1], "tcpconnect"))
		return (a = parse_count(argv[2], 1, 1000000, "ITERS")) < 0 ? 2 : cmd_tcpconnect(a);
	return usage();
}
