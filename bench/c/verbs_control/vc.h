/* verbs_control: control-path costs of a plain libibverbs application: what opening a
 * device, creating and connecting QPs and registering memory cost, with the
 * kernel operations a container would otherwise pay as baselines. Knows
 * nothing of the shim; run it under LD_PRELOAD like any verbs app.
 *
 * Every subcommand prints ONE JSON object on stdout holding per-operation
 * samples in microseconds (the caller computes order statistics); errors go
 * to stderr naming the failing call and errno, and the exit code is non-zero.
 *
 *   verbs_control session ITERS
 *       setup = ibv_get_device_list + ibv_open_device + ibv_alloc_pd and
 *       teardown = ibv_dealloc_pd + ibv_close_device + ibv_free_device_list,
 *       each in a fresh forked process (a verbs library connects to its
 *       driver once per process, so only a new process pays a new session),
 *       then again within one process once its session exists ("warm").
 *   verbs_control qp COUNT
 *       one PD and CQ, COUNT RC QPs connected in pairs within the process
 *       (INIT, RTR, RTS); per QP: create, connect (the three modify_qp) and
 *       destroy; one pair passes a message, so "connected" is real.
 *   verbs_control qpremote server PORT COUNT | client HOST PORT COUNT
 *       the same with each QP's partner in another process (another host),
 *       QP numbers exchanged over TCP; the client prints the figures.
 *   verbs_control mr SIZE ITERS
 *       ibv_reg_mr and ibv_dereg_mr of one SIZE-byte buffer (allocated and
 *       touched once), and the baseline: mmap a fresh SIZE-byte region and
 *       memset it (the page faults a kernel pays to pin memory).
 *   verbs_control tcpconnect ITERS
 *       baseline: TCP connect + accept over loopback, both ends here. */
#ifndef VC_H
#define VC_H

#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <stddef.h>
#include <stdint.h>

#define QP_WR 16
#define CQ_DEPTH 256
#define MSG_LEN 64
#define POLL_TIMEOUT_US 5e6
#define ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ)

/* util.c: time, errors, output, arguments, TCP */
double now_us(void);
void fail(const char *call);
int fail_ret(const char *call, int ret);
void print_samples(const char *name, const double *v, size_t n, int last);
long parse_count(const char *s, long min, long max, const char *what);
int full_io(int fd, void *buf, size_t n, int wr);
int tcp_listen(const char *host, int port);
int tcp_dial(const char *host, const char *port);

/* The first device opened and a PD on it: what every mode starts from. */
struct vc_dev {
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
};

/* 0, or -1 with the failing verb printed and nothing left open. */
int vc_dev_open(struct vc_dev *d);
/* Releases whatever is open (safe on a partial or zeroed dev); 0 or -1. */
int vc_dev_close(struct vc_dev *d);

/* qp.c: a device, PD and CQ with COUNT RC QPs, plus one buffer/MR for the check. */
struct qpset {
	struct vc_dev dev;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	char *buf;
	struct ibv_qp **qp;
	long count;
	uint16_t lid;
	enum ibv_mtu mtu;
	double *create_us, *connect_us, *destroy_us;
};

int qpset_open(struct qpset *s, long count);
int qpset_close(struct qpset *s);
int qpset_create(struct qpset *s);
int qpset_destroy(struct qpset *s);
int qp_init(struct ibv_qp *qp);
int qp_rtr_rts(struct ibv_qp *qp, enum ibv_mtu mtu, uint16_t dlid, uint32_t dqpn);
int post_recv(struct qpset *s, struct ibv_qp *qp, char *dst);
int post_send(struct qpset *s, struct ibv_qp *qp, char *src);
int wait_completions(struct qpset *s, int want);
int qp_warm_up(void);
void print_qp_result(const char *mode, struct qpset *s, double wall_us);

/* One file per mode. */
int cmd_session(long iters);
int cmd_qp(long count);
int qpremote_server(int port, long count);
int qpremote_client(const char *host, const char *port, long count);
int cmd_mr(size_t size, long iters);
int cmd_tcpconnect(long iters);

#endif
