/* Control-path costs of a plain libibverbs application: what opening a
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
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QP_WR 16
#define CQ_DEPTH 256
#define MSG_LEN 64
#define POLL_TIMEOUT_US 5e6
#define ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* For calls that set errno. */
static void fail(const char *call)
{
	fprintf(stderr, "verbs_control: %s failed: %s (errno %d)\n", call, strerror(errno), errno);
}

/* For verbs that return an errno value instead of setting errno. */
static int fail_ret(const char *call, int ret)
{
	fprintf(stderr, "verbs_control: %s failed: %s (errno %d)\n", call, strerror(ret), ret);
	return ret;
}

static void print_samples(const char *name, const double *v, size_t n, int last)
{
	printf("\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		printf("%s%.3f", i ? "," : "", v[i]);
	printf("]%s", last ? "" : ",");
}

static long parse_count(const char *s, long min, long max, const char *what)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "verbs_control: %s must be %ld..%ld, not '%s'\n", what, min, max, s);
		return -1;
	}
	return v;
}

/* --------------------------------------------------------------- session */

/* One open/close cycle; times in µs. Returns 0 or -1 (message printed). */
static int session_cycle(double *setup, double *teardown)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	double t0, t1;
	int n = 0, r;

	t0 = now_us();
	list = ibv_get_device_list(&n);
	if (!list) {
		fail("ibv_get_device_list");
		return -1;
	}
	if (n < 1) {
		fprintf(stderr, "verbs_control: ibv_get_device_list: no device (errno %d: %s)\n", errno, strerror(errno));
		goto out_list;
	}
	ctx = ibv_open_device(list[0]);
	if (!ctx) {
		fail("ibv_open_device");
		goto out_list;
	}
	pd = ibv_alloc_pd(ctx);
	if (!pd) {
		fail("ibv_alloc_pd");
		goto out_ctx;
	}
	t1 = now_us();
	*setup = t1 - t0;
	r = ibv_dealloc_pd(pd);
	if (r) {
		fail_ret("ibv_dealloc_pd", r);
		goto out_ctx;
	}
	r = ibv_close_device(ctx);
	if (r) {
		fail_ret("ibv_close_device", r);
		goto out_list;
	}
	ibv_free_device_list(list);
	*teardown = now_us() - t1;
	return 0;

out_ctx:
	ibv_close_device(ctx);
out_list:
	ibv_free_device_list(list);
	return -1;
}

/* One cycle in a new child process: the child's verbs library has no
 * session yet, exactly like a freshly started application. */
