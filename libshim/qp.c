/* Queue pairs: created, modified and queried by the router; their send and
 * receive rings live in one router-made memfd the shim maps. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include "ffshim.h"
#include "sys.h"

#define FFS_SEND_OPS (IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM | \
		      IBV_QP_EX_WITH_RDMA_WRITE | \
		      IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | \
		      IBV_QP_EX_WITH_RDMA_READ | \
		      IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | \
		      IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD)
#define FFS_UC_SEND_OPS (IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM | \
			 IBV_QP_EX_WITH_RDMA_WRITE | \
			 IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM)
#define FFS_UD_SEND_OPS (IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM)

static uint32_t round16(uint32_t v)
{
	return (v + 15) & ~15u;
}

static int check_caps(enum ibv_qp_type type, const struct ibv_qp_cap *cap,
		      bool has_srq)
{
	const struct ffr_hello_rep *h = &ffs_sess.hello;

	if (type != IBV_QPT_RC && type != IBV_QPT_UC && type != IBV_QPT_UD)
		return -EOPNOTSUPP;
	if (cap->max_send_sge > FFR_MAX_SGE || cap->max_send_sge > h->max_sge ||
	    cap->max_recv_sge > FFR_MAX_SGE || cap->max_recv_sge > h->max_sge ||
	    cap->max_inline_data > FFR_MAX_INLINE ||
	    cap->max_inline_data > h->max_inline ||
	    cap->max_send_wr > h->max_qp_wr ||
	    (!has_srq && cap->max_recv_wr > h->max_qp_wr))
		return -EINVAL;
	return 0;
}

static int map_rings(struct ffs_qp *qp, const struct ffr_create_qp_rep *rep,
		     int fd, bool has_srq)
{
	uint32_t sq_min, rq_min;
	int ret;

	qp->map_len = rep->ring_bytes;
	qp->map = mmap(NULL, qp->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	if (qp->map == MAP_FAILED) {
		qp->map = NULL;
		return -errno;
	}
	sq_min = round16(sizeof(struct ffr_swqe) +
			 (rep->max_send_sge * sizeof(struct ffr_sge) >
			  rep->max_inline_data ?
			  rep->max_send_sge * (uint32_t)sizeof(struct ffr_sge) :
			  rep->max_inline_data));
	rq_min = (uint32_t)(sizeof(struct ffr_rwqe) +
			    rep->max_recv_sge * sizeof(struct ffr_sge));
	ret = ffs_ring_init(&qp->sq, qp->map, qp->map_len, rep->sq_offset,
			    rep->sq_entries, rep->sq_stride, sq_min);
	if (!ret && rep->sq_entries < rep->max_send_wr)
		ret = -EPROTO;
	if (!ret && !has_srq) {
		ret = ffs_ring_init(&qp->rq, qp->map, qp->map_len,
				    rep->rq_offset, rep->rq_entries,
				    rep->rq_stride, rq_min);
		if (!ret && rep->rq_entries < rep->max_recv_wr)
			ret = -EPROTO;
	}
	return ret;
}

static struct ibv_qp *create_qp(struct ibv_context *context,
				struct ibv_qp_init_attr_ex *attr)
{
	struct ffs_context *ctx = to_fctx(context);
	struct ibv_pd *pd = attr->pd;
	bool has_srq = attr->srq != NULL;
	struct ffr_create_qp_req req = {
		.pd = pd->handle,
		.qp_type = attr->qp_type,
		.send_cq = attr->send_cq ? attr->send_cq->handle : 0,
		.recv_cq = attr->recv_cq ? attr->recv_cq->handle : 0,
		.srq = has_srq ? attr->srq->handle : 0,
		.sq_sig_all = (uint32_t)!!attr->sq_sig_all,
		.max_send_wr = attr->cap.max_send_wr,
		.max_recv_wr = has_srq ? 0 : attr->cap.max_recv_wr,
		.max_send_sge = attr->cap.max_send_sge,
		.max_recv_sge = has_srq ? 0 : attr->cap.max_recv_sge,
		.max_inline_data = attr->cap.max_inline_data,
	};
	struct ffr_create_qp_rep rep;
	struct ibv_qp *ibqp;
	struct ffs_qp *qp;
	int ret, fd = -1;

	ret = check_caps(attr->qp_type, &attr->cap, has_srq);
	if (!ret && (!attr->send_cq || !attr->recv_cq ||
		     attr->send_cq->context != context ||
		     attr->recv_cq->context != context || pd->context != context))
		ret = -EINVAL;
	if (ret) {
		errno = -ret;
		return NULL;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_call(FFR_MSG_CREATE_QP, &req, NULL, 0, &rep, &fd, 1);
	if (ret)
		goto err_free;
	ret = map_rings(qp, &rep, fd, has_srq);
	ffs_sys_close(fd);
	if (ret)
		goto err_destroy;
	qp->sq_wrid = calloc(qp->sq.entries, sizeof(uint64_t));
	qp->rq_wrid = has_srq ? NULL : calloc(qp->rq.entries, sizeof(uint64_t));
	if (!qp->sq_wrid || (!has_srq && !qp->rq_wrid)) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	/* Start where the rings are: the router may hand out reused memory. */
	qp->sq_prod = ffr_load_acquire(&qp->sq.hdr->prod);
	if (!has_srq)
		qp->rq_prod = ffr_load_acquire(&qp->rq.hdr->prod);
	qp->max_send_wr = rep.max_send_wr;
	qp->max_recv_wr = rep.max_recv_wr;
	qp->max_send_sge = rep.max_send_sge;
	qp->max_recv_sge = rep.max_recv_sge;
	qp->max_inline = rep.max_inline_data;
	qp->sq_sig_all = attr->sq_sig_all;
	pthread_spin_init(&qp->sq_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&qp->rq_lock, PTHREAD_PROCESS_PRIVATE);

	ibqp = &qp->vqp.qp;
	ibqp->context = context;
	ibqp->qp_context = attr->qp_context;
	ibqp->pd = pd;
	ibqp->send_cq = attr->send_cq;
	ibqp->recv_cq = attr->recv_cq;
	ibqp->srq = attr->srq;
	ibqp->handle = rep.qp;
	ibqp->qp_num = rep.qpn;
	ibqp->state = IBV_QPS_RESET;
	ibqp->qp_type = attr->qp_type;
	pthread_mutex_init(&ibqp->mutex, NULL);
	pthread_cond_init(&ibqp->cond, NULL);

	/* Verbs reports the capacities actually granted. */
	attr->cap.max_send_wr = rep.max_send_wr;
	attr->cap.max_recv_wr = rep.max_recv_wr;
	attr->cap.max_send_sge = rep.max_send_sge;
	attr->cap.max_recv_sge = rep.max_recv_sge;
	attr->cap.max_inline_data = rep.max_inline_data;

	pthread_mutex_lock(&ctx->lock);
	ffs_list_add(&ctx->qps, &qp->link);
	pthread_mutex_unlock(&ctx->lock);
	FFS_DBG("qp %u qpn %u sq %u rq %u", rep.qp, rep.qpn, rep.sq_entries,
		rep.rq_entries);
	return ibqp;

