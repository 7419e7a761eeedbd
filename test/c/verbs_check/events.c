/* verbs_check: a completion channel whose app lets events pile up unread.
 * Every armed completion still counts as exactly one event, delivered later
 * in order, and the provider must not stall on the channel's file
 * descriptor meanwhile (a provider that writes one wake-up per event into
 * a blocking fd nobody reads would hang here, and with it every other
 * user of the same data plane). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#define EVENTS_UNREAD 2000 /* far more one-byte wake-ups than a socket buffer holds */
#define EV_SRC_OFF 0x80000u
#define EV_DST_OFF 0x81000u

static int ev_tag; /* the send CQ's context */

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* One SEND to ourselves, signalled, with the send CQ armed first. */
static int ping_self(struct dev *d, struct ibv_qp *qp, struct ibv_cq *scq, struct ibv_cq *rcq, char *why,
		     size_t whylen)
{
	struct ibv_sge rs = lsge(d, EV_DST_OFF, 8), ss = lsge(d, EV_SRC_OFF, 8);
	struct ibv_recv_wr rwr = { .wr_id = 2, .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_wc wc;

	if (ibv_post_recv(qp, &rwr, &rbad) || ibv_req_notify_cq(scq, 0)) {
		snprintf(why, whylen, "post_recv or req_notify_cq failed");
		return -1;
	}
	if (post_one(&(struct conn){ .qp = qp }, IBV_WR_SEND, 1, &ss, 1, 0, 0, IBV_SEND_SIGNALED)) {
		snprintf(why, whylen, "post_send failed");
		return -1;
	}
	if (poll_n(scq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS ||
	    poll_n(rcq, &wc, 1, POLL_TIMEOUT_MS) != 1 || wc.status != IBV_WC_SUCCESS) {
		snprintf(why, whylen, "no successful completion (status %s)", ibv_wc_status_str(wc.status));
		return -1;
	}
	return 0;
}

static int run_events(struct dev *d, struct ibv_comp_channel *ch, struct ibv_cq *scq, struct ibv_cq *rcq,
		      struct ibv_qp *qp, char *why, size_t whylen)
{
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	int flags, got = 0;

	for (int i = 0; i < EVENTS_UNREAD; i++)
		if (ping_self(d, qp, scq, rcq, why, whylen))
			return -1;
	if (!readable(ch->fd)) {
		snprintf(why, whylen, "channel fd not readable with %d events pending", EVENTS_UNREAD);
		return -1;
	}
	flags = fcntl(ch->fd, F_GETFL);
	if (flags < 0 || fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK)) {
		snprintf(why, whylen, "fcntl: %s", strerror(errno));
		return -1;
	}
	while (ibv_get_cq_event(ch, &ev_cq, &ev_ctx) == 0) {
		if (ev_cq != scq || ev_ctx != &ev_tag) {
			snprintf(why, whylen, "event %d names another CQ or context", got);
			return -1;
		}
		got++;
	}
	if (errno != EAGAIN) {
		snprintf(why, whylen, "non-blocking get_cq_event ended with %s, not EAGAIN", strerror(errno));
		return -1;
	}
	ibv_ack_cq_events(scq, (unsigned)got);
	if (got != EVENTS_UNREAD) {
		snprintf(why, whylen, "%d events for %d armed completions", got, EVENTS_UNREAD);
		return -1;
	}
	if (readable(ch->fd)) {
		snprintf(why, whylen, "channel fd still readable with no event pending");
		return -1;
	}
	/* Blocking again: the next event wakes a waiter. */
	if (fcntl(ch->fd, F_SETFL, flags & ~O_NONBLOCK) || ping_self(d, qp, scq, rcq, why, whylen))
		return -1;
	if (ibv_get_cq_event(ch, &ev_cq, &ev_ctx) || ev_cq != scq) {
		snprintf(why, whylen, "blocking get_cq_event after draining: %s", strerror(errno));
		return -1;
	}
	ibv_ack_cq_events(scq, 1);
	return 0;
}

void check_events(struct client *cl)
{
	static const char name[] = "channel_events_unread";
	struct dev *d = cl->d;
	struct ibv_comp_channel *ch;
	struct ibv_cq *scq = NULL, *rcq = NULL;
	struct conn c = { 0 };
	char why[256] = "";
	int ret = -1;

	ch = ibv_create_comp_channel(d->ctx);
	if (!ch) {
		not_ok(name, "ibv_create_comp_channel: %s", strerror(errno));
		return;
	}
	scq = ibv_create_cq(d->ctx, 16, &ev_tag, ch, 0);
	rcq = ibv_create_cq(d->ctx, 16, NULL, NULL, 0);
	if (!scq || !rcq) {
		snprintf(why, sizeof(why), "ibv_create_cq: %s", strerror(errno));
		goto out;
	}
	{
		struct ibv_qp_init_attr ia = {
			.send_cq = scq, .recv_cq = rcq, .qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = 4, .max_recv_wr = 4, .max_send_sge = 1, .max_recv_sge = 1 },
		};
		struct remote_qp self;

		c.qp = ibv_create_qp(d->pd, &ia);
		if (!c.qp) {
			snprintf(why, sizeof(why), "ibv_create_qp: %s", strerror(errno));
			goto out;
		}
		c.psn = 0x1234;
		self = (struct remote_qp){ .lid = d->port.lid, .qpn = c.qp->qp_num, .psn = c.psn, .gid = d->gid };
		if (conn_init(&c, ALL_ACCESS) || conn_connect(d, &c, &self, &default_path)) {
			snprintf(why, sizeof(why), "connecting the QP to itself failed");
			goto out;
		}
	}
	ret = run_events(d, ch, scq, rcq, c.qp, why, sizeof(why));
out:
	if (c.qp)
		ibv_destroy_qp(c.qp);
	if (rcq)
		ibv_destroy_cq(rcq);
	if (scq)
		ibv_destroy_cq(scq);
	ibv_destroy_comp_channel(ch);
	if (ret)
		not_ok(name, "%s", why);
	else
		ok(name);
}
