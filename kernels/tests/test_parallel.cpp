// The kernel threads: parallel_for covers its range exactly once, from several calling threads
// at once (queues run kernels concurrently; one job holds the helpers, the others run serially),
// and an exception in any chunk reaches the caller; the helpers stay off the caller's core. Also
// run under ThreadSanitizer.
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mlu_kernels/parallel.h"

namespace mlu::kernels {
namespace {

TEST(Parallel, EveryIndexOnceFromSeveralCallersAtOnce) {
  constexpr std::int64_t kCount = 1 << 18;
  std::vector<std::thread> callers;
  std::vector<std::vector<std::uint8_t>> seen(4, std::vector<std::uint8_t>(kCount));
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 5; ++round) {
        parallel_for(kCount, 1 << 10, [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) ++seen[c][i];
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  for (int c = 0; c < 4; ++c) {
    for (std::int64_t i = 0; i < kCount; ++i) ASSERT_EQ(seen[c][i], 5) << c << " " << i;
  }
}

TEST(Parallel, AnExceptionInAChunkReachesTheCaller) {
  std::atomic<std::int64_t> done{0};
  EXPECT_THROW(parallel_for(1 << 18, 1 << 10,
                            [&](std::int64_t begin, std::int64_t end) {
                              if (begin == 0) throw std::runtime_error("chunk failed");
                              done += end - begin;
                            }),
               std::runtime_error);
  // The pool is usable afterwards.
  std::atomic<std::int64_t> total{0};
  parallel_for(1 << 18, 1 << 10,
               [&](std::int64_t begin, std::int64_t end) { total += end - begin; });
  EXPECT_EQ(total.load(), 1 << 18);
}

// With the helpers asleep or awake, from several callers at once: each index once, as a call of
// its own.
TEST(Parallel, AwakeHelpersOnlyStillCoverEveryIndexOnce) {
  std::vector<std::thread> callers;
  std::vector<std::vector<std::uint8_t>> seen(3, std::vector<std::uint8_t>(64));
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 200; ++round) {
        if (round % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
        parallel_for_awake(64, [&](std::int64_t begin, std::int64_t end) {
          ASSERT_EQ(end, begin + 1);
          ++seen[c][begin];
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 64; ++i) ASSERT_EQ(seen[c][i], 200) << c << " " << i;
  }
}

// The cores each helper thread may run on, found by the helpers' thread name.
std::vector<cpu_set_t> helper_cores() {
  std::vector<cpu_set_t> cores;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    cpu_set_t set;
    if (name == "mlu-kernel" &&
        sched_getaffinity(std::stoi(task.path().filename()), sizeof(set), &set) == 0) {
      cores.push_back(set);
    }
  }
  return cores;
}

// Restores the calling thread's cores however the test ends.
class PinnedThread {
 public:
  PinnedThread() { sched_getaffinity(0, sizeof(saved_), &saved_); }
  ~PinnedThread() { sched_setaffinity(0, sizeof(saved_), &saved_); }
  bool pin(int cpu) {
    cpu_set_t only;
    CPU_ZERO(&only);
    CPU_SET(cpu, &only);
    return sched_setaffinity(0, sizeof(only), &only) == 0;
  }
  const cpu_set_t& saved() const { return saved_; }

 private:
  cpu_set_t saved_;
};

// A helper sharing the caller's core cannot join its jobs; it follows the caller to the other one.
TEST(Parallel, HelpersAreKeptOffTheCallersCore) {
  PinnedThread caller;
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
    if (CPU_ISSET(cpu, &caller.saved())) cpus.push_back(cpu);
  }
  if (cpus.size() < 2 || kernel_threads() < 2) {
    GTEST_SKIP() << "needs two cores and two kernel threads (MLU_KERNEL_THREADS)";
  }
  const auto job = [] { parallel_for(1 << 18, 1 << 10, [](std::int64_t, std::int64_t) {}); };
  job();  // the pool exists, with this thread's cores
  for (int round = 0; round < 2; ++round) {
    const int on = cpus[round], off = cpus[1 - round];
    ASSERT_TRUE(caller.pin(on));
    job();
    const auto helpers = helper_cores();
    ASSERT_EQ(static_cast<int>(helpers.size()), kernel_threads() - 1);
    for (const auto& cores : helpers) {
      EXPECT_FALSE(CPU_ISSET(on, &cores)) << "a helper may run on the caller's core " << on;
      EXPECT_TRUE(CPU_ISSET(off, &cores)) << "a helper may not run on core " << off;
    }
  }
}

// Unset, MLU_KERNEL_THREADS means the cores the process may run on: under taskset or a container's
// cpuset that is fewer than the host's, and more threads than cores only take turns.
TEST(Parallel, KernelThreadsDefaultToTheCoresTheThreadMayRunOn) {
  const char* set = std::getenv("MLU_KERNEL_THREADS");
  const std::optional<std::string> saved = set ? std::optional<std::string>(set) : std::nullopt;
  unsetenv("MLU_KERNEL_THREADS");
  PinnedThread caller;
  EXPECT_EQ(kernel_threads_from_environment(), CPU_COUNT(&caller.saved()));
  int first = 0;
  while (!CPU_ISSET(first, &caller.saved())) ++first;
  EXPECT_TRUE(caller.pin(first));
  EXPECT_EQ(kernel_threads_from_environment(), 1);
  if (saved) setenv("MLU_KERNEL_THREADS", saved->c_str(), 1);
}

}  // namespace
}  // namespace mlu::kernels
