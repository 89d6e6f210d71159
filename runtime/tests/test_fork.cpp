// A child forked after the driver was initialised cannot use it: its executor threads were not
// forked along with it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

namespace mlu {
namespace {

// Exit codes of the child, so the parent can tell what went wrong.
enum ChildResult { kUnavailable = 0, kDriverWorked = 1, kWrongKind = 2, kNotMarked = 3 };

int use_driver_in_child() {
  try {
    hal::driver();
    return kDriverWorked;
  } catch (const hal::Error& e) {
    if (e.kind() != hal::ErrorKind::Unavailable) return kWrongKind;
  }
  return hal::forked_after_init() ? kUnavailable : kNotMarked;
}

TEST(Fork, ChildOfAnInitialisedParentGetsUnavailable) {
  // A live queue makes the parent multi-threaded at fork time, as it is in real use.
  test_support::ScopedQueue queue(0);
  ASSERT_FALSE(hal::forked_after_init());

  const pid_t pid = fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) _exit(use_driver_in_child());  // _exit: no gtest or static teardown in the child

  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child did not exit normally, status " << status;
  EXPECT_EQ(WEXITSTATUS(status), kUnavailable)
      << "1: driver() worked, 2: wrong error kind, 3: forked_after_init() false";

  // The parent is unaffected.
  EXPECT_FALSE(hal::forked_after_init());
  test_support::drv().launch(queue.get(), "after_fork", [] {});
  test_support::drv().synchronize(queue.get());
}

TEST(Fork, ChildOfAParentWithoutDeviceWorkMayUseTheDriver) {
  // Run in a child of its own, so that this process's queues from other tests do not count.
  const pid_t outer = fork();
  ASSERT_NE(outer, -1);
  if (outer == 0) {
    // Earlier tests in this process started queues: then nothing is left to show here.
    if (hal::forked_after_init()) _exit(13);
    // A process that has read device properties but never started a queue...
    if (hal::driver().device_count() < 1) _exit(10);
    const pid_t inner = fork();
    if (inner == 0) {
      // ...forks a child that can still run work.
      try {
        hal::Queue* q = hal::driver().create_queue(0, 0);
        hal::driver().launch(q, "child_work", [] {});
        hal::driver().synchronize(q);
        _exit(0);
      } catch (...) {
        _exit(11);
      }
    }
    int status = 0;
    waitpid(inner, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 12);
  }
  int status = 0;
  ASSERT_EQ(waitpid(outer, &status, 0), outer);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 13) GTEST_SKIP() << "this test process already ran device work";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: no device, 11: driver refused, 12: child crashed";
}

}  // namespace
}  // namespace mlu
