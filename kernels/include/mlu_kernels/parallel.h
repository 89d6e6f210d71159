// The kernel library's cores: the calling thread (a queue's executor) and helper threads, which
// poll for a job for 1 ms after each one, yielding to other threads, then sleep, so that they do
// not compete with the thread that dispatches operators. Helpers are kept off the core of the
// thread that called last (named "mlu-kernel"; a queue's executor is "mlu<device>-queue<n>").
#pragma once

#include <cstdint>
#include <functional>

namespace mlu::kernels {

// Work below this many elements runs on the calling thread: waking a helper costs more.
constexpr std::int64_t kParallelGrain = 1 << 16;

// Calls fn(begin, end) on disjoint chunks covering [0, n), each at least grain long unless n is
// smaller, on the calling thread and the helpers; returns when all are done. Exceptions from any
// chunk are rethrown here. Serial when the helpers are busy with another kernel.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

// Calls fn(i, i + 1) for each i in [0, n) like parallel_for, but with the helpers that are awake
// (polling after a recent job) only: one woken from sleep on a busy virtual machine starts after
// short work is done (it shares the other core with the dispatching thread; waking it for every
// region made compiled resnet18_small 6% slower). A sleeping helper is woken for the calls
// that follow instead.
void parallel_for_awake(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn);

// Threads a kernel may use: MLU_KERNEL_THREADS, or the cores the process may run on. Never throws:
// an invalid setting counts as unset here, and the integration reports it through the function
// below.
int kernel_threads();

// MLU_KERNEL_THREADS read strictly: the calling thread's allowed cores when unset, a whole number
// from 1 to 1024 otherwise; throws std::invalid_argument naming the variable and its value.
int kernel_threads_from_environment();

}  // namespace mlu::kernels