err_destroy: {
		struct ffr_destroy_qp_req dreq = { .qp = rep.qp };
		struct ffr_destroy_qp_rep drep;

		if (qp->map)
			munmap(qp->map, qp->map_len);
		free(qp->sq_wrid);
		free(qp->rq_wrid);
		ffs_call(FFR_MSG_DESTROY_QP, &dreq, NULL, 0, &drep, NULL, 0);
	}
err_free:
	free(qp);
	errno = -ret;
	return NULL;
}

FFS_EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd,
					struct ibv_qp_init_attr *qp_init_attr)
{
	struct ibv_qp_init_attr_ex ex;
	struct ibv_qp *qp;

	memset(&ex, 0, sizeof(ex));
	memcpy(&ex, qp_init_attr, sizeof(*qp_init_attr));
	ex.comp_mask = IBV_QP_INIT_ATTR_PD;
	ex.pd = pd;
	qp = create_qp(pd->context, &ex);
	if (qp)
		qp_init_attr->cap = ex.cap;
	return qp;
}

struct ibv_qp *ffs_create_qp_ex(struct ibv_context *context,
				struct ibv_qp_init_attr_ex *attr)
{
	uint32_t known = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS |
			 IBV_QP_INIT_ATTR_CREATE_FLAGS;
	uint64_t ops = 0, allowed;
	struct ibv_qp *ibqp;
	struct ffs_qp *qp;

