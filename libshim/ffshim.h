/* Internal declarations of libffshim: the wrapper objects around the
 * libibverbs structures, the session with the router, and the ops that
 * device.c installs in every context. */
#ifndef FFSHIM_H
#define FFSHIM_H

#include <errno.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "ffproto.h"
#include "list.h"
#include "ring.h"

#define FFS_EXPORT __attribute__((visibility("default")))

/* ---------------------------------------------------------------- session */

struct ffs_session {
	pthread_mutex_t lock;		/* one request in flight per process */
	pid_t pid;			/* owner; a child re-connects */
	int fd;				/* control socket, -1 when closed */
	int doorbell;			/* data plane eventfd */
	struct ffr_session_page *page;
	uint32_t seq;
	int up;				/* hello answered FFR_OK */
	int dead;			/* control socket reached EOF (atomic) */
	struct ffr_hello_rep hello;
};

extern struct ffs_session ffs_sess;
extern int ffs_debug_on;

void ffs_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FFS_DBG(...) do { if (ffs_debug_on) ffs_dbg(__VA_ARGS__); } while (0)

/* Connects and says hello if this process has no session yet. -errno. */
int ffs_session_get(void);
/* One request/reply round trip; fds are sent with the request, up to
 * nrfds fds of the reply land in rfds (rest closed). -errno, or the
 * router's status converted to -errno. */
int ffs_call(uint32_t type, const void *req, const int *fds, unsigned nfds,
	     void *rep, int *rfds, unsigned nrfds);
/* Zero-timeout check of the control socket; true once the router is gone. */
bool ffs_session_probe(void);
int ffs_wire_errno(uint32_t status);

/* Router stopping or gone: posts fail with EIO. Cheap, for the fast path. */
static inline bool ffs_router_gone(void)
{
	struct ffr_session_page *p = ffs_sess.page;

	if (__atomic_load_n(&ffs_sess.dead, __ATOMIC_RELAXED))
		return true;
	return p && ffr_load_acquire(&p->router_state) != FFR_ROUTER_UP;
}

void ffs_eventfd_signal_doorbell(void);

/* Doorbell rule of docs/design.md: called after store_release(prod). */
static inline void ffs_doorbell(void)
{
	/* Dekker pair with the data plane's "need_wakeup = 1; fence; rescan":
	 * either it sees our prod on its rescan or we see need_wakeup here. */
	ffr_fence_seq_cst();
	if (ffs_sess.page && ffr_load_relaxed(&ffs_sess.page->need_wakeup))
		ffs_eventfd_signal_doorbell();
}

/* ---------------------------------------------------------------- objects */

struct ffs_context {
	struct verbs_context vctx;	/* ibv_context is its last member */
	pthread_mutex_t lock;		/* qps, cqs, channels lists */
	struct ffs_list qps;
	struct ffs_list cqs;
	struct ffs_list channels;
	struct ffs_list link;		/* ffs_contexts */
	pid_t pid;			/* opener; a fork child does not own it */
	int dead;			/* router gone and WRs flushed (atomic) */
	int fatal_reported;
};

struct ffs_pd {
	struct ibv_pd ibpd;		/* handle = router handle */
};

struct ffs_region;

struct ffs_mr {
	struct ibv_mr ibmr;		/* handle = router handle */
	struct ffs_region *region;
};

struct ffs_channel {
	struct ibv_comp_channel ibch;	/* fd = our end of a socketpair: wake-ups in */
	int wake;			/* the other end (the router has a copy): wake-ups out */
	uint32_t handle;
	struct ffs_list cqs;		/* under lock */
	pthread_mutex_t lock;
	struct ffs_list link;		/* ctx->channels */
};

struct ffs_cq {
	struct ibv_cq_ex ibcq;		/* begins with struct ibv_cq */
	void *map;
	size_t map_len;
	struct ffs_ring ring;
	pthread_spinlock_t lock;	/* consumer side */
	uint32_t cons;			/* shadow of ring cons */
	uint32_t published;		/* last cons stored to the ring */
	uint32_t empty_polls;
	uint32_t events_taken;		/* ring events counter consumed */
	uint32_t events_delivered;	/* events returned by ibv_get_cq_event */
	uint32_t event_prod;		/* ring prod when the last event was taken */
	uint64_t wc_flags;
	struct ffr_cqe cur;		/* current entry of the ibv_cq_ex API */
	/* Completions the shim makes itself once the router is gone. */
	pthread_mutex_t flush_lock;
	struct ffr_cqe *flush;
	uint32_t flush_head, flush_len, flush_cap;
	uint32_t nflush;		/* flush_len - flush_head (atomic hint) */
	struct ffs_list ch_link;	/* channel->cqs */
	struct ffs_list link;		/* ctx->cqs */
};

/* rdma-core's struct verbs_qp (driver.h, not installed): ibv_qp_to_qp_ex
 * and code written against providers rely on this layout. */
enum { FFS_VERBS_QP_XRCD = 1 << 0, FFS_VERBS_QP_EX = 1 << 1 };
struct ffs_verbs_qp {
	union {
		struct ibv_qp qp;
		struct ibv_qp_ex qp_ex;
	};
	uint32_t comp_mask;
	void *xrcd;
};

