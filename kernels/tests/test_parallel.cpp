// The kernel threads: parallel_for covers its range exactly once, from several calling threads
// at once (queues run kernels concurrently; one job holds the helpers, the others run serially),
// and an exception in any chunk reaches the caller. Also run under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
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

}  // namespace
}  // namespace mlu::kernels