	if (!(attr->comp_mask & IBV_QP_INIT_ATTR_PD) || !attr->pd) {
		errno = EINVAL;
		return NULL;
	}
	if ((attr->comp_mask & ~known) ||
	    ((attr->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS) &&
	     attr->create_flags)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (attr->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) {
		ops = attr->send_ops_flags;
		allowed = attr->qp_type == IBV_QPT_RC ? FFS_SEND_OPS :
			  attr->qp_type == IBV_QPT_UC ? FFS_UC_SEND_OPS :
							FFS_UD_SEND_OPS;
		if (ops & ~allowed) {
			errno = EOPNOTSUPP;
			return NULL;
		}
	}
	ibqp = create_qp(context, attr);
	if (!ibqp || !(attr->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS))
		return ibqp;
	qp = to_fqp(ibqp);
	qp->send_ops = ops;
	ffs_qp_ex_init(qp);
	qp->vqp.comp_mask |= FFS_VERBS_QP_EX;
	return ibqp;
}

FFS_EXPORT struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *qp)
{
	struct ffs_verbs_qp *vqp = (struct ffs_verbs_qp *)qp;

	return (vqp->comp_mask & FFS_VERBS_QP_EX) ? &vqp->qp_ex : NULL;
}

/* RESET discards every WQE without a completion. Once the router has
 * applied the transition the data plane no longer reads the rings, so the
 * producer drops back to the consumer and nothing stays outstanding. */
static void reset_rings(struct ffs_qp *qp)
{
	pthread_spin_lock(&qp->sq_lock);
	/* Acquire the data plane's last cons; release so a later post on another
	 * thread starts from the rewound prod. */
	qp->sq_prod = ffr_load_acquire(&qp->sq.hdr->cons);
	ffr_store_release(&qp->sq.hdr->prod, qp->sq_prod);
	pthread_spin_unlock(&qp->sq_lock);
	if (qp->vqp.qp.srq)
		return;
	pthread_spin_lock(&qp->rq_lock);
	qp->rq_prod = ffr_load_acquire(&qp->rq.hdr->cons);
	ffr_store_release(&qp->rq.hdr->prod, qp->rq_prod);
	pthread_spin_unlock(&qp->rq_lock);
}

FFS_EXPORT int ibv_modify_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr,
			     int attr_mask)
{
	const struct ibv_ah_attr *ah = &attr->ah_attr;
	struct ffr_modify_qp_req req = {
		.qp = ibqp->handle,
		.attr_mask = (uint32_t)attr_mask,
		.qp_state = attr->qp_state,
		.cur_qp_state = attr->cur_qp_state,
		.path_mtu = attr->path_mtu,
		.qkey = attr->qkey,
		.rq_psn = attr->rq_psn,
		.sq_psn = attr->sq_psn,
		.dest_qp_num = attr->dest_qp_num,
		.qp_access_flags = (uint32_t)attr->qp_access_flags,
		.pkey_index = attr->pkey_index,
		.port_num = attr->port_num,
		.max_rd_atomic = attr->max_rd_atomic,
		.max_dest_rd_atomic = attr->max_dest_rd_atomic,
		.min_rnr_timer = attr->min_rnr_timer,
		.timeout = attr->timeout,
		.retry_cnt = attr->retry_cnt,
		.rnr_retry = attr->rnr_retry,
		.sq_draining = attr->sq_draining,
		.en_sqd_async_notify = attr->en_sqd_async_notify,
		.dlid = ah->dlid,
		.sl = ah->sl,
		.src_path_bits = ah->src_path_bits,
		.static_rate = ah->static_rate,
		.is_global = ah->is_global,
		.flow_label = ah->grh.flow_label,
		.sgid_index = ah->grh.sgid_index,
		.hop_limit = ah->grh.hop_limit,
		.traffic_class = ah->grh.traffic_class,
		.ah_port_num = ah->port_num,
	};
	struct ffr_modify_qp_rep rep;
	int ret;

	/* Alternate paths and rate limits have no wire fields. */
	if (attr_mask & (IBV_QP_ALT_PATH | IBV_QP_RATE_LIMIT))
		return EOPNOTSUPP;
	memcpy(req.dgid, ah->grh.dgid.raw, sizeof(req.dgid));
	ret = ffs_call(FFR_MSG_MODIFY_QP, &req, NULL, 0, &rep, NULL, 0);
	if (ret)
		return -ret;
	if (rep.qp_state <= IBV_QPS_ERR)
		ibqp->state = (enum ibv_qp_state)rep.qp_state;
	if ((attr_mask & IBV_QP_STATE) && attr->qp_state == IBV_QPS_RESET)
		reset_rings(to_fqp(ibqp));
	return 0;
}

