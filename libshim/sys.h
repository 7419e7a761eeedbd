/* Raw system calls for the shim's own file descriptors. A socket-preload
 * library (rsocket's librspreload, ...) may be loaded next to the shim and
 * interposes the libc wrappers; going straight to the kernel keeps the
 * control socket, channel sockets, eventfds and doorbell out of its hands. */
#ifndef FFS_SYS_H
#define FFS_SYS_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline ssize_t ffs_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

static inline ssize_t ffs_sys_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

static inline int ffs_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

static inline ssize_t ffs_sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
	return syscall(SYS_sendmsg, fd, m, flags);
}

static inline ssize_t ffs_sys_recvmsg(int fd, struct msghdr *m, int flags)
{
	return syscall(SYS_recvmsg, fd, m, flags);
}

static inline int ffs_sys_fcntl_getfl(int fd)
{
	return (int)syscall(SYS_fcntl, fd, F_GETFL);
}

/* timeout_ms < 0 waits forever, as poll(2). */
static inline int ffs_sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	return (int)syscall(SYS_ppoll, fds, n, tsp, NULL, (size_t)(_NSIG / 8));
}

/* Per-call non-blocking socket I/O, whatever the descriptor's own flags:
 * the app owns those of a channel fd (it may set or clear O_NONBLOCK). */
static inline ssize_t ffs_sys_send_nb(int fd, const void *buf, size_t n)
{
	return syscall(SYS_sendto, fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
}

static inline ssize_t ffs_sys_recv_nb(int fd, void *buf, size_t n)
{
	return syscall(SYS_recvfrom, fd, buf, n, MSG_DONTWAIT, NULL, NULL);
}

static inline int ffs_sys_socketpair(int domain, int type, int proto, int sv[2])
{
	return (int)syscall(SYS_socketpair, domain, type, proto, sv);
}

/* Adds one count to an eventfd; a full counter (EAGAIN) already means
 * "readable", so the result is ignored. */
static inline void ffs_eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && ffs_sys_write(fd, &one, sizeof(one)) < 0) {
		/* nothing to do: the waiter is woken either way */
	}
}

#endif
