/* The ibv_qp_ex work-request builder (ibv_wr_start ... ibv_wr_complete).
 * WQEs are written into ring slots past prod as they are built and become
 * visible to the data plane only at wr_complete, so wr_abort is free. */
#define _GNU_SOURCE
#include <string.h>
#include "ffshim.h"

/* Starts a new WQE in the next free slot; errors stick until complete. */
static struct ffr_swqe *wr_new(struct ffs_qp *qp, enum ibv_wr_opcode op)
{
	struct ibv_qp_ex *qx = &qp->vqp.qp_ex;
	/* Acquire: the data plane is done with the slots below cons. */
	uint32_t cons = ffr_load_acquire(&qp->sq.hdr->cons);
	struct ffr_swqe *w;

	qp->wr_cur = NULL;
	if (qp->wr_err)
		return NULL;
	if (qp->wr_next - cons >= qp->max_send_wr) {
		qp->wr_err = ENOMEM;
		return NULL;
	}
	w = ffs_ring_slot(&qp->sq, qp->wr_next);
	memset(w, 0, sizeof(*w));
	w->wr_id = qx->wr_id;
	w->opcode = op;
	w->send_flags = qx->wr_flags;
	qp->sq_wrid[qp->wr_next & qp->sq.mask] = qx->wr_id;
	qp->wr_next++;
	qp->wr_cur = w;
	return w;
}

static void qx_wr_start(struct ibv_qp_ex *qx)
{
	struct ffs_qp *qp = to_fqp_ex(qx);

	pthread_spin_lock(&qp->sq_lock);
	qp->wr_next = qp->sq_prod;
	qp->wr_err = 0;
	qp->wr_cur = NULL;
}

static int qx_wr_complete(struct ibv_qp_ex *qx)
{
	struct ffs_qp *qp = to_fqp_ex(qx);
	int err = qp->wr_err;

	if (!err && ffs_router_gone())
		err = EIO;
	if (!err)
		err = -ffs_qp_sq_state_ok(qp);
	if (!err && qp->wr_next != qp->sq_prod) {
		qp->sq_prod = qp->wr_next;
		/* Release: the slots are written before the index says so. */
		ffr_store_release(&qp->sq.hdr->prod, qp->sq_prod);
		ffs_doorbell();
	}
	qp->wr_cur = NULL;
	pthread_spin_unlock(&qp->sq_lock);
	return err;
}

static void qx_wr_abort(struct ibv_qp_ex *qx)
{
	struct ffs_qp *qp = to_fqp_ex(qx);

	qp->wr_cur = NULL;
	pthread_spin_unlock(&qp->sq_lock);
}

static void qx_send(struct ibv_qp_ex *qx)
{
	wr_new(to_fqp_ex(qx), IBV_WR_SEND);
}

static void qx_send_imm(struct ibv_qp_ex *qx, __be32 imm)
{
	struct ffr_swqe *w = wr_new(to_fqp_ex(qx), IBV_WR_SEND_WITH_IMM);

	if (w)
		w->imm_data = imm;
}

static void set_rdma(struct ffr_swqe *w, uint32_t rkey, uint64_t addr)
{
	if (w) {
		w->rkey = rkey;
		w->remote_addr = addr;
	}
}

static void qx_rdma_write(struct ibv_qp_ex *qx, uint32_t rkey, uint64_t addr)
{
	set_rdma(wr_new(to_fqp_ex(qx), IBV_WR_RDMA_WRITE), rkey, addr);
}

static void qx_rdma_write_imm(struct ibv_qp_ex *qx, uint32_t rkey,
			      uint64_t addr, __be32 imm)
{
	struct ffr_swqe *w = wr_new(to_fqp_ex(qx), IBV_WR_RDMA_WRITE_WITH_IMM);

	set_rdma(w, rkey, addr);
	if (w)
		w->imm_data = imm;
}

static void qx_rdma_read(struct ibv_qp_ex *qx, uint32_t rkey, uint64_t addr)
{
	set_rdma(wr_new(to_fqp_ex(qx), IBV_WR_RDMA_READ), rkey, addr);
}

static void qx_atomic_cmp_swp(struct ibv_qp_ex *qx, uint32_t rkey,
			      uint64_t addr, uint64_t compare, uint64_t swap)
{
	struct ffr_swqe *w = wr_new(to_fqp_ex(qx), IBV_WR_ATOMIC_CMP_AND_SWP);

	set_rdma(w, rkey, addr);
	if (w) {
		w->compare_add = compare;
		w->swap = swap;
	}
}

