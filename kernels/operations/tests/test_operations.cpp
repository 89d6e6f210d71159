// The device contract's operations on the software MLU: enqueue() runs the named operation on the
// queue, asynchronously and in order, from the operation's own copy; operations are captured into
// graphs like any work; kernel failures are the queue's; the capability queries answer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "device_floats.h"
#include "mlu/ops.h"
#include "test_support.h"

namespace mlu {
namespace {

using test_support::DeviceFloats;
using test_support::drv;
using test_support::Gate;
using test_support::ScopedGraph;
using test_support::ScopedQueue;

hal::Operand host_float(float value, std::int64_t size) {
  hal::Operand operand;
  operand.host_value = true;
  operand.desc.ndim = 1;
  operand.desc.sizes[0] = size;  // stride 0: broadcast
  std::memcpy(operand.bytes, &value, sizeof value);
  return operand;
}

TEST(Operations, RunOnTheQueueInOrder) {
  ScopedQueue q(0);
  DeviceFloats a({1, 2, 3}), out({0, 0, 0});
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  hal::enqueue(q.get(), hal::Binary{hal::BinaryOp::Mul, out.desc(), a.desc(), host_float(2.5f, 3)});
  hal::enqueue(q.get(), hal::Unary{hal::UnaryOp::Neg, out.desc(), out.desc()});
  EXPECT_FALSE(drv().query(q.get()));
  EXPECT_EQ(out.values(), (std::vector<float>{0, 0, 0}));
  gate.open();
  drv().synchronize(q.get());
  EXPECT_EQ(out.values(), (std::vector<float>{-2.5f, -5, -7.5f}));
}

TEST(Operations, RunFromTheirOwnCopy) {
  ScopedQueue q(0);
  DeviceFloats out({0, 0});
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  {
    hal::Fill fill{out.desc(), host_float(4, 2)};
    hal::enqueue(q.get(), fill);
    fill.value = host_float(-1, 2);  // after enqueue: not what runs
  }
  gate.open();
  drv().synchronize(q.get());
  EXPECT_EQ(out.values(), (std::vector<float>{4, 4}));
}

TEST(Operations, AreCapturedAndReplayedUnderTheirNames) {
  ScopedQueue q(0);
  DeviceFloats x({1, 2}), head({0}), tail({0});
  hal::TensorDesc first = x.desc(), second = x.desc();
  first.sizes[0] = second.sizes[0] = 1;
  second.data = static_cast<float*>(second.data) + 1;
  drv().begin_capture(q.get());
  hal::enqueue(q.get(), hal::Roll{{head.desc(), tail.desc()}, {second, first}});
  hal::enqueue(q.get(), hal::Binary{hal::BinaryOp::Add, x.desc(), x.desc(), x.desc()});
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_EQ(drv().graph_work_names(graph.get()), (std::vector<std::string>{"roll", "binary"}));
  drv().synchronize(q.get());
  EXPECT_EQ(x.values(), (std::vector<float>{1, 2}));  // nothing ran while capturing
  drv().launch_graph(graph.get(), q.get(), nullptr);
  drv().launch_graph(graph.get(), q.get(), nullptr);
  drv().synchronize(q.get());
  EXPECT_EQ(x.values(), (std::vector<float>{4, 8}));
  EXPECT_EQ(head.values(), (std::vector<float>{4}));  // the second replay copied x = {2, 4}
  EXPECT_EQ(tail.values(), (std::vector<float>{2}));
}

TEST(Operations, KernelFailuresAreTheQueuesAndNameTheOperation) {
  ScopedQueue q(0);
  DeviceFloats a({1, 2, 3}), out({0, 0});
  hal::enqueue(q.get(), hal::Cat{out.desc(), {a.desc()}, 0});  // 3 elements into 2
  try {
    drv().synchronize(q.get());
    ADD_FAILURE() << "no error raised";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::KernelFailure);
    EXPECT_NE(std::string(e.what()).find("cat"), std::string::npos) << e.what();
  }
  hal::enqueue(q.get(), hal::Fill{out.desc(), host_float(1, 2)});
  drv().synchronize(q.get());  // the queue is usable again
  EXPECT_EQ(out.values(), (std::vector<float>{1, 1}));
}

TEST(Operations, SayWhatTheDeviceSupports) {
  for (hal::DType dtype : {hal::DType::Float32, hal::DType::Float64, hal::DType::BFloat16,
                           hal::DType::Int64, hal::DType::Bool}) {
    EXPECT_TRUE(hal::supports(dtype)) << hal::dtype_name(dtype);
  }
  EXPECT_EQ(hal::supported_dtypes() >> (static_cast<unsigned>(hal::DType::Bool) + 1), 0u);
  const hal::OperationsInfo info = hal::operations_info();
  EXPECT_FALSE(info.implementation.empty());
  EXPECT_GT(info.threads, 0);
  for (const std::string& path : {info.matmul_bfloat16, info.matmul_float16}) {
    EXPECT_TRUE(path == "oneDNN" || path == "float32") << path;
  }
  EXPECT_TRUE(info.matmul_float32 == "oneDNN" || info.matmul_float32 == "OpenBLAS")
      << info.matmul_float32;
  for (const std::string& path :
       {info.lstm_bfloat16, info.lstm_float16, info.attention_bfloat16, info.attention_float16}) {
    EXPECT_TRUE(path == "AMX" || path == "float32") << path;
  }
  EXPECT_NO_THROW(hal::check_operation_settings());
  EXPECT_TRUE(hal::supports_operation(hal::Binary::name));
  EXPECT_TRUE(hal::supports_operation(hal::FftC2C::name));
}

TEST(Operations, UnsupportedOperationsSettingIsCheckedStrictly) {
  for (const char* bad : {",", "gemm,", "Gemm", "gemm;fft_c2c", "gemm, ,fft_c2c"}) {
    ::setenv("MLU_UNSUPPORTED_OPERATIONS", bad, 1);
    EXPECT_THROW(hal::check_operation_settings(), std::invalid_argument) << bad;
  }
  ::setenv("MLU_UNSUPPORTED_OPERATIONS", "gemm, fft_c2c ,roi_align backward", 1);
  EXPECT_NO_THROW(hal::check_operation_settings());
  ::unsetenv("MLU_UNSUPPORTED_OPERATIONS");
}

}  // namespace
}  // namespace mlu
