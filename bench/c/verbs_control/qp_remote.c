/* `qpremote server|client`: the same QPs with each partner in another
 * process (another host), QP numbers exchanged over TCP. */
#include "vc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sends our LID and QP numbers, receives the peer's (same count). */
static int exchange_qpns(int fd, struct qpset *s, uint32_t *peer, uint16_t *peer_lid)
{
	uint32_t *mine = calloc((size_t)s->count + 1, sizeof(*mine));
	int ret = -1;

	if (!mine) {
		fail("calloc");
		return -1;
	}
	mine[0] = s->lid;
	for (long i = 0; i < s->count; i++)
		mine[i + 1] = s->qp[i]->qp_num;
	if (full_io(fd, mine, ((size_t)s->count + 1) * sizeof(*mine), 1) ||
	    full_io(fd, peer, ((size_t)s->count + 1) * sizeof(*peer), 0))
		goto out;
	*peer_lid = (uint16_t)peer[0];
	ret = 0;
out:
	free(mine);
	return ret;
}

/* INIT, RTR and RTS of every QP against its peer, timed per QP. */
static int connect_all(struct qpset *s, const uint32_t *peer, uint16_t peer_lid)
{
	for (long i = 0; i < s->count; i++) {
		double t0 = now_us();

		if (qp_init(s->qp[i]) || qp_rtr_rts(s->qp[i], s->mtu, peer_lid, peer[i + 1]))
			return -1;
		s->connect_us[i] = now_us() - t0;
	}
	return 0;
}

/* The server side: create, connect, receive the check message on QP 0,
 * confirm it, destroy. Prints nothing on success. */
int qpremote_server(int port, long count)
{
	uint32_t *peer = calloc((size_t)count + 1, sizeof(*peer));
	struct qpset s = { 0 };
	uint16_t peer_lid;
	int ls = -1, fd = -1, ret = 1;
	char ok = 'k';

	if (!peer) {
		fail("calloc");
		return 1;
	}
	if (qp_warm_up() || qpset_open(&s, count))
		goto out;
	ls = tcp_listen(NULL, port);
	if (ls < 0)
		goto out;
	fd = accept(ls, NULL, NULL);
	if (fd < 0) {
		fail("accept");
		goto out;
	}
	/* a receive may be posted from INIT on; the client sends once told */
	if (qpset_create(&s) || exchange_qpns(fd, &s, peer, &peer_lid) || connect_all(&s, peer, peer_lid) ||
	    post_recv(&s, s.qp[0], s.buf + 2048) || full_io(fd, &ok, 1, 1) || wait_completions(&s, 1))
		goto out;
	if (strncmp(s.buf + 2048, "verbs_control qpn ", 18)) {
		fprintf(stderr, "verbs_control: check message arrived corrupted\n");
		goto out;
	}
	if (full_io(fd, &ok, 1, 1) || qpset_destroy(&s))
		goto out;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ls >= 0)
		close(ls);
	if (qpset_close(&s))
		ret = 1;
	free(peer);
	return ret;
}

/* The client side: the timed one. Its connect_us includes what RTR to a QP
 * on another host costs (the peer's address lookup), not the TCP exchange. */
int qpremote_client(const char *host, const char *port, long count)
{
	uint32_t *peer = calloc((size_t)count + 1, sizeof(*peer));
	struct qpset s = { 0 };
	uint16_t peer_lid;
	double t0, wall;
	int fd = -1, ret = 1;
	char ok;

	if (!peer) {
		fail("calloc");
		return 1;
	}
	if (qp_warm_up() || qpset_open(&s, count))
		goto out;
	fd = tcp_dial(host, port);
	if (fd < 0)
		goto out;
	t0 = now_us();
	if (qpset_create(&s))
		goto out;
	wall = now_us() - t0;
	if (exchange_qpns(fd, &s, peer, &peer_lid))
		goto out;
	t0 = now_us();
	if (connect_all(&s, peer, peer_lid))
		goto out;
	wall += now_us() - t0;
	/* the server is in RTS (and its receive posted) once it says so */
	if (full_io(fd, &ok, 1, 0) || post_send(&s, s.qp[0], s.buf) || wait_completions(&s, 1) ||
	    full_io(fd, &ok, 1, 0) || qpset_destroy(&s))
		goto out;
	print_qp_result("qpremote", &s, wall);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (qpset_close(&s))
		ret = 1;
	free(peer);
	return ret;
}
