// Errors: asynchronous work failures raised at the next synchronising call, bad handles and
// device indices.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "test_support.h"

namespace mlu {
namespace {

using test_support::drv;
using test_support::kind_of;
using test_support::ScopedNotifier;
using test_support::ScopedQueue;
using ::testing::AllOf;
using ::testing::HasSubstr;

void fail_with(const char* what) { throw std::runtime_error(what); }

// The message of the KernelFailure that call raises; fails the test if it raises none.
std::string kernel_failure(const std::function<void()>& call) {
  try {
    call();
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::KernelFailure) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no failure raised";
  return "";
}

TEST(Errors, ErrorCarriesItsKindAndMessage) {
  const hal::Error error(hal::ErrorKind::OutOfMemory, "no room");
  EXPECT_EQ(error.kind(), hal::ErrorKind::OutOfMemory);
  EXPECT_STREQ(error.what(), "no room");
  const std::runtime_error& base = error;  // callers may catch the standard base
  EXPECT_STREQ(base.what(), "no room");
}

TEST(Errors, FailureIsRaisedAtTheNextSynchronizeThenCleared) {
  ScopedQueue q(0);
  drv().launch(q.get(), "scale_kernel", [] { fail_with("index 7 out of range"); });
  EXPECT_THAT(
      kernel_failure([&] { drv().synchronize(q.get()); }),
      AllOf(HasSubstr("mlu:0"), HasSubstr("scale_kernel"), HasSubstr("index 7 out of range")));

  // The device stays usable: new work runs and the next synchronize is clean.
  std::atomic<bool> ran{false};
  drv().launch(q.get(), "flag", [&] { ran = true; });
  drv().synchronize(q.get());
  EXPECT_TRUE(ran);
  drv().synchronize_device(0);
}

TEST(Errors, WorkAfterAFailureStillRuns) {
  ScopedQueue q(0);
  std::atomic<bool> ran{false};
  drv().launch(q.get(), "broken", [] { fail_with("boom"); });
  drv().launch(q.get(), "flag", [&] { ran = true; });
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(q.get()); }), HasSubstr("broken"));
  EXPECT_TRUE(ran);
}

TEST(Errors, FailureIsRaisedBySynchronizeDevice) {
  ScopedQueue q(0);
  drv().launch(q.get(), "device_kernel", [] { fail_with("bad"); });
  EXPECT_THAT(kernel_failure([] { drv().synchronize_device(0); }), HasSubstr("device_kernel"));
  drv().synchronize(q.get());
}

TEST(Errors, FailureIsRaisedBySynchronizingANotifier) {
  ScopedQueue q(0);
  ScopedNotifier n(0);
  drv().launch(q.get(), "before_record", [] { fail_with("bad"); });
  drv().record(n.get(), q.get());
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(n.get()); }), HasSubstr("before_record"));
  // Still pending for the queue that failed: the notifier only reported what it covers.
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(q.get()); }), HasSubstr("before_record"));
  drv().synchronize(q.get());
}

TEST(Errors, FailureStaysOnItsQueue) {
  ScopedQueue main(0), side(0);
  drv().launch(side.get(), "side_kernel", [] { fail_with("bad index"); });
  drv().drain(0);  // the failure has happened
  drv().launch(main.get(), "main_kernel", [] {});
  drv().synchronize(main.get());  // another queue's failure is not this queue's
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(side.get()); }),
              AllOf(HasSubstr("side_kernel"), HasSubstr("bad index")));
  drv().synchronize(side.get());  // raised once
}

TEST(Errors, SynchronizeDeviceRaisesEveryQueuesFailuresOnce) {
  ScopedQueue a(0), b(0);
  drv().launch(a.get(), "on_a", [] { fail_with("one"); });
  drv().launch(b.get(), "on_b", [] { fail_with("two"); });
  EXPECT_THAT(kernel_failure([] { drv().synchronize_device(0); }),
              AllOf(HasSubstr("on_a"), HasSubstr("on_b")));
  drv().synchronize(a.get());
  drv().synchronize(b.get());
}

TEST(Errors, DrainRaisesNothingAndKeepsFailures) {
  ScopedQueue q(0);
  drv().launch(q.get(), "kept", [] { fail_with("bad"); });
  drv().drain(0);
  EXPECT_TRUE(drv().query(q.get()));
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(q.get()); }), HasSubstr("kept"));
}

