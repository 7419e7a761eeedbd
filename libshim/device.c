/* The virtual HCA: device list, contexts and the ops they carry, async
 * events. Attributes come from the hello reply (docs/design.md "Device"). */
#define _GNU_SOURCE
#include <endian.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include "ffshim.h"
#include "sys.h"

/* mlx5dv/efadv probes read a provider's struct verbs_device past the end of
 * struct ibv_device; a zeroed trailer makes them answer "not mine". The
 * storage is static so device pointers stay valid across list calls. */
static struct {
	struct ibv_device dev;
	uint8_t trailer[2048];
} ffs_dev;

struct ffs_list ffs_contexts = FFS_LIST_INIT(ffs_contexts);
pthread_mutex_t ffs_contexts_lock = PTHREAD_MUTEX_INITIALIZER;

/* One table, sorted by member name, in the spirit of a provider's
 * struct verbs_context_ops. NULL members make the verbs.h inline wrappers
 * answer EOPNOTSUPP on their own. */
static const struct verbs_context ffs_ops_template = {
	.context.ops = {
		.poll_cq = ffs_poll_cq,
		.post_recv = ffs_post_recv,
		.post_send = ffs_post_send,
		.post_srq_recv = ffs_post_srq_recv,
		.req_notify_cq = ffs_req_notify_cq,
	},
	.create_cq_ex = ffs_create_cq_ex,
	.create_qp_ex = ffs_create_qp_ex,
	.query_device_ex = ffs_query_device_ex,
	.query_port = ffs_query_port_op,
	.sz = sizeof(struct verbs_context),
};

static void fill_device(void)
{
	const struct ffr_hello_rep *h = &ffs_sess.hello;
	struct ibv_device *d = &ffs_dev.dev;

	d->node_type = IBV_NODE_CA;
	d->transport_type = IBV_TRANSPORT_IB;
	snprintf(d->name, sizeof(d->name), "%.*s", (int)sizeof(d->name) - 1,
		 h->dev_name);
	snprintf(d->dev_name, sizeof(d->dev_name), "uverbs0");
	snprintf(d->dev_path, sizeof(d->dev_path),
		 "/sys/class/infiniband_verbs/uverbs0");
	snprintf(d->ibdev_path, sizeof(d->ibdev_path),
		 "/sys/class/infiniband/%.*s", (int)sizeof(d->name) - 1,
		 h->dev_name);
}

FFS_EXPORT struct ibv_device **ibv_get_device_list(int *num_devices)
{
	struct ibv_device **list = calloc(2, sizeof(*list));
	int ret;

	if (!list) {
		errno = ENOMEM;
		return NULL;
	}
	ret = ffs_session_get();
	if (ret) {
		/* An empty list, like a host without HCAs; errno says why. */
		if (num_devices)
			*num_devices = 0;
		errno = -ret;
		return list;
	}
	fill_device();
	list[0] = &ffs_dev.dev;
	if (num_devices)
		*num_devices = 1;
	return list;
}

FFS_EXPORT void ibv_free_device_list(struct ibv_device **list)
{
	free(list);
}

FFS_EXPORT const char *ibv_get_device_name(struct ibv_device *device)
{
	return device->name;
}

FFS_EXPORT __be64 ibv_get_device_guid(struct ibv_device *device)
{
	if (device != &ffs_dev.dev)
		return 0;
	return htobe64(ffs_sess.hello.node_guid);
}

FFS_EXPORT int ibv_get_device_index(struct ibv_device *device)
{
	return device == &ffs_dev.dev ? 0 : -1;
}

