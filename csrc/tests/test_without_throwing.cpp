// without_throwing: what deleters and noexcept guard functions run their work through. A failure
// is reported on stderr, naming where, instead of terminating the process.
#include <gtest/gtest.h>

#include <stdexcept>

#include "device.h"

namespace torch_mlu {
namespace {

TEST(WithoutThrowing, ReportsAFailureInsteadOfThrowing) {
  testing::internal::CaptureStderr();
  without_throwing("freeing mlu memory", [] { throw std::runtime_error("the queue is gone"); });
  without_throwing("destroying an mlu event", [] { throw 42; });
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("torch_mlu: freeing mlu memory failed: the queue is gone"), std::string::npos)
      << err;
  EXPECT_NE(err.find("torch_mlu: destroying an mlu event failed: unknown exception"),
            std::string::npos)
      << err;
}

TEST(WithoutThrowing, RunsTheWorkWhenItSucceeds) {
  int runs = 0;
  testing::internal::CaptureStderr();
  without_throwing("counting", [&] { ++runs; });
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace torch_mlu
