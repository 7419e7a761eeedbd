#include "shm.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "errors.h"

namespace ffr {

void Mapping::reset() {
  if (p_ != nullptr && len_ != 0) ::munmap(p_, len_);
  p_ = nullptr;
  len_ = 0;
}

size_t page_round(size_t n) {
  const size_t pg = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (n + pg - 1) / pg * pg;
}

SharedRegion create_shared(const char* name, size_t size) {
  SharedRegion r;
  r.fd.reset(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!r.fd.valid()) throw_errno("memfd_create");
  if (::ftruncate(r.fd.get(), static_cast<off_t>(size)) != 0) throw_errno("ftruncate ring memfd");
  // Growing is harmless, shrinking would SIGBUS the router; seal both so the size is fixed.
  if (::fcntl(r.fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    throw_errno("seal ring memfd");
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd.get(), 0);
  if (p == MAP_FAILED) throw_errno("mmap ring memfd");
  r.map = Mapping(p, size);
  return r;
}

Mapping map_foreign(int fd, uint64_t offset, uint64_t length, uint64_t fd_size, uint8_t** base) {
  const uint64_t pg = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (offset > fd_size || length > fd_size - offset) throw_err(EINVAL, "MR range exceeds fdSize");
  struct stat st;
  if (::fstat(fd, &st) != 0) throw_errno("fstat MR fd");
  // memfds and shared files are regular files; a device or pipe could fault
  // or have side effects when the data plane touches it.
  if (!S_ISREG(st.st_mode)) throw_err(EINVAL, "MR fd is not a regular file (memfd expected)");
  // Only shmem/hugetlbfs: a page fault on a file of a FUSE (or network)
  // filesystem the container serves could block the data-plane thread, with
  // its lock held, for as long as the container likes.
  struct statfs sf;
  if (::fstatfs(fd, &sf) != 0) throw_errno("fstatfs MR fd");
  if (sf.f_type != TMPFS_MAGIC && sf.f_type != HUGETLBFS_MAGIC)
    throw_err(EINVAL, "MR fd is not on tmpfs/hugetlbfs (memfd expected)");
  if (static_cast<uint64_t>(st.st_size) < offset + length)
    throw_err(EINVAL, "MR fd is smaller than fdOffset + length");
  // Best effort: a memfd created without MFD_ALLOW_SEALING refuses (EPERM), and
  // other shared files cannot be sealed at all; those stay the shim's promise.
  (void)::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
  *base = nullptr;
  if (length == 0) return Mapping();
  const uint64_t start = offset / pg * pg;
  const uint64_t len = offset + length - start;
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(start));
  if (p == MAP_FAILED) throw_errno("mmap MR fd");
  *base = static_cast<uint8_t*>(p) + (offset - start);
  return Mapping(p, len);
}

}  // namespace ffr
