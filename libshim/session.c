/* The control connection of this process to the router (docs/design.md
 * "Sessions and identity", "Control messages"): lazy connect, hello,
 * request/reply with fds, fork and router-death handling. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include "ffshim.h"
#include "ffmsg.h"
#include "sys.h"

#define FFS_DEFAULT_SOCKET "/run/ffrouter/ffrouter.sock"

struct ffs_session ffs_sess = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.doorbell = -1,
};
int ffs_debug_on;

static pthread_once_t ffs_once = PTHREAD_ONCE_INIT;
static int warned_connect, warned_refused;
/* Frames are built and received under ffs_sess.lock, so one buffer each. */
static uint8_t txbuf[FFR_MAX_FRAME + FFR_FRAME_HDR];
static uint8_t rxbuf[FFR_MAX_FRAME];

void ffs_dbg(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "libffshim[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (ffs_sys_write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* stderr closed: debug output is best effort */
	}
}

void ffs_eventfd_signal_doorbell(void)
{
	ffs_eventfd_signal(ffs_sess.doorbell);
}

/* The one place wire status numbers become errno values. They are Linux
 * errno numbers by definition, but converting by name keeps the shim honest
 * if the schema ever grows a code the shim does not know. */
int ffs_wire_errno(uint32_t status)
{
	switch (status) {
	case FFR_OK: return 0;
	case FFR_EPERM: return EPERM;
	case FFR_ENOENT: return ENOENT;
	case FFR_EIO: return EIO;
	case FFR_EBADF: return EBADF;
	case FFR_EAGAIN: return EAGAIN;
	case FFR_ENOMEM: return ENOMEM;
	case FFR_EACCES: return EACCES;
	case FFR_EFAULT: return EFAULT;
	case FFR_EBUSY: return EBUSY;
	case FFR_EEXIST: return EEXIST;
	case FFR_EINVAL: return EINVAL;
	case FFR_ENOSPC: return ENOSPC;
	case FFR_ERANGE: return ERANGE;
	case FFR_ENOSYS: return ENOSYS;
	case FFR_EPROTO: return EPROTO;
	case FFR_EOVERFLOW: return EOVERFLOW;
	case FFR_EMSGSIZE: return EMSGSIZE;
	case FFR_EOPNOTSUPP: return EOPNOTSUPP;
	case FFR_EDQUOT: return EDQUOT;
	case FFR_ETIMEDOUT: return ETIMEDOUT;
	case FFR_ECONNREFUSED: return ECONNREFUSED;
	case FFR_EHOSTUNREACH: return EHOSTUNREACH;
	default: return EIO;
	}
}

/* Forgets the session without a word to the router: used in a fork child,
 * whose inherited socket still belongs to the parent's session. */
static void session_drop_locked(void)
{
	if (ffs_sess.fd >= 0)
		ffs_sys_close(ffs_sess.fd);
	if (ffs_sess.doorbell >= 0)
		ffs_sys_close(ffs_sess.doorbell);
	if (ffs_sess.page)
		munmap(ffs_sess.page, FFR_SESSION_PAGE_SIZE);
	ffs_sess.fd = -1;
	ffs_sess.doorbell = -1;
	ffs_sess.page = NULL;
	ffs_sess.up = 0;
	__atomic_store_n(&ffs_sess.dead, 0, __ATOMIC_RELAXED);
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&ffs_sess.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&ffs_sess.lock);
}

static void atfork_child(void)
{
	/* The child re-connects lazily; ffs_sess.pid no longer matches. */
	pthread_mutex_unlock(&ffs_sess.lock);
}

