/* Router death (docs/design.md "Router death and shutdown"): once the
 * control socket reaches EOF nobody else will ever complete the WRs the app
 * posted, so the shim completes them itself with IBV_WC_WR_FLUSH_ERR. */
#define _GNU_SOURCE
#include "ffshim.h"
#include "sys.h"

extern struct ffs_list ffs_contexts;
extern pthread_mutex_t ffs_contexts_lock;

/* Everything in [cons, prod) is outstanding: the data plane advances cons
 * only when a WR's fate is final (its CQE already in the CQ ring). */
static void flush_ring(struct ffs_qp *qp, struct ffs_ring *ring,
		       pthread_spinlock_t *lock, uint32_t *prod,
		       const uint64_t *wrid, struct ibv_cq *cq,
		       enum ibv_wc_opcode opcode)
{
	struct ffr_cqe e = {
		.status = IBV_WC_WR_FLUSH_ERR,
		.opcode = opcode,
		.qp_num = qp->vqp.qp.qp_num,
	};

	pthread_spin_lock(lock);
	/* Acquire: the router is gone, but its last cons stores must be seen
	 * before we decide what is still outstanding. */
	for (uint32_t i = ffr_load_acquire(&ring->hdr->cons); i != *prod; i++) {
		e.wr_id = wrid[i & ring->mask];
		ffs_cq_push_flush(to_fcq(cq), &e);
	}
	/* Nothing left outstanding: a second flush finds an empty range (the
	 * ring is ours alone now; release for a poller on another thread). */
	ffr_store_release(&ring->hdr->cons, *prod);
	pthread_spin_unlock(lock);
}

void ffs_context_kill(struct ffs_context *ctx)
{
	if (__atomic_exchange_n(&ctx->dead, 1, __ATOMIC_ACQ_REL))
		return;
	FFS_DBG("flushing outstanding work requests");
	pthread_mutex_lock(&ctx->lock);
	ffs_list_for_each(&ctx->qps, it) {
		struct ffs_qp *qp = ffs_container_of(it, struct ffs_qp, link);

		flush_ring(qp, &qp->sq, &qp->sq_lock, &qp->sq_prod,
			   qp->sq_wrid, qp->vqp.qp.send_cq, IBV_WC_SEND);
		/* SRQ WQEs are not flushed (design.md). */
		if (!qp->vqp.qp.srq)
			flush_ring(qp, &qp->rq, &qp->rq_lock, &qp->rq_prod,
				   qp->rq_wrid, qp->vqp.qp.recv_cq,
				   IBV_WC_RECV);
	}
	/* Wake everyone who waits: channel users and async-event pollers. */
	ffs_list_for_each(&ctx->cqs, it) {
		struct ffs_cq *cq = ffs_container_of(it, struct ffs_cq, link);

		if (cq->ibcq.channel)
			ffs_cq_fire(cq);
	}
	pthread_mutex_unlock(&ctx->lock);
	ffs_eventfd_signal(ctx->vctx.context.async_fd);
}

void ffs_contexts_kill_all(void)
{
	pid_t me = getpid();

	pthread_mutex_lock(&ffs_contexts_lock);
	ffs_list_for_each(&ffs_contexts, it) {
		struct ffs_context *ctx =
			ffs_container_of(it, struct ffs_context, link);

		/* A context inherited over fork belongs to the parent's session:
		 * its rings are shared with the parent, never flush them here. */
		if (ctx->pid == me)
			ffs_context_kill(ctx);
	}
	pthread_mutex_unlock(&ffs_contexts_lock);
}