static void qx_atomic_fetch_add(struct ibv_qp_ex *qx, uint32_t rkey,
				uint64_t addr, uint64_t add)
{
	struct ffr_swqe *w = wr_new(to_fqp_ex(qx), IBV_WR_ATOMIC_FETCH_AND_ADD);

	set_rdma(w, rkey, addr);
	if (w)
		w->compare_add = add;
}

static void qx_set_ud_addr(struct ibv_qp_ex *qx, struct ibv_ah *ah,
			   uint32_t remote_qpn, uint32_t remote_qkey)
{
	struct ffs_qp *qp = to_fqp_ex(qx);
	struct ffr_swqe *w = qp->wr_cur;

	if (!w)
		return;
	if (!ah) {
		qp->wr_err = EINVAL;
		return;
	}
	w->ud_ah = ah->handle;
	w->ud_remote_qpn = remote_qpn;
	w->ud_remote_qkey = remote_qkey;
}

static void qx_set_sge_list(struct ibv_qp_ex *qx, size_t n,
			    const struct ibv_sge *sg)
{
	struct ffs_qp *qp = to_fqp_ex(qx);
	struct ffr_swqe *w = qp->wr_cur;

	if (!w)
		return;
	if (n > qp->max_send_sge) {
		qp->wr_err = EINVAL;
		return;
	}
	/* struct ibv_sge and struct ffr_sge share a layout (post.c). */
	if (n)			/* sg may be NULL for an empty list */
		memcpy(w + 1, sg, n * sizeof(struct ffr_sge));
	w->num_sge = (uint32_t)n;
	w->inline_len = 0;
}

static void qx_set_sge(struct ibv_qp_ex *qx, uint32_t lkey, uint64_t addr,
		       uint32_t length)
{
	struct ibv_sge sge = { .addr = addr, .length = length, .lkey = lkey };

	qx_set_sge_list(qx, 1, &sge);
}

static void qx_set_inline_data_list(struct ibv_qp_ex *qx, size_t n,
				    const struct ibv_data_buf *bufs)
{
	struct ffs_qp *qp = to_fqp_ex(qx);
	struct ffr_swqe *w = qp->wr_cur;
	uint8_t *dst;
	size_t total = 0;

	if (!w)
		return;
	if (w->opcode == IBV_WR_RDMA_READ ||
	    w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
	    w->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		qp->wr_err = EINVAL;
		return;
	}
	dst = (uint8_t *)(w + 1);
	for (size_t i = 0; i < n; i++) {
		if (bufs[i].length > qp->max_inline - total) {
			qp->wr_err = EINVAL;
			return;
		}
		if (bufs[i].length)
			memcpy(dst + total, bufs[i].addr, bufs[i].length);
		total += bufs[i].length;
	}
	w->inline_len = (uint32_t)total;
	w->num_sge = 0;
	w->send_flags |= IBV_SEND_INLINE;
}

static void qx_set_inline_data(struct ibv_qp_ex *qx, void *addr, size_t len)
{
	struct ibv_data_buf b = { .addr = addr, .length = len };

	qx_set_inline_data_list(qx, 1, &b);
}

void ffs_qp_ex_init(struct ffs_qp *qp)
{
	struct ibv_qp_ex *qx = &qp->vqp.qp_ex;
	uint64_t ops = qp->send_ops;

	qx->comp_mask = 0;
	qx->wr_start = qx_wr_start;
	qx->wr_complete = qx_wr_complete;
	qx->wr_abort = qx_wr_abort;
	qx->wr_set_sge = qx_set_sge;
	qx->wr_set_sge_list = qx_set_sge_list;
	qx->wr_set_inline_data = qx_set_inline_data;
	qx->wr_set_inline_data_list = qx_set_inline_data_list;
	if (qp->vqp.qp.qp_type == IBV_QPT_UD)
		qx->wr_set_ud_addr = qx_set_ud_addr;
	if (ops & IBV_QP_EX_WITH_SEND)
		qx->wr_send = qx_send;
	if (ops & IBV_QP_EX_WITH_SEND_WITH_IMM)
		qx->wr_send_imm = qx_send_imm;
	if (ops & IBV_QP_EX_WITH_RDMA_WRITE)
		qx->wr_rdma_write = qx_rdma_write;
	if (ops & IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM)
		qx->wr_rdma_write_imm = qx_rdma_write_imm;
	if (ops & IBV_QP_EX_WITH_RDMA_READ)
		qx->wr_rdma_read = qx_rdma_read;
	if (ops & IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP)
		qx->wr_atomic_cmp_swp = qx_atomic_cmp_swp;
	if (ops & IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD)
		qx->wr_atomic_fetch_add = qx_atomic_fetch_add;
}
