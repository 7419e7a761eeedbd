/* Completion queues: a ring the data plane produces into and the shim
 * consumes, plus the shim's own flush completions once the router is gone. */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include "ffshim.h"
#include "sys.h"

#define FFS_CQ_WC_FLAGS (IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_IMM | \
			 IBV_WC_EX_WITH_QP_NUM | IBV_WC_EX_WITH_SRC_QP | \
			 IBV_WC_EX_WITH_SLID | IBV_WC_EX_WITH_SL | \
			 IBV_WC_EX_WITH_DLID_PATH_BITS)

/* ------------------------------------------------------ consuming entries */

static bool flush_pop(struct ffs_cq *cq, struct ffr_cqe *out)
{
	bool got = false;

	if (!__atomic_load_n(&cq->nflush, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&cq->flush_lock);
	if (cq->flush_head < cq->flush_len) {
		*out = cq->flush[cq->flush_head++];
		__atomic_store_n(&cq->nflush, cq->flush_len - cq->flush_head,
				 __ATOMIC_RELEASE);
		got = true;
	}
	pthread_mutex_unlock(&cq->flush_lock);
	return got;
}

/* Copies the next completion out of the ring (or the flush list) into out.
 * Caller holds cq->lock. */
static bool cq_next(struct ffs_cq *cq, struct ffr_cqe *out)
{
	/* Acquire pairs with the data plane's store_release(prod): the slot
	 * contents are visible once the index is. */
	uint32_t prod = ffr_load_acquire(&cq->ring.hdr->prod);

	if (prod != cq->cons) {
		memcpy(out, ffs_ring_slot(&cq->ring, cq->cons), sizeof(*out));
		cq->cons++;
		return true;
	}
	return flush_pop(cq, out);
}

static void cq_publish(struct ffs_cq *cq)
{
	if (cq->published != cq->cons) {
		/* Release: our reads of the slots happen before the data plane
		 * may overwrite them. */
		ffr_store_release(&cq->ring.hdr->cons, cq->cons);
		cq->published = cq->cons;
	}
}

/* Nothing to poll: watch for a dead router and yield the core now and then. */
static void cq_empty_poll(struct ffs_cq *cq)
{
	uint32_t n = ++cq->empty_polls;

	if (ffs_router_gone()) {
		/* STOPPING: the router flushes and then closes; watch for EOF
		 * more often so the shim's own flush is not late. */
		if ((n & 63) == 0)
			ffs_session_probe();
	} else if ((n & 1023) == 0) {
		ffs_session_probe();
	}
	/* On a 2-vCPU host two busy-polling apps already fill both cores and
	 * the router's data-plane thread must share them: after a run of empty
	 * polls let it run, without a syscall in the first few hundred polls of
	 * a latency-sensitive spin. */
	if (n > 32 && (n & 7) == 0)
		sched_yield();
}

static void wc_from_cqe(struct ibv_wc *wc, const struct ffr_cqe *e)
{
	wc->wr_id = e->wr_id;
	wc->status = (enum ibv_wc_status)e->status;
	wc->opcode = (enum ibv_wc_opcode)e->opcode;
	wc->vendor_err = e->vendor_err;
	wc->byte_len = e->byte_len;
	wc->imm_data = e->imm_data;
	wc->qp_num = e->qp_num;
	wc->src_qp = e->src_qp;
	wc->wc_flags = e->wc_flags;
	wc->pkey_index = e->pkey_index;
	wc->slid = e->slid;
	wc->sl = e->sl;
	wc->dlid_path_bits = e->dlid_path_bits;
}

int ffs_poll_cq(struct ibv_cq *ibcq, int ne, struct ibv_wc *wc)
{
	struct ffs_cq *cq = to_fcq(ibcq);
	struct ffr_cqe e;
	int n = 0;

	pthread_spin_lock(&cq->lock);
	while (n < ne && cq_next(cq, &e))
		wc_from_cqe(&wc[n++], &e);
	cq_publish(cq);
	if (n)
		cq->empty_polls = 0;
	else
		cq_empty_poll(cq);
	pthread_spin_unlock(&cq->lock);
	return n;
}

/* True when the ring holds a completion the app has not already been told
 * about by the event it last took from the channel. */
static bool cq_has_unannounced(struct ffs_cq *cq)
{
	/* Acquire: ordered after the seq_cst fence of our caller, so a CQE the
	 * data plane published before it read "disarmed" is seen here. cons is
	 * our own store, relaxed is enough. */
	uint32_t prod = ffr_load_acquire(&cq->ring.hdr->prod);
	uint32_t cons = ffr_load_relaxed(&cq->ring.hdr->cons);
	uint32_t seen = __atomic_load_n(&cq->event_prod, __ATOMIC_RELAXED);
	uint32_t base = (int32_t)(seen - cons) > 0 ? seen : cons;

	return prod != base;
}

int ffs_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
	struct ffs_cq *cq = to_fcq(ibcq);
	uint32_t arm = solicited_only ? FFR_CQ_ARM_SOLICITED : FFR_CQ_ARM_NEXT;
	uint32_t expect = arm;

	/* Release: the consumer index we published is visible with the arm. */
	ffr_store_release(&cq->ring.hdr->armed, arm);
	/* Dekker pair with the data plane's "publish prod; fence; read armed":
	 * either it sees the arm or we see its CQE below. */
	ffr_fence_seq_cst();
	/* A completion that arrived after the app's last poll and last event
	 * would otherwise never be announced: fire now. Entries the last event
	 * already announced do not count, so the usual "get event, ack, arm,
	 * poll" loop gets no spurious event (perftest's *_lat -e poll once per
	 * event and read the wc even when the poll found nothing). Any pending
	 * entry counts in solicited mode too: a spurious wake-up costs a poll, a
	 * missed one hangs the app. */
	if (cq_has_unannounced(cq) ||
	    __atomic_load_n(&cq->nflush, __ATOMIC_ACQUIRE) || ffs_router_gone()) {
		if (__atomic_compare_exchange_n(&cq->ring.hdr->armed, &expect,
						FFR_CQ_DISARMED, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			ffs_cq_fire(cq);
	}
	return 0;
}

/* ----------------------------------------------------- ibv_cq_ex callbacks */

static int cqx_start_poll(struct ibv_cq_ex *ibcq, struct ibv_poll_cq_attr *attr)
{
	struct ffs_cq *cq = to_fcq_ex(ibcq);

	if (attr && attr->comp_mask)
		return EINVAL;
	pthread_spin_lock(&cq->lock);
	if (!cq_next(cq, &cq->cur)) {
		cq_empty_poll(cq);
		/* ENOENT ends the batch: the app does not call end_poll. */
		pthread_spin_unlock(&cq->lock);
		return ENOENT;
	}
	cq->empty_polls = 0;
	ibcq->wr_id = cq->cur.wr_id;
	ibcq->status = (enum ibv_wc_status)cq->cur.status;
	return 0;
}

static int cqx_next_poll(struct ibv_cq_ex *ibcq)
{
	struct ffs_cq *cq = to_fcq_ex(ibcq);

	if (!cq_next(cq, &cq->cur))
		return ENOENT;
	ibcq->wr_id = cq->cur.wr_id;
	ibcq->status = (enum ibv_wc_status)cq->cur.status;
	return 0;
}

static void cqx_end_poll(struct ibv_cq_ex *ibcq)
{
	struct ffs_cq *cq = to_fcq_ex(ibcq);

	cq_publish(cq);
	pthread_spin_unlock(&cq->lock);
}

static enum ibv_wc_opcode cqx_read_opcode(struct ibv_cq_ex *c)
{
	return (enum ibv_wc_opcode)to_fcq_ex(c)->cur.opcode;
}
static uint32_t cqx_read_vendor_err(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.vendor_err;
}
static uint32_t cqx_read_byte_len(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.byte_len;
}
static __be32 cqx_read_imm_data(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.imm_data;
}
static uint32_t cqx_read_qp_num(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.qp_num;
}
static uint32_t cqx_read_src_qp(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.src_qp;
}
static unsigned int cqx_read_wc_flags(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.wc_flags;
}
static uint32_t cqx_read_slid(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.slid;
}
static uint8_t cqx_read_sl(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.sl;
}
static uint8_t cqx_read_dlid_path_bits(struct ibv_cq_ex *c)
{
	return to_fcq_ex(c)->cur.dlid_path_bits;
}
static uint64_t cqx_read_completion_ts(struct ibv_cq_ex *c)
{
	/* No HCA clock; creation refuses IBV_WC_EX_WITH_COMPLETION_TIMESTAMP. */
	(void)c;
	return 0;
}

/* ------------------------------------------------------ create / destroy */

static struct ibv_cq_ex *create_cq(struct ibv_context *context, uint32_t cqe,
				   void *cq_context,
				   struct ibv_comp_channel *channel,
				   uint32_t comp_vector, uint64_t wc_flags)
{
	struct ffs_context *ctx = to_fctx(context);
	struct ffr_create_cq_req req = {
		.cqe = cqe,
		.channel = channel ? to_fch(channel)->handle : 0,
		.comp_vector = comp_vector,
	};
	struct ffr_create_cq_rep rep;
	struct ffs_cq *cq;
	int ret, fd = -1;

	if (cqe < 1 || cqe > ffs_sess.hello.max_cqe ||
	    comp_vector >= (uint32_t)context->num_comp_vectors) {
		errno = EINVAL;
		return NULL;
	}
	cq = calloc(1, sizeof(*cq));
	if (!cq) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_call(FFR_MSG_CREATE_CQ, &req, NULL, 0, &rep, &fd, 1);
	if (ret)
		goto err_free;
	cq->map_len = rep.ring_bytes;
	cq->map = mmap(NULL, cq->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	ffs_sys_close(fd);
	if (cq->map == MAP_FAILED) {
		ret = -errno;
		goto err_destroy;
	}
	ret = ffs_ring_init(&cq->ring, cq->map, cq->map_len, 0, rep.entries,
			    sizeof(struct ffr_cqe), sizeof(struct ffr_cqe));
	if (ret || rep.entries < rep.cqe + 1 || rep.cqe < cqe)
		goto err_unmap;
	/* Trust nothing about a fresh ring's history: consume from its current
	 * consumer index and count events from its current counter. */
	cq->cons = cq->published = ffr_load_acquire(&cq->ring.hdr->cons);
	cq->events_taken = ffr_load_acquire(&cq->ring.hdr->events);
	cq->event_prod = cq->cons;
	cq->wc_flags = wc_flags;
	pthread_spin_init(&cq->lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&cq->flush_lock, NULL);

	cq->ibcq.context = context;
	cq->ibcq.channel = channel;
	cq->ibcq.cq_context = cq_context;
	cq->ibcq.handle = rep.cq;
	cq->ibcq.cqe = (int)rep.cqe;
	pthread_mutex_init(&cq->ibcq.mutex, NULL);
	pthread_cond_init(&cq->ibcq.cond, NULL);
	cq->ibcq.start_poll = cqx_start_poll;
	cq->ibcq.next_poll = cqx_next_poll;
	cq->ibcq.end_poll = cqx_end_poll;
	cq->ibcq.read_opcode = cqx_read_opcode;
	cq->ibcq.read_vendor_err = cqx_read_vendor_err;
	cq->ibcq.read_byte_len = cqx_read_byte_len;
	cq->ibcq.read_imm_data = cqx_read_imm_data;
	cq->ibcq.read_qp_num = cqx_read_qp_num;
	cq->ibcq.read_src_qp = cqx_read_src_qp;
	cq->ibcq.read_wc_flags = cqx_read_wc_flags;
	cq->ibcq.read_slid = cqx_read_slid;
	cq->ibcq.read_sl = cqx_read_sl;
	cq->ibcq.read_dlid_path_bits = cqx_read_dlid_path_bits;
	cq->ibcq.read_completion_ts = cqx_read_completion_ts;

	if (channel) {
		struct ffs_channel *ch = to_fch(channel);

		pthread_mutex_lock(&ch->lock);
		ffs_list_add(&ch->cqs, &cq->ch_link);
		channel->refcnt++;
		pthread_mutex_unlock(&ch->lock);
	} else {
		ffs_list_init(&cq->ch_link);
	}
	pthread_mutex_lock(&ctx->lock);
	ffs_list_add(&ctx->cqs, &cq->link);
	pthread_mutex_unlock(&ctx->lock);
	return &cq->ibcq;

err_unmap:
	if (!ret)
		ret = -EPROTO;
	munmap(cq->map, cq->map_len);
err_destroy: {
		struct ffr_destroy_cq_req dreq = { .cq = rep.cq };
		struct ffr_destroy_cq_rep drep;

		ffs_call(FFR_MSG_DESTROY_CQ, &dreq, NULL, 0, &drep, NULL, 0);
	}
err_free:
	free(cq);
	errno = -ret;
	return NULL;
}

FFS_EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *context, int cqe,
					void *cq_context,
					struct ibv_comp_channel *channel,
					int comp_vector)
{
	if (cqe < 1 || comp_vector < 0) {
		errno = EINVAL;
		return NULL;
	}
	return (struct ibv_cq *)create_cq(context, (uint32_t)cqe, cq_context,
					  channel, (uint32_t)comp_vector,
					  IBV_WC_STANDARD_FLAGS);
}

struct ibv_cq_ex *ffs_create_cq_ex(struct ibv_context *context,
				   struct ibv_cq_init_attr_ex *attr)
{
	if (attr->comp_mask & ~(uint32_t)IBV_CQ_INIT_ATTR_MASK_FLAGS ||
	    attr->wc_flags & ~(uint64_t)FFS_CQ_WC_FLAGS) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if ((attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_FLAGS) &&
	    (attr->flags & ~(uint32_t)IBV_CREATE_CQ_ATTR_SINGLE_THREADED)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	return create_cq(context, attr->cqe, attr->cq_context, attr->channel,
			 attr->comp_vector, attr->wc_flags);
}

FFS_EXPORT int ibv_destroy_cq(struct ibv_cq *ibcq)
{
	struct ffs_cq *cq = to_fcq(ibcq);
	struct ffs_context *ctx = to_fctx(ibcq->context);
	struct ffr_destroy_cq_req req = { .cq = ibcq->handle };
	struct ffr_destroy_cq_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_DESTROY_CQ, &req, NULL, 0, &rep, NULL, 0);
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	if (ibcq->channel) {
		struct ffs_channel *ch = to_fch(ibcq->channel);

		pthread_mutex_lock(&ch->lock);
		ffs_list_del(&cq->ch_link);
		ibcq->channel->refcnt--;
		pthread_mutex_unlock(&ch->lock);
	}
	/* Verbs rule: every event handed out by ibv_get_cq_event is acked
	 * before the CQ goes away. */
	pthread_mutex_lock(&ibcq->mutex);
	while (ibcq->comp_events_completed != cq->events_delivered)
		pthread_cond_wait(&ibcq->cond, &ibcq->mutex);
	pthread_mutex_unlock(&ibcq->mutex);
	pthread_mutex_lock(&ctx->lock);
	ffs_list_del(&cq->link);
	pthread_mutex_unlock(&ctx->lock);
	munmap(cq->map, cq->map_len);
	pthread_spin_destroy(&cq->lock);
	pthread_mutex_destroy(&cq->flush_lock);
	free(cq->flush);
	free(cq);
	return 0;
}

FFS_EXPORT int ibv_resize_cq(struct ibv_cq *cq, int cqe)
{
	(void)cq;
	(void)cqe;
	return EOPNOTSUPP;
}

void ffs_cq_push_flush(struct ffs_cq *cq, const struct ffr_cqe *cqe)
{
	pthread_mutex_lock(&cq->flush_lock);
	if (cq->flush_len == cq->flush_cap) {
		uint32_t cap = cq->flush_cap ? cq->flush_cap * 2 : 64;
		struct ffr_cqe *n = realloc(cq->flush, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&cq->flush_lock);
			return;
		}
		cq->flush = n;
		cq->flush_cap = cap;
	}
	cq->flush[cq->flush_len++] = *cqe;
	__atomic_store_n(&cq->nflush, cq->flush_len - cq->flush_head,
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cq->flush_lock);
}
