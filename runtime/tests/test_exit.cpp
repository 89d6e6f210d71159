// Process exit with work still queued: the driver drains its queues before the static
// destructors of whatever the work uses run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "test_support.h"

namespace mlu {
namespace {

std::atomic<bool> g_work_finished{false};

// Registered before the driver exists, so it runs after the driver's own exit handler.
void report_at_exit() { _exit(g_work_finished.load() ? 0 : 3); }

TEST(Exit, QueuedWorkIsDrainedBeforeExit) {
  // Run in a child of its own, whose driver is created after the handler is registered.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::atexit(report_at_exit);
        hal::Queue* queue = test_support::drv().create_queue(0, 0);
        test_support::drv().launch(queue, "slow", [] {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          g_work_finished = true;
        });
        std::exit(0);  // no synchronize, no destroy_queue
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace mlu