static int session_cycle_forked(double *setup, double *teardown)
{
	double t[2];
	int p[2], status, ret = -1;
	ssize_t got;
	pid_t pid;

	if (pipe(p)) {
		fail("pipe");
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail("fork");
		goto out_pipe;
	}
	if (pid == 0) {
		close(p[0]);
		if (session_cycle(&t[0], &t[1]) || write(p[1], t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	p[1] = -1;
	got = read(p[0], t, sizeof(t));
	if (waitpid(pid, &status, 0) < 0) {
		fail("waitpid");
		goto out_pipe;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof(t)) {
		fprintf(stderr, "verbs_control: session child failed (status 0x%x)\n", status);
		goto out_pipe;
	}
	*setup = t[0];
	*teardown = t[1];
	ret = 0;
out_pipe:
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return ret;
}

static int cmd_session(long iters)
{
	double *v = calloc(4 * (size_t)iters, sizeof(*v));
	double *cold_setup = v, *cold_down = v + iters, *warm_setup = v + 2 * iters, *warm_down = v + 3 * iters;
	double s, t;	/* warm-up cycles, not recorded */
	int ret = 1;

	if (!v) {
		fail("calloc");
		return 1;
	}
	/* warm-up child: page cache, the router's first accept */
	if (session_cycle_forked(&s, &t))
		goto out;
	for (long i = 0; i < iters; i++)
		if (session_cycle_forked(&cold_setup[i], &cold_down[i]))
			goto out;
	/* the first cycle here opens this process's session: not "warm" */
	if (session_cycle(&s, &t))
		goto out;
	for (long i = 0; i < iters; i++)
		if (session_cycle(&warm_setup[i], &warm_down[i]))
			goto out;
	printf("{\"mode\":\"session\",\"iters\":%ld,", iters);
	print_samples("setup_us", cold_setup, iters, 0);
	print_samples("teardown_us", cold_down, iters, 0);
	print_samples("warm_setup_us", warm_setup, iters, 0);
	print_samples("warm_teardown_us", warm_down, iters, 1);
	printf("}\n");
	ret = 0;
out:
	free(v);
	return ret;
}

/* -------------------------------------------------------------------- QPs */

/* A device, PD and CQ with COUNT RC QPs, plus one buffer/MR for the check. */
struct qpset {
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	char *buf;
	struct ibv_qp **qp;
	long count;
	uint16_t lid;
	enum ibv_mtu mtu;
	double *create_us, *connect_us, *destroy_us;
};

static int qpset_open(struct qpset *s, long count)
{
	struct ibv_port_attr port;
	int n = 0, r;

	memset(s, 0, sizeof(*s));
	s->count = count;
	s->qp = calloc((size_t)count, sizeof(*s->qp));
	s->create_us = calloc(3 * (size_t)count, sizeof(double));
	if (!s->qp || !s->create_us) {
		fail("calloc");
		return -1;
	}
	s->connect_us = s->create_us + count;
	s->destroy_us = s->create_us + 2 * count;
	s->list = ibv_get_device_list(&n);
	if (!s->list || n < 1) {
		fail("ibv_get_device_list (no device)");
		return -1;
	}
	s->ctx = ibv_open_device(s->list[0]);
	if (!s->ctx) {
		fail("ibv_open_device");
		return -1;
	}
	r = ibv_query_port(s->ctx, 1, &port);
	if (r) {
		fail_ret("ibv_query_port", r);
		return -1;
	}
	s->lid = port.lid;
	s->mtu = port.active_mtu;
	s->pd = ibv_alloc_pd(s->ctx);
	if (!s->pd) {
		fail("ibv_alloc_pd");
		return -1;
	}
	s->cq = ibv_create_cq(s->ctx, CQ_DEPTH, NULL, NULL, 0);
	if (!s->cq) {
		fail("ibv_create_cq");
		return -1;
	}
	if (posix_memalign((void **)&s->buf, 4096, 4096)) {
		fail("posix_memalign");
		return -1;
	}
	memset(s->buf, 0, 4096);
	s->mr = ibv_reg_mr(s->pd, s->buf, 4096, ACCESS);
	if (!s->mr) {
		fail("ibv_reg_mr");
		return -1;
	}
	return 0;
}

/* Frees whatever qpset_open and the QP steps left; safe on a partial set. */
static int qpset_close(struct qpset *s)
{
	int ret = 0, r;

	for (long i = 0; s->qp && i < s->count; i++) {
		if (s->qp[i] && (r = ibv_destroy_qp(s->qp[i])))
			ret = fail_ret("ibv_destroy_qp", r);
	}
	if (s->mr && (r = ibv_dereg_mr(s->mr)))
		ret = fail_ret("ibv_dereg_mr", r);
	if (s->cq && (r = ibv_destroy_cq(s->cq)))
		ret = fail_ret("ibv_destroy_cq", r);
	if (s->pd && (r = ibv_dealloc_pd(s->pd)))
		ret = fail_ret("ibv_dealloc_pd", r);
	if (s->ctx && (r = ibv_close_device(s->ctx)))
		ret = fail_ret("ibv_close_device", r);
	if (s->list)
		ibv_free_device_list(s->list);
	free(s->buf);
	free(s->create_us);
	free(s->qp);
	memset(s, 0, sizeof(*s));
	return ret;
}

static int qpset_create(struct qpset *s)
{
	struct ibv_qp_init_attr a = {
		.send_cq = s->cq,
		.recv_cq = s->cq,
		.cap = { .max_send_wr = QP_WR, .max_recv_wr = QP_WR, .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};

	for (long i = 0; i < s->count; i++) {
		double t0 = now_us();

		s->qp[i] = ibv_create_qp(s->pd, &a);
		s->create_us[i] = now_us() - t0;
		if (!s->qp[i]) {
			fail("ibv_create_qp");
			return -1;
		}
	}
	return 0;
}

static int qp_init(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = 1,
		.qp_access_flags = ACCESS,
	};
	int r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);

	return r ? fail_ret("ibv_modify_qp(INIT)", r) : 0;
}

static int qp_rtr_rts(struct ibv_qp *qp, enum ibv_mtu mtu, uint16_t dlid, uint32_t dqpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = mtu,
		.dest_qp_num = dqpn,
		.rq_psn = 0,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = { .dlid = dlid, .port_num = 1 },
	};
	int r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			      IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);

	if (r)
		return fail_ret("ibv_modify_qp(RTR)", r);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	r = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			  IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	return r ? fail_ret("ibv_modify_qp(RTS)", r) : 0;
}

