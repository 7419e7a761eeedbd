/* Memory registration verbs; the memory itself is shared by region.c. */
#define _GNU_SOURCE
#include "ffshim.h"

static struct ibv_mr *reg_mr(struct ibv_pd *pd, void *addr, size_t length,
			     uint64_t iova, unsigned int access)
{
	struct ffr_reg_mr_req req = {
		.pd = pd->handle,
		.addr = (uintptr_t)addr,
		.length = length,
		.iova = iova,
		.access = access,
	};
	struct ffr_reg_mr_rep rep;
	struct ffs_region *r = NULL;
	struct ffs_mr *mr;
	int ret;

	if (!addr || !length ||
	    ((access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC)) &&
	     !(access & IBV_ACCESS_LOCAL_WRITE))) {
		errno = EINVAL;
		return NULL;
	}
	if (access & (IBV_ACCESS_ON_DEMAND | IBV_ACCESS_ZERO_BASED)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (length > ffs_sess.hello.max_mr_size) {
		errno = EINVAL;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_region_get((uintptr_t)addr, length, &r);
	if (ret)
		goto err_free;
	req.fd_offset = ffs_region_fd_offset(r, (uintptr_t)addr);
	req.fd_size = ffs_region_fd_size(r);
	/* The router gets its own copy of the fd; ours stays for reuse. */
	ret = ffs_call(FFR_MSG_REG_MR, &req, ffs_region_fd(r), 1, &rep, NULL, 0);
	if (ret)
		goto err_put;
	mr->region = r;
	mr->ibmr.context = pd->context;
	mr->ibmr.pd = pd;
	mr->ibmr.addr = addr;
	mr->ibmr.length = length;
	mr->ibmr.handle = rep.mr;
	mr->ibmr.lkey = rep.lkey;
	mr->ibmr.rkey = rep.rkey;
	return &mr->ibmr;

err_put:
	ffs_region_put(r);
err_free:
	free(mr);
	errno = -ret;
	return NULL;
}

#undef ibv_reg_mr
#undef ibv_reg_mr_iova

FFS_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr,
				     size_t length, int access)
{
	return reg_mr(pd, addr, length, (uintptr_t)addr, (unsigned int)access);
}

FFS_EXPORT struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr,
					  size_t length, uint64_t iova,
					  int access)
{
	return reg_mr(pd, addr, length, iova, (unsigned int)access);
}

FFS_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
					   size_t length, uint64_t iova,
					   unsigned int access)
{
	return reg_mr(pd, addr, length, iova, access);
}

FFS_EXPORT int ibv_dereg_mr(struct ibv_mr *ibmr)
{
	struct ffs_mr *mr = to_fmr(ibmr);
	struct ffr_dereg_mr_req req = { .mr = ibmr->handle };
	struct ffr_dereg_mr_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_DEREG_MR, &req, NULL, 0, &rep, NULL, 0);
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	ffs_region_put(mr->region);
	free(mr);
	return 0;
}

FFS_EXPORT int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd,
			    void *addr, size_t length, int access)
{
	(void)mr, (void)flags, (void)pd, (void)addr, (void)length, (void)access;
	/* IBV_REREG_MR_ERR_INPUT: the old MR is untouched and still valid. */
	errno = EOPNOTSUPP;
	return IBV_REREG_MR_ERR_INPUT;
}

FFS_EXPORT struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
					    size_t length, uint64_t iova,
					    int fd, int access)
{
	(void)pd, (void)offset, (void)length, (void)iova, (void)fd, (void)access;
	errno = EOPNOTSUPP;
	return NULL;
}
