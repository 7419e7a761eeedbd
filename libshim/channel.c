/* Completion channels (docs/design.md "CQ notification"): an EFD_SEMAPHORE
 * eventfd per channel, one count per event; each CQ's ring header counts
 * the events fired for it, so a count read from the fd maps to the CQ whose
 * counter runs ahead of what the shim handed out. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include "ffshim.h"
#include "sys.h"

FFS_EXPORT struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *context)
{
	struct ffs_context *ctx = to_fctx(context);
	struct ffr_create_channel_req req = { 0 };
	struct ffr_create_channel_rep rep;
	struct ffs_channel *ch;
	int ret, fd;

	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	fd = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = ffs_call(FFR_MSG_CREATE_CHANNEL, &req, &fd, 1, &rep, NULL, 0);
	if (ret)
		goto err_close;
	ch->ibch.context = context;
	ch->ibch.fd = fd;
	ch->ibch.refcnt = 0;
	ch->handle = rep.channel;
	pthread_mutex_init(&ch->lock, NULL);
	ffs_list_init(&ch->cqs);
	pthread_mutex_lock(&ctx->lock);
	ffs_list_add(&ctx->channels, &ch->link);
	pthread_mutex_unlock(&ctx->lock);
	return &ch->ibch;

err_close:
	ffs_sys_close(fd);
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
	pthread_mutex_destroy(&ch->lock);
	free(ch);
	return 0;
}

/* The CQ whose fired-event counter is ahead of what we handed out. */
static struct ffs_cq *take_event(struct ffs_channel *ch)
{
	struct ffs_cq *found = NULL;

	pthread_mutex_lock(&ch->lock);
	ffs_list_for_each(&ch->cqs, it) {
		struct ffs_cq *cq = ffs_container_of(it, struct ffs_cq, ch_link);
		/* Acquire pairs with the firing side's atomic increment that
		 * precedes its eventfd write. */
		uint32_t ev = __atomic_load_n(&cq->ring.hdr->events,
					      __ATOMIC_ACQUIRE);

		if ((int32_t)(ev - cq->events_taken) > 0) {
			cq->events_taken++;
			/* Everything up to here is announced by this event. */
			__atomic_store_n(&cq->event_prod,
					 ffr_load_acquire(&cq->ring.hdr->prod),
					 __ATOMIC_RELAXED);
			/* Read by destroy_cq under the CQ mutex. */
			pthread_mutex_lock(&cq->ibcq.mutex);
			cq->events_delivered++;
			pthread_mutex_unlock(&cq->ibcq.mutex);
			found = cq;
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
		uint64_t v;
		ssize_t n;

		if (ffs_router_gone() && ffs_session_probe()) {
			errno = EIO;
			return -1;
		}
		if (!nonblock) {
			/* Wait on the channel and on the control socket, so a
			 * router that dies turns into EIO instead of a hang. */
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
				/* Readable only because another thread's reply is
				 * in flight: wait on the channel alone for a bit. */
				ffs_sys_poll(p, 1, 1);
				continue;
			}
			if (!(p[0].revents & POLLIN))
				continue;
		}
		n = ffs_sys_read(channel->fd, &v, sizeof(v));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && nonblock && ffs_session_probe())
				errno = EIO;
			return -1;
		}
		fcq = take_event(ch);
		if (!fcq) {
			if (ffs_router_gone()) {
				errno = EIO;
				return -1;
			}
			/* A count for a CQ destroyed since: wait for the next. */
			if (nonblock) {
				errno = EAGAIN;
				return -1;
			}
			continue;
		}
		*cq = (struct ibv_cq *)&fcq->ibcq;
		*cq_context = fcq->ibcq.cq_context;
		return 0;
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
		ffs_eventfd_signal(cq->ibcq.channel->fd);
}
