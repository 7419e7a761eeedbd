/* The fast path: work requests go straight into the shared rings; the only
 * possible syscall is the doorbell when the data plane sleeps. */
#define _GNU_SOURCE
#include <string.h>
#include "ffshim.h"

int ffs_qp_sq_state_ok(struct ffs_qp *qp)
{
	/* The data plane mirrors the QP state here; it is also how a QP the
	 * router moved to ERR shows up. ERR is fine: the router flushes. */
	switch (ffr_load_acquire(&qp->sq.hdr->qp_state)) {
	case FFR_QPS_RTS:
	case FFR_QPS_SQD:
	case FFR_QPS_SQE:
	case FFR_QPS_ERR:
		return 0;
	default:
		return -EINVAL;
	}
}

/* 0, -EINVAL (not an opcode of this QP type) or -EOPNOTSUPP (a verbs
 * opcode the virtual HCA does not implement: memory windows, invalidation,
 * TSO, atomic write, ...). */
static int opcode_check(enum ibv_qp_type type, enum ibv_wr_opcode op)
{
	/* The same table the data plane checks again (proto/schema.json). */
	if (ffr_opcode_allowed(type, op))
		return 0;
	switch (op) {
	case IBV_WR_LOCAL_INV:
	case IBV_WR_BIND_MW:
	case IBV_WR_SEND_WITH_INV:
	case IBV_WR_TSO:
	case IBV_WR_DRIVER1:
	case IBV_WR_ATOMIC_WRITE:
		return -EOPNOTSUPP;
	default:
		return -EINVAL;
	}
}

/* Inline data is copied now, so the app may reuse its buffers on return;
 * the lkeys are not looked at. */
static int copy_inline(struct ffs_qp *qp, struct ffr_swqe *w,
		       const struct ibv_send_wr *wr)
{
	uint8_t *dst = (uint8_t *)(w + 1);
	uint32_t total = 0;

	if (wr->opcode == IBV_WR_RDMA_READ ||
	    wr->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
	    wr->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD)
		return -EINVAL;
	for (int i = 0; i < wr->num_sge; i++) {
		const struct ibv_sge *s = &wr->sg_list[i];

		if (s->length > qp->max_inline - total)
			return -EINVAL;
		if (s->length)
			memcpy(dst + total, (const void *)(uintptr_t)s->addr,
			       s->length);
		total += s->length;
	}
	w->inline_len = total;
	w->num_sge = 0;
	return 0;
}

static int write_swqe(struct ffs_qp *qp, struct ffr_swqe *w,
		      const struct ibv_send_wr *wr)
{
	enum ibv_qp_type type = qp->vqp.qp.qp_type;
	int ret = opcode_check(type, wr->opcode);

	if (ret)
		return ret;
	if (wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->max_send_sge)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->send_flags = wr->send_flags;
	w->num_sge = (uint32_t)wr->num_sge;
	if (wr->opcode == IBV_WR_SEND_WITH_IMM ||
	    wr->opcode == IBV_WR_RDMA_WRITE_WITH_IMM)
		w->imm_data = wr->imm_data;
	switch (wr->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
		w->remote_addr = wr->wr.rdma.remote_addr;
		w->rkey = wr->wr.rdma.rkey;
		break;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		w->remote_addr = wr->wr.atomic.remote_addr;
		w->rkey = wr->wr.atomic.rkey;
		w->compare_add = wr->wr.atomic.compare_add;
		w->swap = wr->wr.atomic.swap;
		break;
	default:
		break;
	}
	if (type == IBV_QPT_UD) {
		if (!wr->wr.ud.ah)
			return -EINVAL;
		w->ud_ah = wr->wr.ud.ah->handle;
		w->ud_remote_qpn = wr->wr.ud.remote_qpn;
		w->ud_remote_qkey = wr->wr.ud.remote_qkey;
	}
	if (wr->send_flags & IBV_SEND_INLINE)
		return copy_inline(qp, w, wr);
	if (w->num_sge)		/* sg_list may be NULL when num_sge is 0 */
		memcpy(w + 1, wr->sg_list, sizeof(struct ffr_sge) * w->num_sge);
	return 0;
}

/* struct ibv_sge and struct ffr_sge are the same 16 bytes. */
_Static_assert(sizeof(struct ibv_sge) == sizeof(struct ffr_sge) &&
	       offsetof(struct ibv_sge, addr) == offsetof(struct ffr_sge, addr) &&
	       offsetof(struct ibv_sge, length) == offsetof(struct ffr_sge, length) &&
	       offsetof(struct ibv_sge, lkey) == offsetof(struct ffr_sge, lkey),
	       "ibv_sge layout");

int ffs_post_send(struct ibv_qp *ibqp, struct ibv_send_wr *wr,
		  struct ibv_send_wr **bad_wr)
{
	struct ffs_qp *qp = to_fqp(ibqp);
	uint32_t cons, prod;
	int ret = 0;

