/* Protection domains: a router handle and nothing else. */
#define _GNU_SOURCE
#include "ffshim.h"

FFS_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	struct ffr_alloc_pd_req req = { 0 };
	struct ffr_alloc_pd_rep rep;
	struct ffs_pd *pd;
	int ret;

	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_call(FFR_MSG_ALLOC_PD, &req, NULL, 0, &rep, NULL, 0);
	if (ret) {
		free(pd);
		errno = -ret;
		return NULL;
	}
	pd->ibpd.context = context;
	pd->ibpd.handle = rep.pd;
	return &pd->ibpd;
}

FFS_EXPORT int ibv_dealloc_pd(struct ibv_pd *ibpd)
{
	struct ffr_dealloc_pd_req req = { .pd = ibpd->handle };
	struct ffr_dealloc_pd_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_DEALLOC_PD, &req, NULL, 0, &rep, NULL, 0);
	/* With the router gone its tables are gone too: let the app clean up. */
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	free(to_fpd(ibpd));
	return 0;
}
