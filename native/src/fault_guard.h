// Survives a shim that truncates a registered memfd under us: a copy that
// touches a page past the file's new end takes SIGBUS; inside a guarded call
// the data-plane thread turns that into a failed copy (an error completion for
// the guilty side) instead of a dead router for every tenant.
#pragma once

namespace ffr {

// Installs the process-wide SIGBUS handler once. Faults outside a guarded
// call go to whatever handler was there before (default: terminate).
void install_fault_guard();

// Runs fn(arg); returns false and sets *fault_addr when it took SIGBUS.
// fn must not own resources with destructors: the fault unwinds it by
// siglongjmp.
bool run_guarded(void (*fn)(void*), void* arg, const void** fault_addr);

}  // namespace ffr