static void session_once(void)
{
	const char *d = getenv("FFR_DEBUG");

	ffs_debug_on = d && *d && strcmp(d, "0") != 0;
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void mark_dead_locked(const char *why)
{
	if (__atomic_exchange_n(&ffs_sess.dead, 1, __ATOMIC_ACQ_REL))
		return;
	FFS_DBG("router gone (%s)", why);
	/* The shim now completes its WRs itself (flush.c). A router that is
	 * still alive (stream out of step, EPROTO) must see the session end
	 * too, or its data plane would keep working the same rings and the
	 * peers' QPs would never leave RTS. */
	if (ffs_sess.fd >= 0)
		syscall(SYS_shutdown, ffs_sess.fd, SHUT_RDWR);
}

static int send_frame(int fd, const uint8_t *buf, size_t len, const int *fds,
		      unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FFR_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t off = 0;

	if (nfds > FFR_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	while (off < len) {
		ssize_t n;

		iov.iov_base = (void *)(buf + off);
		iov.iov_len = len - off;
		/* MSG_NOSIGNAL: a dead router must be an error, not SIGPIPE. */
		n = ffs_sys_sendmsg(fd, &m, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
		/* The fds ride on the first byte only. */
		m.msg_control = NULL;
		m.msg_controllen = 0;
	}
	return 0;
}

/* Reads exactly len bytes, collecting any SCM_RIGHTS fds into fds[]. */
static int recv_exact(int fd, uint8_t *buf, size_t len, int *fds,
		      unsigned *nfds)
{
	size_t off = 0;

	while (off < len) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * FFR_MAX_FDS)];
			struct cmsghdr align;
		} cbuf;
		struct iovec iov = { .iov_base = buf + off, .iov_len = len - off };
		struct msghdr m = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
		};
		ssize_t n = ffs_sys_recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
		int trunc = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c;
		     c = CMSG_NXTHDR(&m, c)) {
			unsigned k;

			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (unsigned i = 0; i < k; i++) {
				int rfd;

				memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
				if (*nfds < FFR_MAX_FDS)
					fds[(*nfds)++] = rfd;
				else
					ffs_sys_close(rfd), trunc = 1;
			}
		}
		if (trunc || (m.msg_flags & MSG_CTRUNC))
			return -EPROTO;
		if (n == 0)
			return -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			ffs_sys_close(fds[i]);
}

/* One round trip on a connected socket; the caller holds ffs_sess.lock. */
static int call_locked(uint32_t type, const void *req, const int *fds,
		       unsigned nfds, void *rep, int *rfds, unsigned nrfds)
{
	const struct ffr_msg_desc *d = &ffr_msg_descs[type];
	struct ffr_msg_hdr h = { .type = type, .seq = ++ffs_sess.seq };
	int got[FFR_MAX_FDS];
	unsigned ngot = 0;
	uint8_t lenb[FFR_FRAME_HDR];
	uint32_t blen;
	int ret, len;

	if (__atomic_load_n(&ffs_sess.dead, __ATOMIC_RELAXED))
		return -EIO;
	len = ffr_msg_encode(txbuf, sizeof(txbuf), &h, d->req, d->nreq, req);
	if (len < 0)
		return len;
	ret = send_frame(ffs_sess.fd, txbuf, (size_t)len, fds, nfds);
	if (ret)
		goto dead;
	ret = recv_exact(ffs_sess.fd, lenb, sizeof(lenb), got, &ngot);
	if (ret)
		goto dead;
	blen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 |
	       (uint32_t)lenb[2] << 16 | (uint32_t)lenb[3] << 24;
	if (blen == 0 || blen > FFR_MAX_FRAME) {
		ret = -EPROTO;
		goto dead;
	}
	ret = recv_exact(ffs_sess.fd, rxbuf, blen, got, &ngot);
	if (ret)
		goto dead;
	ret = ffr_msg_decode(rxbuf, blen, &h, d->rep, d->nrep, rep, d->rep_size);
	if (ret || h.type != (type | FFR_REPLY_BIT) || h.seq != ffs_sess.seq) {
		/* The stream is out of step: nothing after this can be trusted. */
		ret = -EPROTO;
		goto dead;
	}
	if (h.status != FFR_OK) {
		close_fds(got, ngot);
		FFS_DBG("%s -> %s", d->name, strerror(ffs_wire_errno(h.status)));
		return -ffs_wire_errno(h.status);
	}
	if (ngot < d->rep_nfds || ngot > nrfds) {
		close_fds(got, ngot);
		return -EPROTO;
	}
	if (ngot)
		memcpy(rfds, got, sizeof(int) * ngot);
	FFS_DBG("%s ok", d->name);
	return 0;

dead:
	close_fds(got, ngot);
	FFS_DBG("%s: %s", d->name, strerror(-ret));
	mark_dead_locked(strerror(-ret));
	return ret == -EPROTO ? -EPROTO : -EIO;
}