static int qpset_destroy(struct qpset *s)
{
	for (long i = 0; i < s->count; i++) {
		double t0 = now_us();
		int r = ibv_destroy_qp(s->qp[i]);

		s->destroy_us[i] = now_us() - t0;
		if (r)
			return fail_ret("ibv_destroy_qp", r);
		s->qp[i] = NULL;
	}
	return 0;
}

static int post_recv(struct qpset *s, struct ibv_qp *qp, char *dst)
{
	struct ibv_sge sge = { .addr = (uintptr_t)dst, .length = MSG_LEN, .lkey = s->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 2, .sg_list = &sge, .num_sge = 1 }, *bad;
	int r = ibv_post_recv(qp, &wr, &bad);

	return r ? fail_ret("ibv_post_recv", r) : 0;
}

static int post_send(struct qpset *s, struct ibv_qp *qp, char *src)
{
	struct ibv_sge sge = { .addr = (uintptr_t)src, .length = MSG_LEN, .lkey = s->mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int r;

	snprintf(src, MSG_LEN, "verbs_control qpn %u", qp->qp_num);
	r = ibv_post_send(qp, &wr, &bad);
	return r ? fail_ret("ibv_post_send", r) : 0;
}

/* Polls until `want` successful completions arrived, or fails. */
static int wait_completions(struct qpset *s, int want)
{
	double deadline = now_us() + POLL_TIMEOUT_US;
	struct ibv_wc wc;

	while (want > 0) {
		int n = ibv_poll_cq(s->cq, 1, &wc);

		if (n < 0) {
			fprintf(stderr, "verbs_control: ibv_poll_cq failed (%d)\n", n);
			return -1;
		}
		if (n == 0) {
			if (now_us() > deadline) {
				fprintf(stderr, "verbs_control: no completion within %.0f s\n", POLL_TIMEOUT_US / 1e6);
				return -1;
			}
			continue;
		}
		if (wc.status != IBV_WC_SUCCESS) {
			fprintf(stderr, "verbs_control: completion wr_id %llu: %s\n",
				(unsigned long long)wc.wr_id, ibv_wc_status_str(wc.status));
			return -1;
		}
		want--;
	}
	return 0;
}

/* QP 0 sends MSG_LEN bytes to QP 1 and they arrive intact. */
static int check_local_pair(struct qpset *s)
{
	char *src = s->buf, *dst = s->buf + 2048;

	if (post_recv(s, s->qp[1], dst) || post_send(s, s->qp[0], src) || wait_completions(s, 2))
		return -1;
	if (memcmp(src, dst, MSG_LEN)) {
		fprintf(stderr, "verbs_control: check message arrived corrupted\n");
		return -1;
	}
	return 0;
}

static void print_qp_result(const char *mode, struct qpset *s, double wall_us)
{
	printf("{\"mode\":\"%s\",\"count\":%ld,\"create_connect_wall_us\":%.3f,\"verified\":true,", mode, s->count, wall_us);
	print_samples("create_us", s->create_us, s->count, 0);
	print_samples("connect_us", s->connect_us, s->count, 0);
	print_samples("destroy_us", s->destroy_us, s->count, 1);
	printf("}\n");
}

/* Connects the QPs in pairs (0-1, 2-3, ...); per QP its INIT, RTR and RTS. */
static int connect_pairs(struct qpset *s)
{
	for (long i = 0; i < s->count; i += 2) {
		struct ibv_qp *a = s->qp[i], *b = s->qp[i + 1];
		double ta, tb, tc, td;

		ta = now_us();
		if (qp_init(a))
			return -1;
		tb = now_us();
		if (qp_init(b))
			return -1;
		tc = now_us();
		if (qp_rtr_rts(a, s->mtu, s->lid, b->qp_num))
			return -1;
		td = now_us();
		if (qp_rtr_rts(b, s->mtu, s->lid, a->qp_num))
			return -1;
		s->connect_us[i] = (tb - ta) + (td - tc);
		s->connect_us[i + 1] = (tc - tb) + (now_us() - td);
	}
	return 0;
}

/* One untimed pair first: the first QP of a process pays one-time costs
 * (lazy symbol binding, first allocations) that are no QP's own. */
static int qp_warm_up(void)
{
	struct qpset w = { 0 };
	int ret = -1;

	if (qpset_open(&w, 2) == 0 && qpset_create(&w) == 0 && connect_pairs(&w) == 0 && qpset_destroy(&w) == 0)
		ret = 0;
	if (qpset_close(&w))
		ret = -1;
	return ret;
}

static int cmd_qp(long count)
{
	struct qpset s = { 0 };
	double t0, wall;
	int ret = 1;

	if (qp_warm_up() || qpset_open(&s, count))
		goto out;
	t0 = now_us();
	if (qpset_create(&s) || connect_pairs(&s))
		goto out;
	wall = now_us() - t0;
	if (check_local_pair(&s) || qpset_destroy(&s))
		goto out;
	print_qp_result("qp", &s, wall);
	ret = 0;
out:
	if (qpset_close(&s))
		ret = 1;
	return ret;
}

/* ------------------------------------------------- QPs across processes */

static int full_io(int fd, void *buf, size_t n, int wr)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = wr ? write(fd, (char *)buf + done, n - done) : read(fd, (char *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			fail(wr ? "write (peer)" : "read (peer)");
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

/* Sends our LID and QP numbers, receives the peer's (same count). */
static int exchange_qpns(int fd, struct qpset *s, uint32_t *peer, uint16_t *peer_lid)
{
	uint32_t *mine = calloc((size_t)s->count + 1, sizeof(*mine));
	int ret = -1;

	if (!mine) {
		fail("calloc");
		return -1;
	}
	mine[0] = s->lid;
	for (long i = 0; i < s->count; i++)
		mine[i + 1] = s->qp[i]->qp_num;
	if (full_io(fd, mine, ((size_t)s->count + 1) * sizeof(*mine), 1) ||
	    full_io(fd, peer, ((size_t)s->count + 1) * sizeof(*peer), 0))
		goto out;
	*peer_lid = (uint16_t)peer[0];
	ret = 0;
out:
	free(mine);
	return ret;
}

/* INIT, RTR and RTS of every QP against its peer, timed per QP. */
static int connect_all(struct qpset *s, const uint32_t *peer, uint16_t peer_lid)
{
	for (long i = 0; i < s->count; i++) {
		double t0 = now_us();

		if (qp_init(s->qp[i]) || qp_rtr_rts(s->qp[i], s->mtu, peer_lid, peer[i + 1]))
			return -1;
		s->connect_us[i] = now_us() - t0;
	}
	return 0;
}

static int tcp_listen(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		fail("socket");
		return -1;
	}
	if (host && inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "verbs_control: bad address %s\n", host);
		goto err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		fail("bind/listen");
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int tcp_dial(const char *host, const char *port)
{
	struct addrinfo *ai, hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	int fd, r = getaddrinfo(host, port, &hints, &ai);

	if (r) {
		fprintf(stderr, "verbs_control: getaddrinfo %s:%s: %s\n", host, port, gai_strerror(r));
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	else if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		fail("connect");
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* The server side: create, connect, receive the check message on QP 0,
 * confirm it, destroy. Prints nothing on success. */
static int qpremote_server(int port, long count)
{
	uint32_t *peer = calloc((size_t)count + 1, sizeof(*peer));
	struct qpset s = { 0 };
	uint16_t peer_lid;
	int ls = -1, fd = -1, ret = 1;
	char ok = 'k';

	if (!peer) {
		fail("calloc");
		return 1;
	}
	if (qp_warm_up() || qpset_open(&s, count))
		goto out;
	ls = tcp_listen(NULL, port);
	if (ls < 0)
		goto out;
	fd = accept(ls, NULL, NULL);
	if (fd < 0) {
		fail("accept");
		goto out;
	}
	/* a receive may be posted from INIT on; the client sends once told */
	if (qpset_create(&s) || exchange_qpns(fd, &s, peer, &peer_lid) || connect_all(&s, peer, peer_lid) ||
	    post_recv(&s, s.qp[0], s.buf + 2048) || full_io(fd, &ok, 1, 1) || wait_completions(&s, 1))
		goto out;
	if (strncmp(s.buf + 2048, "verbs_control qpn ", 18)) {
		fprintf(stderr, "verbs_control: check message arrived corrupted\n");
		goto out;
	}
	if (full_io(fd, &ok, 1, 1) || qpset_destroy(&s))
		goto out;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ls >= 0)
		close(ls);
	if (qpset_close(&s))
		ret = 1;
	free(peer);
	return ret;
}

/* The client side: the timed one. Its connect_us includes what RTR to a QP
 * on another host costs (the peer's address lookup), not the TCP exchange. */
static int qpremote_client(const char *host, const char *port, long count)
{
	uint32_t *peer = calloc((size_t)count + 1, sizeof(*peer));
	struct qpset s = { 0 };
	uint16_t peer_lid;
	double t0, wall;
	int fd = -1, ret = 1;
	char ok;

	if (!peer) {
		fail("calloc");
		return 1;
	}
	if (qp_warm_up() || qpset_open(&s, count))
		goto out;
	fd = tcp_dial(host, port);
	if (fd < 0)
		goto out;
	t0 = now_us();
	if (qpset_create(&s))
		goto out;
	wall = now_us() - t0;
	if (exchange_qpns(fd, &s, peer, &peer_lid))
		goto out;
	t0 = now_us();
	if (connect_all(&s, peer, peer_lid))
		goto out;
	wall += now_us() - t0;
	/* the server is in RTS (and its receive posted) once it says so */
	if (full_io(fd, &ok, 1, 0) || post_send(&s, s.qp[0], s.buf) || wait_completions(&s, 1) ||
	    full_io(fd, &ok, 1, 0) || qpset_destroy(&s))
		goto out;
	print_qp_result("qpremote", &s, wall);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (qpset_close(&s))
		ret = 1;
	free(peer);
	return ret;
}

/* --------------------------------------------------------------------- MR */

static int cmd_mr(size_t size, long iters)
{
	double *v = calloc(3 * (size_t)iters, sizeof(*v));
	double *reg = v, *dereg = v + iters, *touch = v + 2 * iters;
	struct ibv_device **list = NULL;
	struct ibv_context *ctx = NULL;
	struct ibv_pd *pd = NULL;
	char *buf = NULL;
	int n = 0, ret = 1, r;

	if (!v) {
		fail("calloc");
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, size)) {
		fail("posix_memalign");
		goto out;
	}
	memset(buf, 0xa5, size);
	list = ibv_get_device_list(&n);
	if (!list || n < 1) {
		fail("ibv_get_device_list (no device)");
		goto out;
	}
	ctx = ibv_open_device(list[0]);
	if (!ctx) {
		fail("ibv_open_device");
		goto out;
	}
	pd = ibv_alloc_pd(ctx);
	if (!pd) {
		fail("ibv_alloc_pd");
		goto out;
	}
	/* iteration -1 is a warm-up, not recorded */
	for (long i = -1; i < iters; i++) {
		double t0 = now_us(), t1;
		struct ibv_mr *mr = ibv_reg_mr(pd, buf, size, ACCESS);
		char *p;

		t1 = now_us();
		if (!mr) {
			fail("ibv_reg_mr");
			goto out;
		}
		r = ibv_dereg_mr(mr);
		if (r) {
			fail_ret("ibv_dereg_mr", r);
			goto out;
		}
		if (i >= 0) {
			reg[i] = t1 - t0;
			dereg[i] = now_us() - t1;
		}
		t0 = now_us();
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fail("mmap");
			goto out;
		}
		memset(p, 0xa5, size);
		if (i >= 0)
			touch[i] = now_us() - t0;
		munmap(p, size);
	}
	printf("{\"mode\":\"mr\",\"size\":%zu,\"iters\":%ld,", size, iters);
	print_samples("reg_us", reg, iters, 0);
	print_samples("dereg_us", dereg, iters, 0);
	print_samples("touch_us", touch, iters, 1);
	printf("}\n");
	ret = 0;
out:
	if (pd && (r = ibv_dealloc_pd(pd))) {
		fail_ret("ibv_dealloc_pd", r);
		ret = 1;
	}
	if (ctx && (r = ibv_close_device(ctx))) {
		fail_ret("ibv_close_device", r);
		ret = 1;
	}
	if (list)
		ibv_free_device_list(list);
	free(buf);
	free(v);
	return ret;
}

/* ------------------------------------------------------------ TCP connect */

static int cmd_tcpconnect(long iters)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	double *v = calloc((size_t)iters, sizeof(*v));
	int ls = -1, ret = 1;

	if (!v) {
		fail("calloc");
		return 1;
	}
	ls = tcp_listen("127.0.0.1", 0);
	if (ls < 0)
		goto out;
	if (getsockname(ls, (struct sockaddr *)&sa, &len)) {
		fail("getsockname");
		goto out;
	}
	for (long i = -1; i < iters; i++) {
		double t0 = now_us();
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;

		if (c < 0) {
			fail("socket");
			goto out;
		}
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa))) {
			fail("connect");
			close(c);
			goto out;
		}
		a = accept(ls, NULL, NULL);
		if (a < 0) {
			fail("accept");
			close(c);
			goto out;
		}
		if (i >= 0)
			v[i] = now_us() - t0;
		/* reset instead of TIME_WAIT: thousands of cycles must not exhaust ports */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		close(a);
	}
	printf("{\"mode\":\"tcpconnect\",\"iters\":%ld,", iters);
	print_samples("connect_us", v, iters, 1);
	printf("}\n");
	ret = 0;
