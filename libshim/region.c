/* Registered memory regions (docs/design.md "Registered memory"): the pages
 * of a registered range must be a file the router can map too. Private
 * memory moves onto a memfd mapped at the same address (the app keeps its
 * pointers); memory already shared through a file is used as it is, since
 * moving it would silently cut it off from the other processes mapping it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>
#include "ffshim.h"
#include "sys.h"

struct ffs_region {
	uintptr_t start, end;	/* page aligned */
	int fd;			/* kept to send again when an MR reuses it */
	uint64_t fd_base;	/* file offset of start */
	uint64_t fd_size;
	unsigned refs;		/* MRs using it */
	struct ffs_region *next;
};

static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ffs_region *regions;

uint64_t ffs_region_fd_offset(const struct ffs_region *r, uintptr_t addr)
{
	return r->fd_base + (addr - r->start);
}

uint64_t ffs_region_fd_size(const struct ffs_region *r)
{
	return r->fd_size;
}

const int *ffs_region_fd(const struct ffs_region *r)
{
	return &r->fd;
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char line[384];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (n > 0 && ffs_sys_write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* stderr closed */
	}
}

/* Copies the current contents of [start, end) into a new memfd and maps it
 * over the range. A thread writing into the range during the copy can lose
 * that write: registration is expected to precede use of the buffer. */
static int move_to_memfd(struct ffs_region *r)
{
	size_t len = r->end - r->start, done = 0;
	void *p;
	int fd, ret;

	fd = memfd_create("ffshim-mr", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0)
		goto err_errno;
	while (done < len) {
		/* Raw syscall: whole pages are copied, bytes outside the app's
		 * object included, which a sanitizer's pwrite interceptor would
		 * report as an overflow. */
		ssize_t n = syscall(SYS_pwrite64, fd,
				    (const void *)(r->start + done), len - done,
				    (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EFAULT: part of the range is not mapped/readable. */
			goto err_errno;
		}
		done += (size_t)n;
	}
	p = mmap((void *)r->start, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		goto err_errno;
	r->fd = fd;
	r->fd_base = 0;
	r->fd_size = len;
	return 0;

err_errno:
	ret = -errno;
	ffs_sys_close(fd);
	return ret;
}

/* Looks the range up in /proc/self/maps. Returns 0 when every page is
 * private (move it), 1 when one shared file mapping covers it all and r now
 * holds that file, -EOPNOTSUPP for shared memory we cannot hand over
 * (SysV, shared anonymous, deleted or unopenable files, several mappings). */
static int use_shared_mapping(struct ffs_region *r)
{
	char line[4096 + 128];
	FILE *f = fopen("/proc/self/maps", "re");
	int shared = 0, covering = 0;
	char path[4096] = "";
	uint64_t off = 0, mstart = 0;
	unsigned long ino = 0;

	if (!f)
		return 0;	/* no procfs: treat as private, as before */
	while (fgets(line, sizeof(line), f)) {
		uintptr_t s, e;
		char perms[8], p[4096] = "";
		unsigned long long o;
		unsigned long in;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %lu %4095[^\n]",
			   &s, &e, perms, &o, &in, p) < 5)
			continue;
		if (e <= r->start || s >= r->end || perms[3] != 's')
			continue;
		/* Our own memfd from an earlier, since deregistered, MR: nobody
		 * else maps it, moving it again is safe. */
		if (strstr(p, "/memfd:ffshim-mr"))
			continue;
		shared++;
		if (s <= r->start && e >= r->end) {
			covering = 1;
			mstart = s;
			off = o;
			ino = in;
			snprintf(path, sizeof(path), "%s", p + strspn(p, " "));
		}
	}
	fclose(f);
	if (!shared)
		return 0;
	if (shared == 1 && covering && ino && path[0] == '/' &&
	    !strstr(path, " (deleted)")) {
		struct stat st;
		struct statfs sf;
		int fd = open(path, O_RDWR | O_CLOEXEC);

		/* The router maps only tmpfs/hugetlbfs files (a page fault on a
		 * FUSE or network file would stall its data plane). */
		if (fd >= 0 && !fstat(fd, &st) && st.st_ino == ino &&
		    !fstatfs(fd, &sf) &&
		    (sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC)) {
			r->fd = fd;
			r->fd_base = off + (r->start - mstart);
			r->fd_size = (uint64_t)st.st_size;
			return 1;
		}
		if (fd >= 0)
			ffs_sys_close(fd);
	}
	say("libffshim: cannot register [%p, %p): it is shared memory (%s) the router cannot map (EOPNOTSUPP)\n",
	    (void *)r->start, (void *)r->end, path[0] ? path : "anonymous");
	return -EOPNOTSUPP;
}

int ffs_region_get(uintptr_t addr, size_t length, struct ffs_region **out)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = addr & ~(pg - 1);
	uintptr_t end = (addr + length + pg - 1) & ~(pg - 1);
	struct ffs_region *r;
	int ret = 0;

	if (addr + length < addr || end < start)
		return -EINVAL;
	pthread_mutex_lock(&regions_lock);
	for (r = regions; r; r = r->next) {
		if (start >= r->start && end <= r->end) {
			r->refs++;
			goto out;
		}
		if (start < r->end && end > r->start) {
			say("libffshim: cannot register [%p, %p): it partially overlaps memory an earlier registration moved onto shared memory (known limit, EOPNOTSUPP)\n",
			    (void *)addr, (void *)(addr + length));
			ret = -EOPNOTSUPP;
			goto out;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	r->start = start;
	r->end = end;
	ret = use_shared_mapping(r);
	if (ret == 0)
		ret = move_to_memfd(r);
	else if (ret == 1)
		ret = 0;
	if (ret) {
		free(r);
		r = NULL;
		goto out;
	}
	r->refs = 1;
	r->next = regions;
	regions = r;
out:
	pthread_mutex_unlock(&regions_lock);
	*out = r;
	return ret;
}

/* The last MR gone: forget the region but leave the mapping in place, the
 * app's memory stays valid (the mapping keeps the file alive). */
void ffs_region_put(struct ffs_region *r)
{
	struct ffs_region **pp;

	pthread_mutex_lock(&regions_lock);
	if (--r->refs == 0) {
		for (pp = &regions; *pp; pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
		ffs_sys_close(r->fd);
		free(r);
	}
	pthread_mutex_unlock(&regions_lock);
}
