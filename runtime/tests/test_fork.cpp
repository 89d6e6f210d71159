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

}  // namespace
}  // namespace mlu
