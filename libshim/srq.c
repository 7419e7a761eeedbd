/* Shared receive queues: a receive ring many QPs of the same PD draw from. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "ffshim.h"
#include "sys.h"

FFS_EXPORT struct ibv_srq *ibv_create_srq(struct ibv_pd *pd,
					  struct ibv_srq_init_attr *init_attr)
{
	const struct ffr_hello_rep *h = &ffs_sess.hello;
	struct ibv_srq_attr *a = &init_attr->attr;
	struct ffr_create_srq_req req = {
		.pd = pd->handle,
		.max_wr = a->max_wr,
		.max_sge = a->max_sge,
		.srq_limit = a->srq_limit,
	};
	struct ffr_create_srq_rep rep;
	struct ffs_srq *srq;
	int ret, fd = -1;

	if (!a->max_wr || a->max_wr > h->max_srq_wr ||
	    a->max_sge > h->max_srq_sge || a->max_sge > FFR_MAX_SGE ||
	    a->srq_limit > a->max_wr) {
		errno = EINVAL;
		return NULL;
	}
	srq = calloc(1, sizeof(*srq));
	if (!srq) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_call(FFR_MSG_CREATE_SRQ, &req, NULL, 0, &rep, &fd, 1);
	if (ret)
		goto err_free;
	srq->map_len = rep.ring_bytes;
	srq->map = mmap(NULL, srq->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			fd, 0);
	ffs_sys_close(fd);
	if (srq->map == MAP_FAILED) {
		ret = -errno;
		goto err_destroy;
	}
	ret = ffs_ring_init(&srq->ring, srq->map, srq->map_len, 0, rep.entries,
			    rep.stride, (uint32_t)(sizeof(struct ffr_rwqe) +
				     rep.max_sge * sizeof(struct ffr_sge)));
	if (!ret && (rep.entries < rep.max_wr || rep.max_wr < a->max_wr ||
		     rep.max_sge < a->max_sge))
		ret = -EPROTO;
	if (ret)
		goto err_unmap;
	/* Start where the ring is: the router may hand out reused memory. */
	srq->prod = ffr_load_acquire(&srq->ring.hdr->prod);
	srq->max_wr = rep.max_wr;
	srq->max_sge = rep.max_sge;
	srq->srqn = rep.srqn;
	pthread_spin_init(&srq->lock, PTHREAD_PROCESS_PRIVATE);
	srq->ibsrq.context = pd->context;
	srq->ibsrq.srq_context = init_attr->srq_context;
	srq->ibsrq.pd = pd;
	srq->ibsrq.handle = rep.srq;
	pthread_mutex_init(&srq->ibsrq.mutex, NULL);
	pthread_cond_init(&srq->ibsrq.cond, NULL);
	a->max_wr = rep.max_wr;
	a->max_sge = rep.max_sge;
	return &srq->ibsrq;

err_unmap:
	munmap(srq->map, srq->map_len);
err_destroy: {
		struct ffr_destroy_srq_req dreq = { .srq = rep.srq };
		struct ffr_destroy_srq_rep drep;

		ffs_call(FFR_MSG_DESTROY_SRQ, &dreq, NULL, 0, &drep, NULL, 0);
	}
err_free:
	free(srq);
	errno = -ret;
	return NULL;
}

FFS_EXPORT int ibv_modify_srq(struct ibv_srq *ibsrq, struct ibv_srq_attr *attr,
			      int attr_mask)
{
	struct ffr_modify_srq_req req = {
		.srq = ibsrq->handle,
		.attr_mask = (uint32_t)attr_mask,
		.max_wr = attr->max_wr,
		.srq_limit = attr->srq_limit,
	};
	struct ffr_modify_srq_rep rep;

	/* Resizing would mean a new ring under a live SRQ. */
	if (attr_mask & IBV_SRQ_MAX_WR)
		return EOPNOTSUPP;
	if (attr_mask & ~IBV_SRQ_LIMIT)
		return EINVAL;
	return -ffs_call(FFR_MSG_MODIFY_SRQ, &req, NULL, 0, &rep, NULL, 0);
}

FFS_EXPORT int ibv_query_srq(struct ibv_srq *ibsrq, struct ibv_srq_attr *attr)
{
	struct ffr_query_srq_req req = { .srq = ibsrq->handle };
	struct ffr_query_srq_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_QUERY_SRQ, &req, NULL, 0, &rep, NULL, 0);
	if (ret)
		return -ret;
	attr->max_wr = rep.max_wr;
	attr->max_sge = rep.max_sge;
	attr->srq_limit = rep.srq_limit;
	return 0;
}

FFS_EXPORT int ibv_destroy_srq(struct ibv_srq *ibsrq)
{
	struct ffs_srq *srq = to_fsrq(ibsrq);
	struct ffr_destroy_srq_req req = { .srq = ibsrq->handle };
	struct ffr_destroy_srq_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_DESTROY_SRQ, &req, NULL, 0, &rep, NULL, 0);
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	munmap(srq->map, srq->map_len);
	pthread_spin_destroy(&srq->lock);
	pthread_mutex_destroy(&ibsrq->mutex);
	pthread_cond_destroy(&ibsrq->cond);
	free(srq);
	return 0;
}