FFS_EXPORT struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	struct ffs_context *ctx;
	struct ibv_context *ibctx;
	int ret;

	if (device != &ffs_dev.dev) {
		errno = ENODEV;
		return NULL;
	}
	ret = ffs_session_get();
	if (ret) {
		errno = -ret;
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	ctx->vctx = ffs_ops_template;
	ibctx = &ctx->vctx.context;
	ibctx->device = device;
	ibctx->cmd_fd = -1;
	ibctx->num_comp_vectors = 1;
	ibctx->abi_compat = __VERBS_ABI_IS_EXTENDED;
	/* A real, pollable fd: apps poll it, and it turns readable when the
	 * router goes away (IBV_EVENT_DEVICE_FATAL). */
	ibctx->async_fd = eventfd(0, EFD_CLOEXEC);
	if (ibctx->async_fd < 0)
		goto err_free;
	pthread_mutex_init(&ibctx->mutex, NULL);
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->pid = getpid();
	ffs_list_init(&ctx->qps);
	ffs_list_init(&ctx->cqs);
	ffs_list_init(&ctx->channels);
	pthread_mutex_lock(&ffs_contexts_lock);
	ffs_list_add(&ffs_contexts, &ctx->link);
	pthread_mutex_unlock(&ffs_contexts_lock);
	FFS_DBG("open_device %s", device->name);
	return ibctx;

err_free:
	ret = errno;
	free(ctx);
	errno = ret;
	return NULL;
}

FFS_EXPORT int ibv_close_device(struct ibv_context *context)
{
	struct ffs_context *ctx = to_fctx(context);

	pthread_mutex_lock(&ffs_contexts_lock);
	ffs_list_del(&ctx->link);
	pthread_mutex_unlock(&ffs_contexts_lock);
	ffs_sys_close(context->async_fd);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&context->mutex);
	free(ctx);
	return 0;
}

/* ------------------------------------------------------------ attributes */

static enum ibv_mtu hello_mtu(void)
{
	uint32_t m = ffs_sess.hello.active_mtu;

	/* Accept either the ibv_mtu enum or a byte count. */
	if (m >= IBV_MTU_256 && m <= IBV_MTU_4096)
		return (enum ibv_mtu)m;
	switch (m) {
	case 256: return IBV_MTU_256;
	case 512: return IBV_MTU_512;
	case 1024: return IBV_MTU_1024;
	case 2048: return IBV_MTU_2048;
	default: return IBV_MTU_4096;
	}
}

static void fill_device_attr(struct ibv_device_attr *a)
{
	const struct ffr_hello_rep *h = &ffs_sess.hello;

	memset(a, 0, sizeof(*a));
	snprintf(a->fw_ver, sizeof(a->fw_ver), "%.*s", (int)sizeof(a->fw_ver) - 1,
		 h->fw_ver);
	a->node_guid = htobe64(h->node_guid);
	a->sys_image_guid = htobe64(h->sys_image_guid);
	a->max_mr_size = h->max_mr_size;
	a->page_size_cap = 0xfffff000u;	/* any power of two >= 4 KiB */
	a->vendor_id = h->vendor_id;
	a->vendor_part_id = h->vendor_part_id;
	a->hw_ver = h->hw_ver;
	a->max_qp = (int)h->max_qp;
	a->max_qp_wr = (int)h->max_qp_wr;
	a->device_cap_flags = IBV_DEVICE_SYS_IMAGE_GUID |
			      IBV_DEVICE_RC_RNR_NAK_GEN |
			      IBV_DEVICE_PORT_ACTIVE_EVENT;
	a->max_sge = (int)h->max_sge;
	a->max_sge_rd = (int)h->max_sge;
	a->max_cq = (int)h->max_cq;
	a->max_cqe = (int)h->max_cqe;
	a->max_mr = (int)h->max_mr;
	a->max_pd = (int)h->max_pd;
	a->max_qp_rd_atom = (int)h->max_qp_rd_atom;
	a->max_qp_init_rd_atom = (int)h->max_qp_rd_atom;
	a->max_res_rd_atom = (int)(h->max_qp_rd_atom * h->max_qp);
	a->atomic_cap = IBV_ATOMIC_HCA;
	a->max_ah = (int)h->max_ah;
	a->max_srq = (int)h->max_srq;
	a->max_srq_wr = (int)h->max_srq_wr;
	a->max_srq_sge = (int)h->max_srq_sge;
	a->max_pkeys = 1;
	a->local_ca_ack_delay = 15;
	a->phys_port_cnt = 1;
}

