#include "mlu_kernels/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mlu::kernels {
namespace {

constexpr std::chrono::microseconds kPollBeforeSleeping{1000};

// One job at a time: chunks are claimed through an atomic counter, so a helper that the OS
// schedules late simply claims fewer chunks instead of holding everyone up.
class Pool {
 public:
  explicit Pool(int helpers) : awake_(helpers) {
    if (sched_getaffinity(0, sizeof(allowed_), &allowed_) != 0) CPU_ZERO(&allowed_);
    for (int i = 0; i < helpers; ++i) {
      threads_.emplace_back([this] { serve(); });
      // Named here, not by the helper itself: a helper not yet scheduled would go unnamed for a
      // while. For top -H, gdb and py-spy.
      pthread_setname_np(threads_.back().native_handle(), "mlu-kernel");
    }
  }

  // Never destroyed: helpers may be asleep inside serve() when the process exits.

  bool try_run(std::int64_t n, std::int64_t chunk,
               const std::function<void(std::int64_t, std::int64_t)>& fn, bool awake_only) {
    if (awake_only && awake_.load(std::memory_order_relaxed) == 0) {
      wake_for_next_job();
      return false;
    }
    std::unique_lock busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    keep_helpers_off(sched_getcpu());
    {
      std::lock_guard lock(mutex_);
      fn_ = &fn;
      n_ = n;
      chunk_ = chunk;
      next_.store(0);
      active_ = 0;
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    poll_for_helpers();
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return active_ == 0 && next_.load() >= n_; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  // A helper on the caller's core cannot join: the caller runs through the whole job (shorter than
  // a scheduler slice) while the helper waits behind it, and the load balancer leaves it there when
  // the other core is busy too, with the dispatching thread. Which core a helper first landed on
  // decided a process's speed (attention 100 or 210 us, one process or the next). So the helpers
  // are kept off the caller's core, moved only when the caller has moved; under busy_.
  void keep_helpers_off(int caller_cpu) {
    if (caller_cpu == caller_cpu_ || caller_cpu < 0 || !CPU_ISSET(caller_cpu, &allowed_)) return;
    caller_cpu_ = caller_cpu;
    cpu_set_t others = allowed_;
    CPU_CLR(caller_cpu, &others);
    if (CPU_COUNT(&others) == 0) return;
    for (auto& thread : threads_)
      pthread_setaffinity_np(thread.native_handle(), sizeof(others), &others);
  }

  void serve() {
    std::uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
      lock.unlock();
      poll_for_job(seen);
      --awake_;
      lock.lock();
      wake_.wait(lock, [&] { return (generation_ != seen && fn_ != nullptr) || woken_; });
      ++awake_;
      if (woken_) {  // no job yet: poll for one
        woken_ = false;
        continue;
      }
      seen = generation_;
      ++active_;
      lock.unlock();
      work();
      lock.lock();
      --active_;
      finished_.notify_all();
    }
  }

  // Wakes a sleeping helper to poll for the jobs that follow, without giving it this one.
  void wake_for_next_job() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wake_.notify_one();
  }

  // A helper that went to sleep after its last job wakes too late for the next kernel of a step
  // on a virtual machine, whose scheduler puts a lightly used thread on the busy core of the thread
  // waking it. The caller then runs every chunk alone (a 512x384x128 product took 500 us instead
  // of 300 after a pause). So a helper polls a while first.
  void poll_for_job(std::uint64_t seen) const {
    const auto deadline = std::chrono::steady_clock::now() + kPollBeforeSleeping;
    while (generation_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();  // any other runnable thread on this core goes first
    }
  }

  // The helpers finish their last chunks soon after the caller, and sleeping on the condition
  // variable meanwhile added a wake-up to every job: gpt_small's fifteen GEMM shapes took 5.7 ms
  // with the caller sleeping and 4.8 ms with it polling (4.2 ms on PyTorch CPU's OpenBLAS).
  void poll_for_helpers() const {
    const auto deadline = std::chrono::steady_clock::now() + kPollBeforeSleeping;
    while (active_.load(std::memory_order_acquire) > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }

  void work() {
    for (;;) {
      const std::int64_t begin = next_.fetch_add(chunk_);
      if (begin >= n_) return;
      try {
        (*fn_)(begin, std::min(n_, begin + chunk_));
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::atomic<std::uint64_t> generation_{0};  // changed under mutex_, polled without it
  const std::function<void(std::int64_t, std::int64_t)>* fn_ = nullptr;
  std::int64_t n_ = 0, chunk_ = 1;
  std::atomic<std::int64_t> next_{0};
  std::atomic<int> active_{0};  // changed under mutex_, polled without it
  std::atomic<int> awake_{0};   // helpers working or polling for a job, not asleep
  bool woken_ = false;          // a helper is asked to poll for jobs; under mutex_
  std::exception_ptr error_;
  cpu_set_t allowed_;    // the cores the helpers started with: their creator's
  int caller_cpu_ = -1;  // the core the helpers are kept off; under busy_
  std::vector<std::thread> threads_;
};

// The cores the calling thread may run on (taskset, a container's cpuset), not all the host's:
// more kernel threads than cores only take turns.
int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Pool& pool() {
  static Pool* instance = new Pool(kernel_threads() - 1);
  return *instance;
}

}  // namespace

int kernel_threads_from_environment() {
  const char* env = std::getenv("MLU_KERNEL_THREADS");
  if (env == nullptr) return available_cores();
  char* end = nullptr;
  const long value =
      std::isdigit(static_cast<unsigned char>(env[0])) ? std::strtol(env, &end, 10) : 0;
  if (end == nullptr || *end != '\0' || value < 1 || value > 1024) {
    throw std::invalid_argument(
        std::string("MLU_KERNEL_THREADS must be an integer from 1 to 1024, got '") + env + "'");
  }
  return static_cast<int>(value);
}

int kernel_threads() {
  static const int threads = [] {
    try {
      return kernel_threads_from_environment();
    } catch (const std::invalid_argument&) {
      return available_cores();
    }
  }();
  return threads;
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  const int threads = kernel_threads();
  if (threads == 1 || n < 2 * grain) {
    fn(0, n);
    return;
  }
  // A few chunks per thread balance a late helper without much claiming overhead.
  const std::int64_t chunk = std::max(grain, (n + 4 * threads - 1) / (4 * threads));
  if (!pool().try_run(n, chunk, fn, false)) fn(0, n);
}

void parallel_for_awake(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n > 1 && kernel_threads() > 1 && pool().try_run(n, 1, fn, true)) return;
  for (std::int64_t i = 0; i < n; ++i) fn(i, i + 1);
}

}  // namespace mlu::kernels