/* One stderr line per process and cause: apps retry in loops. */
static void __attribute__((format(printf, 2, 3)))
warn_once(int *flag, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (n > 0 && ffs_sys_write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* stderr closed: nothing better to do */
	}
}

static int connect_locked(void)
{
	const char *path = getenv("FFR_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (!path || !*path)
		path = FFS_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		warn_once(&warned_connect,
			  "libffshim: router socket path %s is too long (%s)\n",
			  path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_connect, fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		ffs_sys_close(fd);
		warn_once(&warned_connect,
			  "libffshim: cannot reach the router at %s (%s): is ffrouter running? (FFR_SOCKET overrides the path)\n",
			  path, strerror(err));
		return -err;
	}
	FFS_DBG("connected to %s", path);
	return fd;
}

static void hello_defaults(struct ffr_hello_rep *r)
{
	/* The router is the authority on limits; zeros would only come from
	 * an older router and would make every create fail. */
#define DEF(f, v) do { if (!r->f) r->f = (v); } while (0)
	DEF(vendor_id, FFR_VENDOR_ID);
	DEF(vendor_part_id, FFR_VENDOR_PART_ID);
	DEF(max_qp, 1024);
	DEF(max_qp_wr, FFR_MAX_QP_WR);
	DEF(max_sge, FFR_MAX_SGE);
	DEF(max_cq, 1024);
	DEF(max_cqe, FFR_MAX_CQE);
	DEF(max_mr, 4096);
	DEF(max_mr_size, UINT64_MAX);
	DEF(max_pd, 1024);
	DEF(max_srq, 1024);
	DEF(max_srq_wr, FFR_MAX_SRQ_WR);
	DEF(max_srq_sge, FFR_MAX_SGE);
	DEF(max_ah, 4096);
	DEF(max_inline, FFR_MAX_INLINE);
	DEF(max_qp_rd_atom, 16);
#undef DEF
	if (r->max_sge > FFR_MAX_SGE)
		r->max_sge = FFR_MAX_SGE;
	if (r->max_srq_sge > FFR_MAX_SGE)
		r->max_srq_sge = FFR_MAX_SGE;
	if (r->max_inline > FFR_MAX_INLINE)
		r->max_inline = FFR_MAX_INLINE;
	if (!r->dev_name[0])
		strcpy(r->dev_name, "ffr0");
	if (!r->node_guid)
		r->node_guid = 0x02ffff0000000000ull | r->lid;
	if (!r->sys_image_guid)
		r->sys_image_guid = r->node_guid;
	if (!memcmp(r->gid, (uint8_t[16]){ 0 }, sizeof(r->gid))) {
		/* fe80:: + port GUID, as design.md defines gid[0] */
		r->gid[0] = 0xfe;
		r->gid[1] = 0x80;
		for (int i = 0; i < 8; i++)
			r->gid[8 + i] = (uint8_t)(r->node_guid >> (56 - 8 * i));
	}
}

static int session_get_locked(void)
{
	struct ffr_hello_req req = { .abi = FFR_ABI_VERSION };
	struct ffr_hello_rep rep;
	int fds[2] = { -1, -1 };
	void *page;
	int ret;

	if (ffs_sess.fd >= 0 && ffs_sess.pid != getpid()) {
		FFS_DBG("fork child: new session");
		session_drop_locked();
	}
	if (ffs_sess.up)
		return __atomic_load_n(&ffs_sess.dead, __ATOMIC_RELAXED) ? -EIO : 0;
	if (ffs_sess.fd < 0) {
		ret = connect_locked();
		if (ret < 0)
			return ret;
		ffs_sess.fd = ret;
		ffs_sess.pid = getpid();
		__atomic_store_n(&ffs_sess.dead, 0, __ATOMIC_RELAXED);
	}
	req.pid = (uint32_t)ffs_sess.pid;
	ret = call_locked(FFR_MSG_HELLO, &req, NULL, 0, &rep, fds, 2);
	if (ret == -EACCES || ret == -EPERM) {
		warn_once(&warned_refused,
			  "libffshim: router refused this process (%s): is this container registered with the router? (ffctl container add)\n",
			  strerror(-ret));
		goto drop;
	}
	/* EAGAIN at hello is the session quota (as an rdma cgroup refuses a
	 * context over hca_handle); the router's log names the limit. */
	if (ret == -EAGAIN) {
		warn_once(&warned_refused,
			  "libffshim: router refused a new session (EAGAIN): this container or its tenant has reached its session quota (--max-sessions; see the router log)\n");
		goto drop;
	}
	if (ret)
		goto drop;
	page = mmap(NULL, FFR_SESSION_PAGE_SIZE, PROT_READ, MAP_SHARED, fds[0], 0);
	ffs_sys_close(fds[0]);
	if (page == MAP_FAILED) {
		ret = -errno;
		ffs_sys_close(fds[1]);
		goto drop;
	}
	hello_defaults(&rep);
	ffs_sess.page = page;
	ffs_sess.doorbell = fds[1];
	ffs_sess.hello = rep;
	ffs_sess.up = 1;
	FFS_DBG("hello: session %u lid %u dev %s container %s", rep.session,
		rep.lid, rep.dev_name, rep.container);
	return 0;

drop:
	/* A refused or broken hello leaves no half session behind; the next
	 * ibv_get_device_list tries again (the container may be added). */
	session_drop_locked();
	return ret;
}

int ffs_session_get(void)
{
	int ret;

	pthread_once(&ffs_once, session_once);
	pthread_mutex_lock(&ffs_sess.lock);
	ret = session_get_locked();
	pthread_mutex_unlock(&ffs_sess.lock);
	return ret;
}

int ffs_call(uint32_t type, const void *req, const int *fds, unsigned nfds,
	     void *rep, int *rfds, unsigned nrfds)
{
	bool died;
	int ret;

	if (type == 0 || type > FFR_MSG_MAX_ID)
		return -EINVAL;
	pthread_once(&ffs_once, session_once);
	pthread_mutex_lock(&ffs_sess.lock);
	ret = session_get_locked();
	if (!ret)
		ret = call_locked(type, req, fds, nfds, rep, rfds, nrfds);
	died = __atomic_load_n(&ffs_sess.dead, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ffs_sess.lock);
	if (died)
		ffs_contexts_kill_all();
	return ret;
}

bool ffs_session_probe(void)
{
	struct pollfd p;
	bool dead = false;
	char c;

	if (__atomic_load_n(&ffs_sess.dead, __ATOMIC_RELAXED))
		goto out;
	/* A request in flight owns the socket and will see EOF itself; its
	 * reply bytes would look like the unsolicited data that means death. */
	if (pthread_mutex_trylock(&ffs_sess.lock))
		return false;
	if (ffs_sess.fd >= 0 && ffs_sess.pid == getpid()) {
		p.fd = ffs_sess.fd;
		p.events = POLLIN;
		p.revents = 0;
		/* The router never sends unsolicited frames, so a readable idle
		 * socket is EOF, an error or garbage: the session is over. */
		if (ffs_sys_poll(&p, 1, 0) > 0 &&
		    (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = syscall(SYS_recvfrom, ffs_sess.fd, &c, 1,
					    MSG_PEEK | MSG_DONTWAIT, NULL, NULL);

			if (n >= 0 || errno != EAGAIN)
				mark_dead_locked(n == 0 ? "EOF" : "socket error");
		}
	}
	pthread_mutex_unlock(&ffs_sess.lock);
out:
	dead = __atomic_load_n(&ffs_sess.dead, __ATOMIC_RELAXED);
	if (dead)
		ffs_contexts_kill_all();
	return dead;
}
