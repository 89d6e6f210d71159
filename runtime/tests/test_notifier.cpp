// Notifiers: completion, cross-queue ordering with record/wait, and timing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "test_support.h"

namespace mlu {
namespace {

using test_support::drv;
using test_support::Gate;
using test_support::kind_of;
using test_support::ScopedNotifier;
using test_support::ScopedQueue;
using ::testing::HasSubstr;

TEST(Notifier, NeverRecordedIsComplete) {
  ScopedQueue q(0);
  ScopedNotifier n(0);
  EXPECT_TRUE(drv().query(n.get()));
  drv().synchronize(n.get());
  drv().wait(q.get(), n.get());  // nothing to wait for: enqueues nothing
  EXPECT_TRUE(drv().query(q.get()));
}

TEST(Notifier, CompletesWhenTheQueueReachesTheRecord) {
  ScopedQueue q(0);
  ScopedNotifier n(0);
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().record(n.get(), q.get());
  EXPECT_FALSE(drv().query(n.get()));
  gate.open();
  drv().synchronize(n.get());
  EXPECT_TRUE(drv().query(n.get()));
}

TEST(Notifier, SynchronizeWaitsOnlyForWorkBeforeTheRecord) {
  ScopedQueue q(0);
  ScopedNotifier n(0);
  Gate gate;
  drv().record(n.get(), q.get());
  drv().launch(q.get(), "hold", gate.hold());
  drv().synchronize(n.get());  // would hang if it waited for the whole queue
  EXPECT_TRUE(drv().query(n.get()));
  EXPECT_FALSE(drv().query(q.get()));
  gate.open();
}

TEST(Notifier, ReRecordingMakesItPendingAgain) {
  ScopedQueue q(0);
  ScopedNotifier n(0);
  drv().record(n.get(), q.get());
  drv().synchronize(n.get());
  ASSERT_TRUE(drv().query(n.get()));

  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().record(n.get(), q.get());
  EXPECT_FALSE(drv().query(n.get()));
  gate.open();
  drv().synchronize(n.get());
  EXPECT_TRUE(drv().query(n.get()));
}

// A wait holds the record that was newest when it was enqueued: re-recording the notifier on an
// idle queue must not release it while the first record's queue is still busy.
TEST(Notifier, AReRecordDoesNotReleaseAnEarlierWait) {
  ScopedQueue busy(0), idle(0), waiter(0);
  ScopedNotifier n(0);
  Gate gate;
  std::atomic<bool> busy_done{false}, waiter_saw_busy{false};
  drv().launch(busy.get(), "hold", gate.hold());
  drv().launch(busy.get(), "work", [&] { busy_done = true; });
  drv().record(n.get(), busy.get());
  drv().wait(waiter.get(), n.get());
  drv().launch(waiter.get(), "after", [&] { waiter_saw_busy = busy_done.load(); });
  drv().record(n.get(), idle.get());
  drv().synchronize(idle.get());
  EXPECT_TRUE(drv().query(n.get()));  // the newest record is done
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(drv().query(waiter.get()));  // but the waiter still waits for the first
  gate.open();
  drv().synchronize(waiter.get());
  EXPECT_TRUE(waiter_saw_busy);
}

// Queue b waits for a record on queue a, which is held: b's later work must not run until a is
// released. Devices may differ.
void expect_wait_orders_queues(int device_a, int device_b) {
  ScopedQueue a(device_a), b(device_b);
  ScopedNotifier n(device_a);
  Gate gate;
  std::atomic<bool> a_done{false}, b_ran{false}, b_saw_a{false};
  drv().launch(a.get(), "hold", gate.hold());
  drv().launch(a.get(), "a", [&] { a_done = true; });
  drv().record(n.get(), a.get());
  drv().wait(b.get(), n.get());
  drv().launch(b.get(), "b", [&] {
    b_saw_a = a_done.load();
    b_ran = true;
  });

  EXPECT_FALSE(drv().query(b.get()));
  EXPECT_FALSE(b_ran);
  gate.open();
  drv().synchronize(b.get());
  EXPECT_TRUE(b_ran);
  EXPECT_TRUE(b_saw_a);
  EXPECT_TRUE(drv().query(n.get()));
}

TEST(Notifier, WaitOrdersQueuesOnOneDevice) { expect_wait_orders_queues(0, 0); }

TEST(Notifier, WaitOrdersQueuesAcrossDevices) {
  MLU_REQUIRE_TWO_DEVICES();
  expect_wait_orders_queues(0, 1);
}

TEST(Notifier, WaitUsesTheRecordMadeBeforeIt) {
  // As with CUDA events: a later re-record does not change what an earlier wait waits for.
  ScopedQueue a(0), b(0), c(0);
  ScopedNotifier n(0);
  Gate gate_a, gate_c;
  drv().launch(a.get(), "hold", gate_a.hold());
  drv().record(n.get(), a.get());
  drv().wait(b.get(), n.get());
  drv().launch(c.get(), "hold", gate_c.hold());
  drv().record(n.get(), c.get());

  gate_a.open();
  drv().synchronize(b.get());  // would hang if b waited for the record on c
  EXPECT_FALSE(drv().query(n.get()));
  gate_c.open();
  drv().synchronize(n.get());
  EXPECT_TRUE(drv().query(n.get()));
}

TEST(Notifier, CanBeDestroyedWhileItsRecordAndWaitAreEnqueued) {
  // The usual cross-queue copy: record, wait, destroy at once, long before the queues get there.
  ScopedQueue a(0), b(0);
  Gate gate;
  std::atomic<bool> b_ran{false};
  drv().launch(a.get(), "hold", gate.hold());
  hal::Notifier* n = drv().create_notifier(0, false);
  drv().record(n, a.get());
  drv().wait(b.get(), n);
  drv().destroy_notifier(n);
  drv().launch(b.get(), "b", [&] { b_ran = true; });

  EXPECT_FALSE(b_ran);
  gate.open();
  drv().synchronize(a.get());
  drv().synchronize(b.get());
  EXPECT_TRUE(b_ran);
}

TEST(Notifier, ElapsedTimeCoversWorkBetweenRecords) {
  ScopedQueue q(0);
  ScopedNotifier start(0, true), end(0, true);
  constexpr auto kSleep = std::chrono::milliseconds(20);
  drv().record(start.get(), q.get());
  drv().launch(q.get(), "sleep", [&] { std::this_thread::sleep_for(kSleep); });
  drv().record(end.get(), q.get());
  drv().synchronize(end.get());
  // No upper bound: a loaded host may stretch the interval arbitrarily.
  EXPECT_GE(drv().elapsed_ms(start.get(), end.get()), 20.0f);
}

TEST(Notifier, ElapsedTimeNeedsTimingOnBoth) {
  ScopedQueue q(0);
  ScopedNotifier timed(0, true), untimed(0, false);
  drv().record(timed.get(), q.get());
  drv().record(untimed.get(), q.get());
  drv().synchronize(q.get());
  for (auto [first, second] :
       {std::pair(timed.get(), untimed.get()), std::pair(untimed.get(), timed.get())}) {
    try {
      drv().elapsed_ms(first, second);
      ADD_FAILURE() << "elapsed_ms accepted a notifier without timing";
    } catch (const hal::Error& e) {
      EXPECT_EQ(e.kind(), hal::ErrorKind::InvalidValue);
      EXPECT_THAT(e.what(), HasSubstr("timing"));
    }
  }
}

TEST(Notifier, ElapsedTimeNeedsCompletedRecords) {
  ScopedQueue q(0);
  ScopedNotifier start(0, true), end(0, true);
  EXPECT_EQ(kind_of([&] { drv().elapsed_ms(start.get(), end.get()); }),
            hal::ErrorKind::InvalidValue);

  drv().record(start.get(), q.get());
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().record(end.get(), q.get());
  drv().synchronize(start.get());
  EXPECT_EQ(kind_of([&] { drv().elapsed_ms(start.get(), end.get()); }),
            hal::ErrorKind::InvalidValue);
  gate.open();
  drv().synchronize(end.get());
  EXPECT_GE(drv().elapsed_ms(start.get(), end.get()), 0.0f);
}

}  // namespace
}  // namespace mlu
