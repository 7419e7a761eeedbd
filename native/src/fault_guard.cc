#include "fault_guard.h"

#include <setjmp.h>
#include <signal.h>

#include <mutex>

namespace ffr {
namespace {

// initial-exec: the handler must not be the first to touch this TLS (the
// general-dynamic path may allocate, which is not async-signal-safe).
__attribute__((tls_model("initial-exec"))) thread_local sigjmp_buf* t_jmp = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local const void* t_fault = nullptr;
struct sigaction g_prev;
std::once_flag g_once;

void on_sigbus(int sig, siginfo_t* si, void* uc) {
  if (t_jmp != nullptr) {
    sigjmp_buf* j = t_jmp;
    t_jmp = nullptr;
    t_fault = si->si_addr;
    siglongjmp(*j, 1);
  }
  if ((g_prev.sa_flags & SA_SIGINFO) != 0 && g_prev.sa_sigaction != nullptr) {
    g_prev.sa_sigaction(sig, si, uc);
    return;
  }
  if ((g_prev.sa_flags & SA_SIGINFO) == 0 && g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN) {
    g_prev.sa_handler(sig);
    return;
  }
  // Not a guarded copy: restore the default so the faulting instruction,
  // re-executed on return, kills the process as it would have without us.
  signal(SIGBUS, SIG_DFL);
}

}  // namespace

void install_fault_guard() {
  std::call_once(g_once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    // NODEFER: we leave the handler by siglongjmp without restoring the
    // mask (sigsetjmp(.., 0) keeps it cheap), so SIGBUS must not stay blocked.
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_prev);
  });
}

bool run_guarded(void (*fn)(void*), void* arg, const void** fault_addr) {
  sigjmp_buf jb;
  if (sigsetjmp(jb, 0) != 0) {
    *fault_addr = t_fault;
    return false;
  }
  t_jmp = &jb;
  fn(arg);
  t_jmp = nullptr;
  return true;
}

}  // namespace ffr
