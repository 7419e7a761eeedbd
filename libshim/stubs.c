/* Context-bound libibverbs exports the virtual HCA does not offer. Each
 * must still be the shim's: the real library's version would reach for
 * provider state our objects do not have and crash. */
#define _GNU_SOURCE
#include "ffshim.h"

FFS_EXPORT int ibv_attach_mcast(struct ibv_qp *qp, const union ibv_gid *gid,
				uint16_t lid)
{
	(void)qp, (void)gid, (void)lid;
	return EOPNOTSUPP;
}

FFS_EXPORT int ibv_detach_mcast(struct ibv_qp *qp, const union ibv_gid *gid,
				uint16_t lid)
{
	(void)qp, (void)gid, (void)lid;
	return EOPNOTSUPP;
}

FFS_EXPORT struct ibv_context *ibv_import_device(int cmd_fd)
{
	(void)cmd_fd;
	errno = EOPNOTSUPP;
	return NULL;
}

FFS_EXPORT struct ibv_pd *ibv_import_pd(struct ibv_context *context,
					uint32_t pd_handle)
{
	(void)context, (void)pd_handle;
	errno = EOPNOTSUPP;
	return NULL;
}

FFS_EXPORT void ibv_unimport_pd(struct ibv_pd *pd)
{
	(void)pd;	/* nothing can have been imported */
}

FFS_EXPORT struct ibv_mr *ibv_import_mr(struct ibv_pd *pd, uint32_t mr_handle)
{
	(void)pd, (void)mr_handle;
	errno = EOPNOTSUPP;
	return NULL;
}

FFS_EXPORT void ibv_unimport_mr(struct ibv_mr *mr)
{
	(void)mr;
}

FFS_EXPORT struct ibv_dm *ibv_import_dm(struct ibv_context *context,
					uint32_t dm_handle)
{
	(void)context, (void)dm_handle;
	errno = EOPNOTSUPP;
	return NULL;
}

FFS_EXPORT void ibv_unimport_dm(struct ibv_dm *dm)
{
	(void)dm;
}

FFS_EXPORT int ibv_query_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	(void)qp, (void)ece;
	return EOPNOTSUPP;
}

FFS_EXPORT int ibv_set_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	(void)qp, (void)ece;
	return EOPNOTSUPP;
}

FFS_EXPORT int ibv_query_qp_data_in_order(struct ibv_qp *qp,
					  enum ibv_wr_opcode op, uint32_t flags)
{
	/* 0 = "no guarantee", always a truthful answer. */
	(void)qp, (void)op, (void)flags;
	return 0;
}

FFS_EXPORT int ibv_resolve_eth_l2_from_gid(struct ibv_context *context,
					   struct ibv_ah_attr *attr,
					   uint8_t eth_mac[ETHERNET_LL_SIZE],
					   uint16_t *vid)
{
	/* The link layer is InfiniBand: there is no Ethernet L2 address. */
	(void)context, (void)attr, (void)eth_mac, (void)vid;
	return EOPNOTSUPP;
}