FFS_EXPORT int ibv_query_device(struct ibv_context *context,
				struct ibv_device_attr *device_attr)
{
	(void)context;
	fill_device_attr(device_attr);
	return 0;
}

int ffs_query_device_ex(struct ibv_context *ctx,
			const struct ibv_query_device_ex_input *input,
			struct ibv_device_attr_ex *attr, size_t attr_size)
{
	struct ibv_device_attr_ex full;

	(void)ctx;
	if (input && input->comp_mask)
		return EINVAL;
	if (attr_size < sizeof(attr->orig_attr))
		return EINVAL;
	memset(&full, 0, sizeof(full));
	fill_device_attr(&full.orig_attr);
	full.device_cap_flags_ex = full.orig_attr.device_cap_flags;
	full.max_dm_size = 0;
	full.phys_port_cnt_ex = full.orig_attr.phys_port_cnt;
	/* An older caller gets its prefix, a newer one zeros past ours. */
	memset(attr, 0, attr_size);
	memcpy(attr, &full, attr_size < sizeof(full) ? attr_size : sizeof(full));
	return 0;
}

static void fill_port_attr(struct ibv_port_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->state = IBV_PORT_ACTIVE;
	a->max_mtu = IBV_MTU_4096;
	a->active_mtu = hello_mtu();
	a->gid_tbl_len = 1;
	a->port_cap_flags = IBV_PORT_CM_SUP;
	a->max_msg_sz = 1u << 31;
	a->pkey_tbl_len = 1;
	a->lid = (uint16_t)ffs_sess.hello.lid;
	a->sm_lid = 1;
	a->max_vl_num = 1;
	a->subnet_timeout = 18;
	a->active_width = 2;		/* 4X */
	a->active_speed = 32;		/* EDR */
	a->phys_state = 5;		/* LinkUp */
	a->link_layer = IBV_LINK_LAYER_INFINIBAND;
}

int ffs_query_port_op(struct ibv_context *ctx, uint8_t port,
		      struct ibv_port_attr *attr, size_t attr_len)
{
	struct ibv_port_attr full;

	(void)ctx;
	if (port != 1)
		return EINVAL;
	fill_port_attr(&full);
	memset(attr, 0, attr_len);
	memcpy(attr, &full, attr_len < sizeof(full) ? attr_len : sizeof(full));
	return 0;
}

#undef ibv_query_port
/* The exported symbol serves binaries built before the query_port op
 * existed: it fills only the layout they knew, which ends before
 * port_cap_flags2 (48 bytes with padding). */
FFS_EXPORT int ibv_query_port(struct ibv_context *context, uint8_t port_num,
			      struct _compat_ibv_port_attr *port_attr)
{
	return ffs_query_port_op(context, port_num,
				 (struct ibv_port_attr *)port_attr,
				 offsetof(struct ibv_port_attr, port_cap_flags2));
}

FFS_EXPORT int ibv_query_gid(struct ibv_context *context, uint8_t port_num,
			     int index, union ibv_gid *gid)
{
	(void)context;
	if (port_num != 1 || index != 0) {
		errno = EINVAL;
		return -1;
	}
	memcpy(gid->raw, ffs_sess.hello.gid, sizeof(gid->raw));
	return 0;
}

FFS_EXPORT int _ibv_query_gid_ex(struct ibv_context *context,
				 uint32_t port_num, uint32_t gid_index,
				 struct ibv_gid_entry *entry, uint32_t flags,
				 size_t entry_size)
{
	(void)context;
	if (flags || port_num != 1 || entry_size < sizeof(*entry))
		return EINVAL;
	if (gid_index != 0)
		return ENODATA;
	memset(entry, 0, entry_size);
	memcpy(entry->gid.raw, ffs_sess.hello.gid, sizeof(entry->gid.raw));
	entry->gid_index = 0;
	entry->port_num = 1;
	entry->gid_type = IBV_GID_TYPE_IB;
	return 0;
}

