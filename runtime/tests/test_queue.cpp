// Queues: asynchronous FIFO execution, independence of queues, device-wide synchronisation.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

namespace mlu {
namespace {

using test_support::drv;
using test_support::Gate;
using test_support::ScopedQueue;

TEST(Queue, EmptyQueueIsIdle) {
  ScopedQueue q(0);
  EXPECT_TRUE(drv().query(q.get()));
  drv().synchronize(q.get());
}

TEST(Queue, LaunchReturnsBeforeTheWorkRuns) {
  ScopedQueue q(0);
  Gate gate;
  std::atomic<bool> ran{false};
  drv().launch(q.get(), "hold", gate.hold());
  drv().launch(q.get(), "flag", [&] { ran = true; });

  EXPECT_FALSE(drv().query(q.get()));
  EXPECT_FALSE(ran);
  gate.open();
  drv().synchronize(q.get());
  EXPECT_TRUE(ran);
  EXPECT_TRUE(drv().query(q.get()));
}

TEST(Queue, WorkRunsOnAThreadNamedAfterTheDeviceAndQueue) {
  ScopedQueue q(0);
  char name[16] = {};
  drv().launch(q.get(), "name", [&] { pthread_getname_np(pthread_self(), name, sizeof(name)); });
  drv().synchronize(q.get());
  EXPECT_EQ(std::string(name).rfind("mlu0-queue", 0), 0u) << name;
}

TEST(Queue, RunsWorkInLaunchOrder) {
  ScopedQueue q(0);
  Gate gate;
  std::vector<int> order;  // written only by the executor, read after synchronize
  constexpr int kLaunches = 1000;
  // Held, so that all the work is queued before any of it runs.
  drv().launch(q.get(), "hold", gate.hold());
  for (int i = 0; i < kLaunches; ++i)
    drv().launch(q.get(), "append", [&, i] { order.push_back(i); });
  gate.open();
  drv().synchronize(q.get());

  std::vector<int> expected(kLaunches);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(order, expected);
}

TEST(Queue, LaunchesFromManyThreadsKeepEachThreadsOrder) {
  ScopedQueue q(0);
  constexpr int kThreads = 4;
  constexpr int kLaunches = 250;
  std::vector<std::pair<int, int>> ran;  // (thread, sequence), written only by the executor
  std::vector<std::thread> launchers;
  for (int t = 0; t < kThreads; ++t) {
    launchers.emplace_back([&, t] {
      for (int i = 0; i < kLaunches; ++i) {
        drv().launch(q.get(), "append", [&ran, t, i] { ran.emplace_back(t, i); });
      }
    });
  }
  for (std::thread& launcher : launchers) launcher.join();
  drv().synchronize(q.get());

  ASSERT_EQ(ran.size(), static_cast<std::size_t>(kThreads * kLaunches));
  std::vector<int> next(kThreads, 0);
  for (const auto& [t, i] : ran) EXPECT_EQ(i, next[t]++) << "thread " << t;
}

TEST(Queue, QueuesOnOneDeviceRunIndependently) {
  ScopedQueue held_a(0), held_b(0), free_queue(0);
  Gate gate;
  drv().launch(held_a.get(), "hold", gate.hold());
  drv().launch(held_b.get(), "hold", gate.hold());
  std::atomic<bool> ran{false};
  drv().launch(free_queue.get(), "flag", [&] { ran = true; });

  // Would hang if free_queue shared an executor with the held queues.
  drv().synchronize(free_queue.get());
  EXPECT_TRUE(ran);
  EXPECT_FALSE(drv().query(held_a.get()));
  EXPECT_FALSE(drv().query(held_b.get()));
  gate.open();
  drv().synchronize(held_a.get());
  drv().synchronize(held_b.get());
}

// A synchronize waits for the work launched before it, not after; with two waiters, the first
// returns when its work is done and the second keeps waiting for its own (a waiter is woken only
// when the queue reaches its target).
TEST(Queue, SynchronizersReturnWhenTheirOwnWorkIsDone) {
  using namespace std::chrono_literals;
  ScopedQueue q(0);
  Gate first_gate, second_gate;
  drv().launch(q.get(), "first", first_gate.hold());
  std::atomic<bool> first_entering{false}, first_returned{false}, second_returned{false};
  std::thread first([&] {
    first_entering = true;
    drv().synchronize(q.get());
    first_returned = true;
  });
  while (!first_entering) std::this_thread::yield();
  std::this_thread::sleep_for(200ms);  // the first waiter waits by now, on a loaded machine too
  drv().launch(q.get(), "second", second_gate.hold());
  std::thread second([&] {
    drv().synchronize(q.get());
    second_returned = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(first_returned);
  first_gate.open();
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !first_returned && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(first_returned);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(second_returned);
  second_gate.open();
  first.join();
  second.join();
  EXPECT_TRUE(second_returned);
}

TEST(Queue, KnowsItsDevice) {
  ScopedQueue q0(0);
  EXPECT_EQ(drv().queue_device(q0.get()), 0);
  MLU_REQUIRE_TWO_DEVICES();
  ScopedQueue q1(1);
  EXPECT_EQ(drv().queue_device(q1.get()), 1);
}

TEST(Queue, SynchronizeDeviceWaitsForAllItsQueues) {
  ScopedQueue a(0), b(0);
  Gate gate;
  std::atomic<int> done{0};
  for (hal::Queue* q : {a.get(), b.get()}) {
    drv().launch(q, "hold", gate.hold());
    drv().launch(q, "count", [&] { ++done; });
  }
  std::thread opener([&] { gate.open(); });
  drv().synchronize_device(0);
  EXPECT_EQ(done, 2);
  EXPECT_TRUE(drv().query(a.get()));
  EXPECT_TRUE(drv().query(b.get()));
  opener.join();
}

TEST(Queue, SynchronizeDeviceIgnoresOtherDevices) {
  MLU_REQUIRE_TWO_DEVICES();
  ScopedQueue other(1);
  Gate gate;
  drv().launch(other.get(), "hold", gate.hold());
  drv().synchronize_device(0);  // would hang if it waited for device 1
  EXPECT_FALSE(drv().query(other.get()));
  gate.open();
  drv().synchronize_device(1);
  EXPECT_TRUE(drv().query(other.get()));
}

TEST(Queue, DestroyWaitsForEnqueuedWork) {
  hal::Queue* q = drv().create_queue(0, 0);
  Gate gate;
  std::atomic<bool> ran{false};
  drv().launch(q, "hold", gate.hold());
  drv().launch(q, "flag", [&] { ran = true; });
  std::thread opener([&] { gate.open(); });
  drv().destroy_queue(q);
  EXPECT_TRUE(ran);
  opener.join();
}

TEST(Queue, DestroyWhileAnotherThreadSynchronizesTheDevice) {
  // synchronize_device() waits on the queues it found; destroying one meanwhile must be safe.
  std::atomic<bool> stop{false};
  std::thread synchronizer([&] {
    while (!stop) drv().synchronize_device(0);
  });
  for (int i = 0; i < 200; ++i) {
    hal::Queue* q = drv().create_queue(0, 0);
    drv().launch(q, "noop", [] {});
    drv().destroy_queue(q);
  }
  stop = true;
  synchronizer.join();
}

}  // namespace
}  // namespace mlu
