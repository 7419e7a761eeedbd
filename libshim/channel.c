/* Completion channels (docs/design.md "CQ notification"). Each CQ's ring
 * header counts the events fired for it: those counters are the truth, and
 * an event is a CQ whose counter runs ahead of what the shim handed out.
 * The channel fd only wakes waiters: it is one end of a socketpair, and
 * whoever fires (the data plane, or the shim itself) sends one byte into the
 * other end without ever blocking. A byte may be dropped when the app lets
 * them pile up; the shim keeps the fd readable while any event is pending,
 * so nothing is lost but the byte. A socket rather than an eventfd because
 * only a socket has a per-call MSG_DONTWAIT: the app owns the fd's flags,
 * and an eventfd it filled up would block the router's write. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include "ffshim.h"
#include "sys.h"

FFS_EXPORT struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *context)
{
	struct ffs_context *ctx = to_fctx(context);
	struct ffr_create_channel_req req = { 0 };
	struct ffr_create_channel_rep rep;
	struct ffs_channel *ch;
	int ret, sv[2];

	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	if (ffs_sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		goto err_free;
	}
	/* Nothing ever flows from the app's end to the router's. */
	(void)syscall(SYS_shutdown, sv[0], SHUT_WR);
	ret = ffs_call(FFR_MSG_CREATE_CHANNEL, &req, &sv[1], 1, &rep, NULL, 0);
	if (ret)
		goto err_close;
	ch->ibch.context = context;
	ch->ibch.fd = sv[0];
	ch->wake = sv[1];
	ch->ibch.refcnt = 0;
	ch->handle = rep.channel;
	pthread_mutex_init(&ch->lock, NULL);
	ffs_list_init(&ch->cqs);
	pthread_mutex_lock(&ctx->lock);
	ffs_list_add(&ctx->channels, &ch->link);
	pthread_mutex_unlock(&ctx->lock);
	return &ch->ibch;

err_close:
	ffs_sys_close(sv[0]);
	ffs_sys_close(sv[1]);
err_free:
	free(ch);
	errno = -ret;
	return NULL;
}

FFS_EXPORT int ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	struct ffs_channel *ch = to_fch(channel);
	struct ffs_context *ctx = to_fctx(channel->context);
	struct ffr_destroy_channel_req req = { .channel = ch->handle };
	struct ffr_destroy_channel_rep rep;
	int ret;

	pthread_mutex_lock(&ch->lock);
	ret = channel->refcnt ? EBUSY : 0;
	pthread_mutex_unlock(&ch->lock);
	if (ret)
		return ret;
	ret = ffs_call(FFR_MSG_DESTROY_CHANNEL, &req, NULL, 0, &rep, NULL, 0);
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	pthread_mutex_lock(&ctx->lock);
	ffs_list_del(&ch->link);
	pthread_mutex_unlock(&ctx->lock);
	ffs_sys_close(channel->fd);
	ffs_sys_close(ch->wake);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
	return 0;
}

/* Sends one wake-up byte towards the channel fd. A full socket already
 * reads as readable, so a failure is nothing to act on. */
static void channel_wake(struct ffs_channel *ch)
{
	char one = 1;

	if (ffs_sys_send_nb(ch->wake, &one, 1) < 0) {
		/* EAGAIN: the app has wake-ups it has not read yet */
	}
}

/* Empties the channel fd of wake-ups; the counters say what happened. */
static void channel_drain(struct ffs_channel *ch)
{
	char buf[64];

	while (ffs_sys_recv_nb(ch->ibch.fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		;
}

/* The CQ whose fired-event counter is ahead of what we handed out; *more
 * says whether any CQ of the channel still is after this one. */
static struct ffs_cq *take_event(struct ffs_channel *ch, int *more)
{
	struct ffs_cq *found = NULL;

	*more = 0;
	pthread_mutex_lock(&ch->lock);
	ffs_list_for_each(&ch->cqs, it) {
		struct ffs_cq *cq = ffs_container_of(it, struct ffs_cq, ch_link);
		/* Acquire pairs with the firing side's atomic increment that
		 * precedes its wake-up byte. */
		uint32_t ev = __atomic_load_n(&cq->ring.hdr->events,
					      __ATOMIC_ACQUIRE);

		if (found) {
			if ((int32_t)(ev - cq->events_taken) > 0) {
				*more = 1;
				break;
			}
			continue;
		}
		if ((int32_t)(ev - cq->events_taken) > 0) {
			cq->events_taken++;
			*more = (int32_t)(ev - cq->events_taken) > 0;
			/* Everything up to here is announced by this event. */
			__atomic_store_n(&cq->event_prod,
					 ffr_load_acquire(&cq->ring.hdr->prod),
					 __ATOMIC_RELAXED);
			/* Read by destroy_cq under the CQ mutex. */
			pthread_mutex_lock(&cq->ibcq.mutex);
			cq->events_delivered++;
			pthread_mutex_unlock(&cq->ibcq.mutex);
			found = cq;
			if (*more)
				break;
		}
	}
	pthread_mutex_unlock(&ch->lock);
	return found;
}

FFS_EXPORT int ibv_get_cq_event(struct ibv_comp_channel *channel,
				struct ibv_cq **cq, void **cq_context)
{
	struct ffs_channel *ch = to_fch(channel);
	int nonblock = ffs_sys_fcntl_getfl(channel->fd) & O_NONBLOCK;

	for (;;) {
		struct ffs_cq *fcq;
		int more;

		if (ffs_router_gone() && ffs_session_probe()) {
			errno = EIO;
			return -1;
		}
		/* Drain before looking: a firer counts, then sends its byte,
		 * so any byte drained here has its count visible below, and
		 * one sent after the look will wake the poll. */
		channel_drain(ch);
		fcq = take_event(ch, &more);
		if (fcq) {
			/* Level-triggered for the app's own poll/epoll: the fd
			 * stays readable while events remain. */
			if (more)
				channel_wake(ch);
			*cq = (struct ibv_cq *)&fcq->ibcq;
			*cq_context = fcq->ibcq.cq_context;
			return 0;
		}
		if (ffs_router_gone()) {
			errno = EIO;
			return -1;
		}
		if (nonblock) {
			errno = ffs_session_probe() ? EIO : EAGAIN;
			return -1;
		}
		/* Wait on the channel and on the control socket, so a router
		 * that dies turns into EIO instead of a hang. */
		struct pollfd p[2] = {
			{ .fd = channel->fd, .events = POLLIN },
			{ .fd = ffs_sess.fd, .events = POLLIN },
		};
		int np = p[1].fd >= 0 ? 2 : 1;
		int r = ffs_sys_poll(p, (nfds_t)np, -1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (np == 2 && p[1].revents && !(p[0].revents & POLLIN)) {
			if (ffs_session_probe()) {
				errno = EIO;
				return -1;
			}
			/* Readable only because another thread's reply is in
			 * flight: wait on the channel alone for a bit. */
			ffs_sys_poll(p, 1, 1);
		}
	}
}

FFS_EXPORT void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	pthread_mutex_lock(&cq->mutex);
	cq->comp_events_completed += nevents;
	pthread_cond_signal(&cq->cond);
	pthread_mutex_unlock(&cq->mutex);
}

/* Fires a CQ's event from the shim (arm found completions already there,
 * or the router is gone). Same protocol as the data plane: count, then
 * wake. */
void ffs_cq_fire(struct ffs_cq *cq)
{
	__atomic_fetch_add(&cq->ring.hdr->events, 1, __ATOMIC_ACQ_REL);
	if (cq->ibcq.channel)
		channel_wake(to_fch(cq->ibcq.channel));
}