FFS_EXPORT int ibv_query_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr,
			    int attr_mask, struct ibv_qp_init_attr *init_attr)
{
	struct ffs_qp *qp = to_fqp(ibqp);
	struct ffr_query_qp_req req = { .qp = ibqp->handle };
	struct ffr_query_qp_rep r;
	int ret;

	(void)attr_mask;	/* everything is filled; the mask is a hint */
	ret = ffs_call(FFR_MSG_QUERY_QP, &req, NULL, 0, &r, NULL, 0);
	if (ret)
		return -ret;
	memset(attr, 0, sizeof(*attr));
	attr->qp_state = (enum ibv_qp_state)r.qp_state;
	attr->cur_qp_state = (enum ibv_qp_state)r.cur_qp_state;
	attr->path_mtu = (enum ibv_mtu)r.path_mtu;
	attr->path_mig_state = IBV_MIG_MIGRATED;
	attr->qkey = r.qkey;
	attr->rq_psn = r.rq_psn;
	attr->sq_psn = r.sq_psn;
	attr->dest_qp_num = r.dest_qp_num;
	attr->qp_access_flags = (unsigned int)r.qp_access_flags;
	attr->cap.max_send_wr = r.max_send_wr;
	attr->cap.max_recv_wr = r.max_recv_wr;
	attr->cap.max_send_sge = r.max_send_sge;
	attr->cap.max_recv_sge = r.max_recv_sge;
	attr->cap.max_inline_data = r.max_inline_data;
	attr->ah_attr.dlid = (uint16_t)r.dlid;
	attr->ah_attr.sl = (uint8_t)r.sl;
	attr->ah_attr.src_path_bits = (uint8_t)r.src_path_bits;
	attr->ah_attr.static_rate = (uint8_t)r.static_rate;
	attr->ah_attr.is_global = (uint8_t)r.is_global;
	memcpy(attr->ah_attr.grh.dgid.raw, r.dgid, sizeof(r.dgid));
	attr->ah_attr.grh.flow_label = r.flow_label;
	attr->ah_attr.grh.sgid_index = (uint8_t)r.sgid_index;
	attr->ah_attr.grh.hop_limit = (uint8_t)r.hop_limit;
	attr->ah_attr.grh.traffic_class = (uint8_t)r.traffic_class;
	attr->ah_attr.port_num = (uint8_t)r.ah_port_num;
	attr->pkey_index = (uint16_t)r.pkey_index;
	attr->en_sqd_async_notify = (uint8_t)r.en_sqd_async_notify;
	attr->sq_draining = (uint8_t)r.sq_draining;
	attr->max_rd_atomic = (uint8_t)r.max_rd_atomic;
	attr->max_dest_rd_atomic = (uint8_t)r.max_dest_rd_atomic;
	attr->min_rnr_timer = (uint8_t)r.min_rnr_timer;
	attr->port_num = (uint8_t)r.port_num;
	attr->timeout = (uint8_t)r.timeout;
	attr->retry_cnt = (uint8_t)r.retry_cnt;
	attr->rnr_retry = (uint8_t)r.rnr_retry;
	if (r.qp_state <= IBV_QPS_ERR)
		ibqp->state = (enum ibv_qp_state)r.qp_state;

	memset(init_attr, 0, sizeof(*init_attr));
	init_attr->qp_context = ibqp->qp_context;
	init_attr->send_cq = ibqp->send_cq;
	init_attr->recv_cq = ibqp->recv_cq;
	init_attr->srq = ibqp->srq;
	init_attr->cap = attr->cap;
	init_attr->qp_type = ibqp->qp_type;
	init_attr->sq_sig_all = qp->sq_sig_all;
	return 0;
}

FFS_EXPORT int ibv_destroy_qp(struct ibv_qp *ibqp)
{
	struct ffs_qp *qp = to_fqp(ibqp);
	struct ffs_context *ctx = to_fctx(ibqp->context);
	struct ffr_destroy_qp_req req = { .qp = ibqp->handle };
	struct ffr_destroy_qp_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_DESTROY_QP, &req, NULL, 0, &rep, NULL, 0);
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	/* ctx->lock also keeps a concurrent shim flush off this QP. */
	pthread_mutex_lock(&ctx->lock);
	ffs_list_del(&qp->link);
	pthread_mutex_unlock(&ctx->lock);
	munmap(qp->map, qp->map_len);
	pthread_spin_destroy(&qp->sq_lock);
	pthread_spin_destroy(&qp->rq_lock);
	pthread_mutex_destroy(&ibqp->mutex);
	pthread_cond_destroy(&ibqp->cond);
	free(qp->sq_wrid);
	free(qp->rq_wrid);
	free(qp);
	return 0;
}