struct ffs_qp {
	struct ffs_verbs_qp vqp;	/* qp.handle = router handle */
	void *map;
	size_t map_len;
	struct ffs_ring sq, rq;
	pthread_spinlock_t sq_lock, rq_lock;
	uint32_t sq_prod, rq_prod;	/* shadows of ring prod */
	uint64_t *sq_wrid, *rq_wrid;	/* wr_id per slot, for shim flushes */
	uint32_t max_send_wr, max_recv_wr;
	uint32_t max_send_sge, max_recv_sge, max_inline;
	int sq_sig_all;
	uint64_t send_ops;		/* ibv_qp_ex send_ops_flags */
	/* ibv_qp_ex wr_* batch between wr_start and wr_complete */
	uint32_t wr_next;
	int wr_err;
	struct ffr_swqe *wr_cur;
	struct ffs_list link;		/* ctx->qps */
};

struct ffs_srq {
	struct ibv_srq ibsrq;		/* handle = router handle */
	void *map;
	size_t map_len;
	struct ffs_ring ring;
	pthread_spinlock_t lock;
	uint32_t prod;
	uint32_t max_wr, max_sge, srqn;
};

struct ffs_ah {
	struct ibv_ah ibah;		/* handle = router handle */
};

static inline struct ffs_context *to_fctx(struct ibv_context *c)
{
	return ffs_container_of(c, struct ffs_context, vctx.context);
}
static inline struct ffs_pd *to_fpd(struct ibv_pd *p)
{
	return ffs_container_of(p, struct ffs_pd, ibpd);
}
static inline struct ffs_mr *to_fmr(struct ibv_mr *m)
{
	return ffs_container_of(m, struct ffs_mr, ibmr);
}
static inline struct ffs_channel *to_fch(struct ibv_comp_channel *c)
{
	return ffs_container_of(c, struct ffs_channel, ibch);
}
static inline struct ffs_cq *to_fcq(struct ibv_cq *c)
{
	return ffs_container_of((struct ibv_cq_ex *)c, struct ffs_cq, ibcq);
}
static inline struct ffs_cq *to_fcq_ex(struct ibv_cq_ex *c)
{
	return ffs_container_of(c, struct ffs_cq, ibcq);
}
static inline struct ffs_qp *to_fqp(struct ibv_qp *q)
{
	return ffs_container_of(q, struct ffs_qp, vqp.qp);
}
static inline struct ffs_qp *to_fqp_ex(struct ibv_qp_ex *q)
{
	return ffs_container_of(q, struct ffs_qp, vqp.qp_ex);
}
static inline struct ffs_srq *to_fsrq(struct ibv_srq *s)
{
	return ffs_container_of(s, struct ffs_srq, ibsrq);
}
static inline struct ffs_ah *to_fah(struct ibv_ah *a)
{
	return ffs_container_of(a, struct ffs_ah, ibah);
}

/* ----------------------------------------------------------- cross-file ops
 * Installed by device.c's ops template; defined where their object lives.
 * Hidden (-fvisibility=hidden), so they are not part of the ABI. */
int ffs_query_device_ex(struct ibv_context *ctx,
			const struct ibv_query_device_ex_input *input,
			struct ibv_device_attr_ex *attr, size_t attr_size);
int ffs_query_port_op(struct ibv_context *ctx, uint8_t port,
		      struct ibv_port_attr *attr, size_t attr_len);
struct ibv_cq_ex *ffs_create_cq_ex(struct ibv_context *ctx,
				   struct ibv_cq_init_attr_ex *attr);
int ffs_poll_cq(struct ibv_cq *cq, int ne, struct ibv_wc *wc);
int ffs_req_notify_cq(struct ibv_cq *cq, int solicited_only);
struct ibv_qp *ffs_create_qp_ex(struct ibv_context *ctx,
				struct ibv_qp_init_attr_ex *attr);
int ffs_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
		  struct ibv_send_wr **bad_wr);
int ffs_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
		  struct ibv_recv_wr **bad_wr);
int ffs_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr,
		      struct ibv_recv_wr **bad_wr);

/* ------------------------------------------------------------ shared helpers */

/* Router gone: every context flushes its outstanding WRs once (flush.c). */
void ffs_contexts_kill_all(void);
void ffs_context_kill(struct ffs_context *ctx);
/* Counts an event on the CQ ring and wakes its channel (channel.c). */
void ffs_cq_fire(struct ffs_cq *cq);
void ffs_cq_push_flush(struct ffs_cq *cq, const struct ffr_cqe *cqe);
/* ibv_qp_ex wr_* callbacks (qp_ex.c). */
void ffs_qp_ex_init(struct ffs_qp *qp);
/* Registered memory regions (region.c); -errno. */
int ffs_region_get(uintptr_t addr, size_t length, struct ffs_region **out);
void ffs_region_put(struct ffs_region *r);
uint64_t ffs_region_fd_offset(const struct ffs_region *r, uintptr_t addr);
uint64_t ffs_region_fd_size(const struct ffs_region *r);
const int *ffs_region_fd(const struct ffs_region *r);
/* Posting is refused in RESET/INIT/RTR (post.c); 0 or -errno. */
int ffs_qp_sq_state_ok(struct ffs_qp *qp);

static inline int ffs_set_errno(int err)
{
	errno = err;
	return err;
}

#endif
