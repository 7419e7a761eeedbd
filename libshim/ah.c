/* Address handles for UD: validated here, resolved by the router. */
#define _GNU_SOURCE
#include <endian.h>
#include <string.h>
#include "ffshim.h"

FFS_EXPORT struct ibv_ah *ibv_create_ah(struct ibv_pd *pd,
					struct ibv_ah_attr *attr)
{
	struct ffr_create_ah_req req = {
		.pd = pd->handle,
		.dlid = attr->dlid,
		.sl = attr->sl,
		.src_path_bits = attr->src_path_bits,
		.static_rate = attr->static_rate,
		.is_global = attr->is_global,
		.flow_label = attr->grh.flow_label,
		.sgid_index = attr->grh.sgid_index,
		.hop_limit = attr->grh.hop_limit,
		.traffic_class = attr->grh.traffic_class,
		.ah_port_num = attr->port_num,
	};
	struct ffr_create_ah_rep rep;
	struct ffs_ah *ah;
	int ret;

	if (attr->port_num != 1 || (!attr->dlid && !attr->is_global) ||
	    (attr->is_global && attr->grh.sgid_index != 0)) {
		errno = EINVAL;
		return NULL;
	}
	memcpy(req.dgid, attr->grh.dgid.raw, sizeof(req.dgid));
	ah = calloc(1, sizeof(*ah));
	if (!ah) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_call(FFR_MSG_CREATE_AH, &req, NULL, 0, &rep, NULL, 0);
	if (ret) {
		free(ah);
		errno = -ret;
		return NULL;
	}
	ah->ibah.context = pd->context;
	ah->ibah.pd = pd;
	ah->ibah.handle = rep.ah;
	return &ah->ibah;
}

FFS_EXPORT int ibv_destroy_ah(struct ibv_ah *ibah)
{
	struct ffr_destroy_ah_req req = { .ah = ibah->handle };
	struct ffr_destroy_ah_rep rep;
	int ret;

	ret = ffs_call(FFR_MSG_DESTROY_AH, &req, NULL, 0, &rep, NULL, 0);
	if (ret && !(ret == -EIO && ffs_router_gone()))
		return -ret;
	free(to_fah(ibah));
	return 0;
}

FFS_EXPORT int ibv_init_ah_from_wc(struct ibv_context *context,
				   uint8_t port_num, struct ibv_wc *wc,
				   struct ibv_grh *grh,
				   struct ibv_ah_attr *ah_attr)
{
	(void)context;
	if (port_num != 1) {
		errno = EINVAL;
		return -1;
	}
	memset(ah_attr, 0, sizeof(*ah_attr));
	ah_attr->dlid = wc->slid;
	ah_attr->sl = wc->sl;
	ah_attr->src_path_bits = wc->dlid_path_bits;
	ah_attr->port_num = port_num;
	if (wc->wc_flags & IBV_WC_GRH) {
		uint32_t flow = be32toh(grh->version_tclass_flow);

		ah_attr->is_global = 1;
		/* Reply to the sender: its GID is the GRH source. Our table
		 * has one entry, so the local (destination) GID is index 0. */
		ah_attr->grh.dgid = grh->sgid;
		ah_attr->grh.sgid_index = 0;
		ah_attr->grh.flow_label = flow & 0xfffff;
		ah_attr->grh.traffic_class = (uint8_t)((flow >> 20) & 0xff);
		ah_attr->grh.hop_limit = 0xff;
	}
	return 0;
}

FFS_EXPORT struct ibv_ah *ibv_create_ah_from_wc(struct ibv_pd *pd,
						struct ibv_wc *wc,
						struct ibv_grh *grh,
						uint8_t port_num)
{
	struct ibv_ah_attr attr;

	if (ibv_init_ah_from_wc(pd->context, port_num, wc, grh, &attr))
		return NULL;
	return ibv_create_ah(pd, &attr);
}