out:
	if (ls >= 0)
		close(ls);
	free(v);
	return ret;
}

static int usage(void)
{
	fputs("usage: verbs_control session ITERS | qp COUNT | mr SIZE ITERS | tcpconnect ITERS\n"
	      "       verbs_control qpremote server PORT COUNT | qpremote client HOST PORT COUNT\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	long a, b;

	if (argc == 3 && !strcmp(argv[1], "session"))
		return (a = parse_count(argv[2], 1, 1000000, "ITERS")) < 0 ? 2 : cmd_session(a);
	if (argc == 3 && !strcmp(argv[1], "qp")) {
		a = parse_count(argv[2], 2, 1 << 20, "COUNT");
		if (a < 0 || a % 2) {
			fprintf(stderr, "verbs_control: COUNT must be even (QPs are connected in pairs)\n");
			return 2;
		}
		return cmd_qp(a);
	}
	if (argc == 5 && !strcmp(argv[1], "qpremote") && !strcmp(argv[2], "server")) {
		a = parse_count(argv[3], 1, 65535, "PORT");
		b = parse_count(argv[4], 1, 1 << 20, "COUNT");
		return a < 0 || b < 0 ? 2 : qpremote_server((int)a, b);
	}
	if (argc == 6 && !strcmp(argv[1], "qpremote") && !strcmp(argv[2], "client")) {
		b = parse_count(argv[5], 1, 1 << 20, "COUNT");
		return b < 0 ? 2 : qpremote_client(argv[3], argv[4], b);
	}
	if (argc == 4 && !strcmp(argv[1], "mr")) {
		a = parse_count(argv[2], 1, 1L << 40, "SIZE");
		b = parse_count(argv[3], 1, 1000000, "ITERS");
		return a < 0 || b < 0 ? 2 : cmd_mr((size_t)a, b);
	}
	if (argc == 3 && !strcmp(argv[1], "tcpconnect"))
		return (a = parse_count(argv[2], 1, 1000000, "ITERS")) < 0 ? 2 : cmd_tcpconnect(a);
	return usage();
}
