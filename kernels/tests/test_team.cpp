// Generated kernels' parallel regions (mlu_kernels/team.h), called as GCC's OpenMP code calls
// them: every iteration once, barriers ordering the loops, one member per single block, and a
// member joining late passing what is already done. Also run under ThreadSanitizer.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "mlu_kernels/team.h"
#include "team_region.h"

namespace mlu::kernels::team {
namespace {

// What `#pragma omp for schedule(dynamic)` over [start, end) by incr compiles to.
template <typename Body>
void dynamic_loop(long start, long end, long incr, Body body, bool wait = true) {
  long begin = 0, stop = 0;
  for (bool more = loop_start(start, end, incr, &begin, &stop); more;
       more = loop_next(&begin, &stop)) {
    for (long i = begin; incr > 0 ? i < stop : i > stop; i += incr) body(i);
  }
  loop_end(wait);
}

// Three phases, each reading what other members wrote in the one before.
struct Phases {
  static constexpr long kCount = 1000;
  std::vector<long> first = std::vector<long>(kCount), second = std::vector<long>(kCount);
  std::atomic<int> singles{0};
  std::atomic<long> total{0};
  long partial[2] = {0, 0};

  static void run(void* data) {
    auto& p = *static_cast<Phases*>(data);
    dynamic_loop(0, kCount, 1, [&](long i) { p.first[i] = i * 3; });
    dynamic_loop(kCount - 1, -1, -1, [&](long i) { p.second[i] = p.first[kCount - 1 - i] + 1; });
    if (single_start()) p.singles++;
    barrier();
    long local = 0;
    dynamic_loop(0, kCount, 7, [&](long i) { local += p.second[i]; });
    p.partial[thread_num()] = local;
  }
};

TEST(Team, LoopsBarriersAndSinglesInManyRegions) {
  for (int round = 0; round < 300; ++round) {
    Phases p;
    parallel(Phases::run, &p, 2);
    long expected = 0;
    for (long i = 0; i < Phases::kCount; ++i) {
      ASSERT_EQ(p.second[i], (Phases::kCount - 1 - i) * 3 + 1) << round << " " << i;
      if (i % 7 == 0) expected += p.second[i];
    }
    ASSERT_EQ(p.singles.load(), 1);
    ASSERT_EQ(p.partial[0] + p.partial[1], expected);
  }
}

TEST(Team, LoopRangesOfAnyStepAndNone) {
  for (const auto& [start, end, incr] : std::vector<std::array<long, 3>>{
           {0, 100, 16}, {5, 6, 1}, {0, 0, 1}, {10, 0, 1}, {100, 3, -16}, {-8, 8, 3}}) {
    std::vector<int> hits(256);
    struct Args {
      long start, end, incr;
      std::vector<int>* hits;
    } args{start, end, incr, &hits};
    parallel(
        [](void* data) {
          auto& a = *static_cast<Args*>(data);
          dynamic_loop(a.start, a.end, a.incr, [&](long i) { ++(*a.hits)[i + 100]; });
        },
        &args, 2);
    for (long i = -100; i < 156; ++i) {
      const bool in_range = incr > 0 ? i >= start && i < end && (i - start) % incr == 0
                                     : i <= start && i > end && (start - i) % -incr == 0;
      ASSERT_EQ(hits[i + 100], in_range ? 1 : 0) << start << " " << end << " " << incr << " " << i;
    }
  }
}

TEST(Team, ConstructsOutsideARegionRunOnTheCaller) {
  std::vector<int> hits(10);
  dynamic_loop(0, 10, 1, [&](long i) { ++hits[i]; });
  for (int h : hits) EXPECT_EQ(h, 1);
  EXPECT_TRUE(single_start());
  barrier();
  EXPECT_EQ(thread_num(), 0);
}

TEST(Team, NestedRegionsRunOnTheCallingThread) {
  std::atomic<int> inner_members{0};
  struct Args {
    std::atomic<int>* inner_members;
  } args{&inner_members};
  parallel(
      [](void* data) {
        auto& a = *static_cast<Args*>(data);
        const int outer = thread_num();
        parallel([](void* d) { static_cast<Args*>(d)->inner_members->fetch_add(1); }, data, 2);
        EXPECT_EQ(thread_num(), outer);  // restored after the inner region
      },
      &args, 2);
  EXPECT_GE(inner_members.load(), 1);
  EXPECT_LE(inner_members.load(), 2);
}

// A member that joins after the others passed a barrier skips the finished loop and the released
// barrier, then shares the next loop; one joining after the region is over does nothing.
TEST(Team, ALateMemberPassesWhatIsDone) {
  struct State {
    std::vector<int> first = std::vector<int>(64), second = std::vector<int>(64);
    std::atomic<bool> first_passed{false}, late_joined{false};
    std::atomic<int> singles{0}, runs{0};
  } state;
  Region region(
      [](void* data) {
        auto& s = *static_cast<State*>(data);
        s.runs++;
        if (thread_num() == 1) s.late_joined = true;
        dynamic_loop(0, 64, 1, [&](long i) { ++s.first[i]; });
        if (thread_num() == 0) {
          s.first_passed = true;
          while (!s.late_joined) std::this_thread::yield();
        }
        dynamic_loop(0, 64, 1, [&](long i) { ++s.second[i]; });
        if (single_start()) s.singles++;
        barrier();
      },
      &state, 2);
  std::thread early([&] { region.run_member(0); });
  while (!state.first_passed) std::this_thread::yield();
  region.run_member(1);
  early.join();
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(state.first[i], 1) << i;
    EXPECT_EQ(state.second[i], 1) << i;
  }
  EXPECT_EQ(state.singles.load(), 1);
  region.run_member(1);
  EXPECT_EQ(state.runs.load(), 2);
}

}  // namespace
}  // namespace mlu::kernels::team