FFS_EXPORT ssize_t _ibv_query_gid_table(struct ibv_context *context,
					struct ibv_gid_entry *entries,
					size_t max_entries, uint32_t flags,
					size_t entry_size)
{
	int ret;

	if (flags || entry_size < sizeof(*entries))
		return -EINVAL;
	if (max_entries < 1)
		return -EINVAL;
	ret = _ibv_query_gid_ex(context, 1, 0, entries, 0, entry_size);
	return ret ? -ret : 1;
}

/* rdma-core's private enum ibv_gid_type_sysfs (driver.h). */
enum ffs_gid_type_sysfs { FFS_GID_TYPE_SYSFS_IB_ROCE_V1 = 0 };

FFS_EXPORT int ibv_query_gid_type(struct ibv_context *context,
				  uint8_t port_num, unsigned int index,
				  enum ffs_gid_type_sysfs *type)
{
	(void)context;
	if (port_num != 1 || index != 0) {
		errno = EINVAL;
		return -1;
	}
	*type = FFS_GID_TYPE_SYSFS_IB_ROCE_V1;
	return 0;
}

FFS_EXPORT int ibv_query_pkey(struct ibv_context *context, uint8_t port_num,
			      int index, __be16 *pkey)
{
	(void)context;
	if (port_num != 1 || index != 0) {
		errno = EINVAL;
		return -1;
	}
	*pkey = htobe16(0xffff);
	return 0;
}

FFS_EXPORT int ibv_get_pkey_index(struct ibv_context *context,
				  uint8_t port_num, __be16 pkey)
{
	(void)context;
	if (port_num != 1 || be16toh(pkey) != 0xffff) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- async events */

FFS_EXPORT int ibv_get_async_event(struct ibv_context *context,
				   struct ibv_async_event *event)
{
	struct ffs_context *ctx = to_fctx(context);
	int nonblock = ffs_sys_fcntl_getfl(context->async_fd) & O_NONBLOCK;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = context->async_fd, .events = POLLIN },
			{ .fd = ffs_sess.fd, .events = POLLIN },
		};
		uint64_t v;

		if (ffs_session_probe() ||
		    __atomic_load_n(&ctx->dead, __ATOMIC_ACQUIRE)) {
			if (__atomic_exchange_n(&ctx->fatal_reported, 1,
						__ATOMIC_ACQ_REL)) {
				errno = EIO;
				return -1;
			}
			/* Drain the wake-up so a poll loop does not spin. */
			if (ffs_sys_read(context->async_fd, &v, sizeof(v)) < 0) {
				/* already drained by an earlier read */
			}
			memset(event, 0, sizeof(*event));
			event->event_type = IBV_EVENT_DEVICE_FATAL;
			event->element.port_num = 1;
			return 0;
		}
		if (nonblock) {
			errno = EAGAIN;
			return -1;
		}
		/* No other event exists yet: wait for death of the router. */
		if (ffs_sys_poll(p, p[1].fd >= 0 ? 2 : 1, 1000) < 0 &&
		    errno != EINTR)
			return -1;
	}
}

FFS_EXPORT void ibv_ack_async_event(struct ibv_async_event *event)
{
	/* Only DEVICE_FATAL is ever reported and no object waits for it. */
	(void)event;
}

FFS_EXPORT int ibv_fork_init(void)
{
	/* Registered pages are MAP_SHARED memfd mappings, not pinned
	 * anonymous memory: fork needs no preparation (docs/design.md
	 * Known limits: parent and child share them). */
	return 0;
}

FFS_EXPORT enum ibv_fork_status ibv_is_fork_initialized(void)
{
	return IBV_FORK_UNNEEDED;
}

FFS_EXPORT int ibv_dontfork_range(void *base, size_t size)
{
	(void)base;
	(void)size;
	return 0;
}

FFS_EXPORT int ibv_dofork_range(void *base, size_t size)
{
	(void)base;
	(void)size;
	return 0;
}