	pthread_spin_lock(&qp->sq_lock);
	/* Under the ring lock: the shim's flush (flush.c) takes it after the
	 * session is marked dead, so a WR is either flushed or refused here,
	 * never published to a ring nobody will complete. */
	ret = ffs_router_gone() ? -EIO : ffs_qp_sq_state_ok(qp);
	prod = qp->sq_prod;
	/* Acquire: the data plane is done with the slots below cons. */
	cons = ffr_load_acquire(&qp->sq.hdr->cons);
	for (; wr && !ret; wr = wr->next) {
		if (prod - cons >= qp->max_send_wr) {
			ret = -ENOMEM;
			break;
		}
		ret = write_swqe(qp, ffs_ring_slot(&qp->sq, prod), wr);
		if (ret)
			break;
		qp->sq_wrid[prod & qp->sq.mask] = wr->wr_id;
		prod++;
	}
	if (prod != qp->sq_prod) {
		qp->sq_prod = prod;
		/* Release: the slots are written before the index says so. */
		ffr_store_release(&qp->sq.hdr->prod, prod);
		ffs_doorbell();
	}
	pthread_spin_unlock(&qp->sq_lock);
	if (ret)
		*bad_wr = wr;
	return -ret;
}

static int write_rwqe(const struct ffs_ring *ring, uint32_t idx,
		      uint32_t max_sge, const struct ibv_recv_wr *wr)
{
	struct ffr_rwqe *w = ffs_ring_slot(ring, idx);

	if (wr->num_sge < 0 || (uint32_t)wr->num_sge > max_sge)
		return -EINVAL;
	w->wr_id = wr->wr_id;
	w->num_sge = (uint32_t)wr->num_sge;
	w->rsvd = 0;
	if (w->num_sge)		/* sg_list may be NULL when num_sge is 0 */
		memcpy(w + 1, wr->sg_list, sizeof(struct ffr_sge) * w->num_sge);
	return 0;
}

int ffs_post_recv(struct ibv_qp *ibqp, struct ibv_recv_wr *wr,
		  struct ibv_recv_wr **bad_wr)
{
	struct ffs_qp *qp = to_fqp(ibqp);
	uint32_t cons, prod;
	int ret = 0;

	/* Acquire: the state mirror is read like any other index the data plane
	 * publishes. A receive queue only refuses RESET. */
	if (ibqp->srq ||
	    ffr_load_acquire(&qp->sq.hdr->qp_state) == FFR_QPS_RESET) {
		*bad_wr = wr;
		return EINVAL;
	}
	pthread_spin_lock(&qp->rq_lock);
	/* Under the ring lock, as in ffs_post_send. */
	if (ffs_router_gone())
		ret = -EIO;
	prod = qp->rq_prod;
	/* Acquire: the data plane is done with the slots below cons. */
	cons = ffr_load_acquire(&qp->rq.hdr->cons);
	for (; wr && !ret; wr = wr->next) {
		if (prod - cons >= qp->max_recv_wr) {
			ret = -ENOMEM;
			break;
		}
		ret = write_rwqe(&qp->rq, prod, qp->max_recv_sge, wr);
		if (ret)
			break;
		qp->rq_wrid[prod & qp->rq.mask] = wr->wr_id;
		prod++;
	}
	if (prod != qp->rq_prod) {
		qp->rq_prod = prod;
		/* Release: the slots are written before the index says so. */
		ffr_store_release(&qp->rq.hdr->prod, prod);
		ffs_doorbell();
	}
	pthread_spin_unlock(&qp->rq_lock);
	if (ret)
		*bad_wr = wr;
	return -ret;
}

int ffs_post_srq_recv(struct ibv_srq *ibsrq, struct ibv_recv_wr *wr,
		      struct ibv_recv_wr **bad_wr)
{
	struct ffs_srq *srq = to_fsrq(ibsrq);
	uint32_t cons, prod;
	int ret = 0;

	if (ffs_router_gone()) {
		*bad_wr = wr;
		return EIO;
	}
	pthread_spin_lock(&srq->lock);
	prod = srq->prod;
	/* Acquire: the data plane is done with the slots below cons. */
	cons = ffr_load_acquire(&srq->ring.hdr->cons);
	for (; wr; wr = wr->next) {
		if (prod - cons >= srq->max_wr) {
			ret = -ENOMEM;
			break;
		}
		ret = write_rwqe(&srq->ring, prod, srq->max_sge, wr);
		if (ret)
			break;
		prod++;
	}
	if (prod != srq->prod) {
		srq->prod = prod;
		/* Release: the slots are written before the index says so. */
		ffr_store_release(&srq->ring.hdr->prod, prod);
		ffs_doorbell();
	}
	pthread_spin_unlock(&srq->lock);
	if (ret)
		*bad_wr = wr;
	return -ret;
}