TEST(Errors, AQueueWaitingOnFailedWorkFailsToo) {
  ScopedQueue producer(0), consumer(0);
  ScopedNotifier n(0);
  drv().launch(producer.get(), "producer_kernel", [] { fail_with("bad input"); });
  drv().record(n.get(), producer.get());
  drv().wait(consumer.get(), n.get());
  std::atomic<bool> ran{false};
  drv().launch(consumer.get(), "consumer_kernel", [&] { ran = true; });
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(consumer.get()); }),
              AllOf(HasSubstr("waits for work that failed"), HasSubstr("producer_kernel")));
  EXPECT_TRUE(ran);  // later work still runs, as after any failure
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(producer.get()); }),
              HasSubstr("producer_kernel"));
  // The failure was raised for the producer: new records are clean.
  drv().record(n.get(), producer.get());
  drv().wait(consumer.get(), n.get());
  drv().synchronize(consumer.get());
}

TEST(Errors, SeveralFailuresAreReportedTogether) {
  ScopedQueue q(0);
  drv().launch(q.get(), "first", [] { fail_with("one"); });
  drv().launch(q.get(), "second", [] { throw 42; });
  EXPECT_THAT(
      kernel_failure([&] { drv().synchronize(q.get()); }),
      AllOf(HasSubstr("'first' failed: one"), HasSubstr("'second' failed: unknown exception")));
  drv().synchronize(q.get());
}

TEST(Errors, FailureStaysOnItsDevice) {
  MLU_REQUIRE_TWO_DEVICES();
  ScopedQueue q0(0), q1(1);
  drv().launch(q1.get(), "on_one", [] { fail_with("bad"); });
  drv().launch(q0.get(), "on_zero", [] {});
  drv().synchronize(q0.get());
  drv().synchronize_device(0);
  EXPECT_THAT(kernel_failure([&] { drv().synchronize(q1.get()); }),
              AllOf(HasSubstr("mlu:1"), HasSubstr("on_one")));
}

TEST(Errors, NullHandlesAreInvalidValue) {
  ScopedQueue q(0);
  ScopedNotifier n(0, true);
  hal::Queue* no_queue = nullptr;
  hal::Notifier* no_notifier = nullptr;
  const auto invalid = hal::ErrorKind::InvalidValue;
  EXPECT_EQ(kind_of([&] { drv().launch(no_queue, "x", [] {}); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().query(no_queue); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().synchronize(no_queue); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().queue_device(no_queue); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().destroy_queue(no_queue); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().record(no_notifier, q.get()); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().record(n.get(), no_queue); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().wait(q.get(), no_notifier); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().wait(no_queue, n.get()); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().query(no_notifier); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().synchronize(no_notifier); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().elapsed_ms(no_notifier, n.get()); }), invalid);
  EXPECT_EQ(kind_of([&] { drv().elapsed_ms(n.get(), no_notifier); }), invalid);
  EXPECT_EQ(
      kind_of([&] { drv().copy_async(no_queue, nullptr, nullptr, 0, hal::CopyKind::HostToHost); }),
      invalid);
}

TEST(Errors, InvalidDeviceForQueuesAndNotifiers) {
  const int count = drv().device_count();
  const auto invalid = hal::ErrorKind::InvalidDevice;
  for (int bad : {-1, count}) {
    EXPECT_EQ(kind_of([&] { drv().create_queue(bad, 0); }), invalid) << bad;
    EXPECT_EQ(kind_of([&] { drv().create_notifier(bad, false); }), invalid) << bad;
    EXPECT_EQ(kind_of([&] { drv().synchronize_device(bad); }), invalid) << bad;
  }
}

TEST(Errors, InvalidDeviceMessageGivesTheCount) {
  try {
    drv().properties(drv().device_count());
    ADD_FAILURE() << "no error for an out-of-range device";
  } catch (const hal::Error& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("invalid device index " + std::to_string(drv().device_count())));
    EXPECT_THAT(e.what(), HasSubstr("there are " + std::to_string(drv().device_count())));
  }
}

}  // namespace
}  // namespace mlu
