/* verbs_check: completion order across a ping-pong. A requester's SEND
 * completes when the responder acknowledges it, and the responder can only
 * answer after it received the message: on any HCA the SEND's completion is
 * written before the completion of the answer's receive. Apps count on it
 * (perftest's event-driven latency tests wait once on a channel shared by
 * both CQs, then expect the send CQ to hold the completion); with one CQ for
 * both queues, as here, the order is visible directly. */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ECHO_OFF 0x70000u /* server's receive area; the client sends from 0 and receives at ECHO_OFF */

enum { WR_SEND = 1, WR_RECV = 2 };

static int post_recv_at(struct dev *d, struct conn *c, uint32_t len)
{
	struct ibv_sge sge = lsge(d, ECHO_OFF, len);
	struct ibv_recv_wr wr = { .wr_id = WR_RECV, .sg_list = &sge, .num_sge = 1 }, *bad;

	return ibv_post_recv(c->qp, &wr, &bad);
}

/* Server: answer each of n messages with one of len bytes, as soon as it is
 * in. Reports READY once the first receive is posted, then OK or ERR. */
void serve_echo(struct dev *d, struct conn *c, struct chan *ch, unsigned n, unsigned len)
{
	struct ibv_sge sge = lsge(d, 0, len);
	unsigned pending_sends = 0;

	if (!c->qp || len > 4096 || post_recv_at(d, c, len)) {
		chan_send(ch, "ERR bad ECHO");
		return;
	}
	chan_send(ch, "READY");
	for (unsigned i = 0; i < n;) {
		struct ibv_wc wc;

		if (poll_n(c->cq, &wc, 1, POLL_TIMEOUT_MS) != 1) {
			chan_send(ch, "ERR no completion after %u of %u messages", i, n);
			return;
		}
		if (wc.status != IBV_WC_SUCCESS) {
			chan_send(ch, "ERR completion %s", ibv_wc_status_str(wc.status));
			return;
		}
		if (wc.wr_id == WR_SEND) {
			pending_sends--;
			continue;
		}
		i++;
		if (i < n && post_recv_at(d, c, len)) {
			chan_send(ch, "ERR post_recv failed");
			return;
		}
		if (post_one(c, IBV_WR_SEND, WR_SEND, &sge, 1, 0, 0, IBV_SEND_SIGNALED)) {
			chan_send(ch, "ERR post_send failed");
			return;
		}
		pending_sends++;
	}
	while (pending_sends) {
		struct ibv_wc wc;

		if (poll_n(c->cq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS) {
			chan_send(ch, "ERR last send did not complete");
			return;
		}
		pending_sends--;
	}
	chan_send(ch, "OK");
}

/* Client: n ping-pongs, each checking that the SEND's completion comes
 * before the answer's. */
void check_order(struct client *cl, unsigned n, unsigned len)
{
	static const char name[] = "send_cqe_before_reply";
	struct dev *d = cl->d;
	struct peer *p = cl->p;
	struct ibv_sge sge = lsge(d, 0, len);
	char line[LINE_MAX_LEN];
	unsigned misordered = 0, first_bad = 0;

	ensure_good(cl);
	chan_send(&p->ch, "ECHO %u %u", n, len);
	chan_expect(&p->ch, line, sizeof(line));
	if (strcmp(line, "READY")) {
		not_ok(name, "peer: %s", line);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct ibv_wc wc[2];

		if (post_recv_at(d, &cl->c, len) ||
		    post_one(&cl->c, IBV_WR_SEND, WR_SEND, &sge, 1, 0, 0, IBV_SEND_SIGNALED)) {
			not_ok(name, "post failed at message %u", i);
			return;
		}
		if (poll_n(cl->c.cq, wc, 2, POLL_TIMEOUT_MS) != 2) {
			not_ok(name, "no completions for message %u", i);
			return;
		}
		if (wc[0].status != IBV_WC_SUCCESS || wc[1].status != IBV_WC_SUCCESS) {
			not_ok(name, "message %u: completions %s, %s", i, ibv_wc_status_str(wc[0].status),
			       ibv_wc_status_str(wc[1].status));
			return;
		}
		if (wc[0].wr_id != WR_SEND || wc[0].opcode != IBV_WC_SEND) {
			if (!misordered++)
				first_bad = i;
		}
	}
	chan_expect(&p->ch, line, sizeof(line));
	if (strcmp(line, "OK")) {
		not_ok(name, "peer: %s", line);
		return;
	}
	if (misordered) {
		not_ok(name, "%u of %u answers completed before the SEND they answer (first at message %u)",
		       misordered, n, first_bad);
		return;
	}
	ok(name);
}
