#include "host_access.h"

#include <ATen/record_function.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>

#include "mlu/hal.h"

namespace torch_mlu {
namespace {

// The operators running on this thread, outermost first (only the first kDepth are named).
constexpr int kDepth = 32;
struct RunningOperators {
  const char* names[kDepth];
  int depth = 0;
};
thread_local RunningOperators t_running;

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
  RunningOperators& r = t_running;
  if (r.depth < kDepth) r.names[r.depth] = fn.name();
  ++r.depth;
  return nullptr;
}

void on_exit(const at::RecordFunction&, at::ObserverContext*) {
  RunningOperators& r = t_running;
  if (r.depth > 0) --r.depth;
}

struct sigaction g_previous_segv, g_previous_bus;

// Async-signal-safe output: write(2) only.
void put(const char* text) {
  const std::size_t n = std::strlen(text);
  if (write(STDERR_FILENO, text, n) < 0) return;
}

void put_address(const void* address) {
  char text[2 + 16 + 1] = "0x";
  auto value = reinterpret_cast<std::uintptr_t>(address);
  for (int i = 15; i >= 0; --i, value >>= 4) text[2 + i] = "0123456789abcdef"[value & 15];
  text[18] = '\0';
  put(text);
}

void on_fault(int signal, siginfo_t* info, void*) {
  if (mlu::hal::is_protected_device_address(info->si_addr)) {
    const RunningOperators& r = t_running;
    put("\ntorch_mlu: the host touched mlu device memory at ");
    put_address(info->si_addr);
    if (r.depth == 0) {
      put(" outside any PyTorch operator");
    } else {
      put(" in ");
      put(r.names[(r.depth < kDepth ? r.depth : kDepth) - 1]);
      if (r.depth > 1) {
        put(" (called from ");
        put(r.names[0]);
        put(")");
      }
    }
    put(". With MLU_STRICT_DEVICE_MEMORY=1 the host reaches device memory only through the "
        "driver's copies, as on hardware.\n");
  }
  // The faulting instruction runs again and the previous handler takes it.
  sigaction(signal, signal == SIGSEGV ? &g_previous_segv : &g_previous_bus, nullptr);
}

}  // namespace

void report_host_access_faults() {
  static std::once_flag once;
  std::call_once(once, [] {
    at::addGlobalCallback(
        at::RecordFunctionCallback(&on_enter, &on_exit)
            .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
    struct sigaction action{};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &g_previous_segv);
    sigaction(SIGBUS, &action, &g_previous_bus);
  });
}

}  // namespace torch_mlu
