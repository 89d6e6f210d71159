// Multi-tensor kernels (the Foreach* operations): a chain the queue fuses gives, bit for bit, what
// its kernels give one after another; lists whose tensors conflict are not fused and still give
// what running the kernels in order gives.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "device_floats.h"
#include "mlu/ops.h"
#include "test_support.h"

namespace mlu {
namespace {

using hal::BinaryOp;
using hal::TensorDesc;
using test_support::DeviceFloats;
using test_support::drv;
using test_support::Gate;
using test_support::ScopedGraph;
using test_support::ScopedQueue;
using Descs = std::vector<TensorDesc>;

// One element, more than one chunk of the fused loop, and more than one thread's share.
constexpr std::int64_t kSizes[] = {1, 3 * (1 << 14) + 5, 150'000};

std::vector<float> values(std::int64_t n, float seed) {
  std::vector<float> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = seed + std::sin(0.37f * i + seed);
  return v;
}

// An optimizer's tensors at three indices.
struct Tensors {
  explicit Tensors(float seed) {
    for (std::int64_t n : kSizes) {
      param.emplace_back(values(n, seed));
      grad.emplace_back(values(n, seed + 1));
      state.emplace_back(values(n, seed + 2));
      square.emplace_back(values(n, seed + 3));
      root.emplace_back(std::vector<float>(n, 0));
    }
  }
  static Descs descs(const std::deque<DeviceFloats>& list) {
    Descs d;
    for (const DeviceFloats& t : list) d.push_back(t.desc());
    return d;
  }
  std::vector<std::vector<float>> all() const {
    std::vector<std::vector<float>> out;
    for (const auto* list : {&param, &grad, &state, &square, &root})
      for (const DeviceFloats& t : *list) out.push_back(t.values());
    return out;
  }
  std::deque<DeviceFloats> param, grad, state, square, root;
};

// An Adam-like step through every fusible operation; `after_each` runs after each launch.
template <typename After>
void step(hal::Queue* q, const Tensors& t, After after_each) {
  const Descs param = Tensors::descs(t.param), grad = Tensors::descs(t.grad),
              state = Tensors::descs(t.state), square = Tensors::descs(t.square),
              root = Tensors::descs(t.root);
  const std::vector<double> three(3, 0.9), steps = {0.1, 0.2, 0.3};
  hal::enqueue(q, hal::ForeachBinaryScalar{BinaryOp::Mul, grad, grad, three});
  after_each();
  hal::enqueue(q, hal::ForeachLerpScalar{state, grad, 0.1});
  after_each();
  hal::enqueue(q, hal::ForeachTernary{hal::TernaryOp::AddCMul, square, grad, grad, steps});
  after_each();
  hal::enqueue(q, hal::ForeachUnary{hal::UnaryOp::Sqrt, root, square});
  after_each();
  hal::enqueue(q, hal::ForeachBinary{BinaryOp::Add, root, root, grad, 0.5});
  after_each();
  hal::enqueue(q, hal::ForeachTernary{hal::TernaryOp::AddCDiv, param, state, root, steps});
  after_each();
}

TEST(MultiTensor, AFusedChainGivesWhatItsKernelsGiveOneByOne) {
  ScopedQueue q(0);
  Tensors fused(1), one_by_one(1);
  {
    Gate gate;  // every kernel of the step waits behind it: the queue fuses them
    drv().launch(q.get(), "hold", gate.hold());
    step(q.get(), fused, [] {});
  }
  step(q.get(), one_by_one, [&] { drv().synchronize(q.get()); });
  drv().synchronize(q.get());
  EXPECT_EQ(fused.all(), one_by_one.all());
  EXPECT_NE(fused.all(), Tensors(1).all());  // the step changed them
}

TEST(MultiTensor, ACapturedChainIsOneWork) {
  ScopedQueue q(0);
  Tensors t(2);
  drv().begin_capture(q.get());
  step(q.get(), t, [] {});
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_EQ(drv().graph_work_names(graph.get()), (std::vector<std::string>{"foreach_binary"}));
}

// The names of the work a chain of launches is captured as.
template <typename Launch>
std::vector<std::string> captured(hal::Queue* q, Launch launch) {
  drv().begin_capture(q);
  launch();
  ScopedGraph graph(drv().end_capture(q));
  return drv().graph_work_names(graph.get());
}

TEST(MultiTensor, ALongChainOverTheSameTensorsIsOneWork) {
  ScopedQueue q(0);
  DeviceFloats x(std::vector<float>(70'000, 0)), y(std::vector<float>(3, 0));
  constexpr int kLaunches = 2000;
  const auto names = captured(q.get(), [&] {
    for (int i = 0; i < kLaunches; ++i) {
      hal::enqueue(q.get(), hal::ForeachBinaryScalar{
                                BinaryOp::Add, {x.desc(), y.desc()}, {x.desc(), y.desc()}, {1, 2}});
    }
  });
  EXPECT_EQ(names, (std::vector<std::string>{"foreach_binary"}));
  {
    Gate gate;
    drv().launch(q.get(), "hold", gate.hold());
    for (int i = 0; i < kLaunches; ++i) {
      hal::enqueue(q.get(), hal::ForeachBinaryScalar{
                                BinaryOp::Add, {x.desc(), y.desc()}, {x.desc(), y.desc()}, {1, 2}});
    }
  }
  drv().synchronize(q.get());
  EXPECT_EQ(x.values(), std::vector<float>(70'000, kLaunches));
  EXPECT_EQ(y.values(), std::vector<float>(3, 2 * kLaunches));
}

// Gradient clipping's product with a 0-d factor, then an update reading the clipped gradients.
TEST(MultiTensor, AProductWithASharedFactorJoinsTheChainUnlessTheChainWritesTheFactor) {
  ScopedQueue q(0);
  DeviceFloats g0(std::vector<float>(70'000, 2)), g1({4, 6}), p0(std::vector<float>(70'000, 1)),
      p1({1, 1}), factor({0.5f});
  TensorDesc scalar = factor.desc();
  scalar.ndim = 0;
  auto clip = [&] { hal::enqueue(q.get(), hal::ForeachMulTensor{{g0.desc(), g1.desc()}, scalar}); };
  auto update = [&] {
    hal::enqueue(q.get(), hal::ForeachBinary{BinaryOp::Add,
                                             {p0.desc(), p1.desc()},
                                             {p0.desc(), p1.desc()},
                                             {g0.desc(), g1.desc()},
                                             -1});
  };
  auto rescale = [&] {  // writes the factor at index 0
    hal::enqueue(
        q.get(),
        hal::ForeachBinaryScalar{
            BinaryOp::Mul, {factor.desc(), p1.desc()}, {factor.desc(), p1.desc()}, {2, 1}});
  };
  EXPECT_EQ(captured(q.get(), [&] { clip(), update(); }).size(), 1u);
  EXPECT_EQ(captured(q.get(), [&] { clip(), rescale(); }).size(), 2u);
  {
    Gate gate;
    drv().launch(q.get(), "hold", gate.hold());
    clip();
    update();
    rescale();
    clip();
  }
  drv().synchronize(q.get());
  EXPECT_EQ(factor.values(), (std::vector<float>{1}));
  EXPECT_EQ(g0.values(), std::vector<float>(70'000, 1));  // halved, then times the new factor 1
  EXPECT_EQ(g1.values(), (std::vector<float>{2, 3}));
  EXPECT_EQ(p0.values(), std::vector<float>(70'000, 0));
  EXPECT_EQ(p1.values(), (std::vector<float>{-1, -2}));
}

TEST(MultiTensor, AKernelReadingAnotherIndexsResultIsNotFused) {
  ScopedQueue q(0);
  DeviceFloats x({1, 2}), y({3, 4}), z({0, 0}), w({0, 0});
  // The second kernel reads y at index 0, which the first writes at index 1: fused, it would read
  // y before the first kernel doubled it.
  auto launch = [&] {
    hal::enqueue(q.get(), hal::ForeachBinaryScalar{
                              BinaryOp::Mul, {x.desc(), y.desc()}, {x.desc(), y.desc()}, {2, 2}});
    hal::enqueue(q.get(), hal::ForeachBinaryScalar{
                              BinaryOp::Add, {z.desc(), w.desc()}, {y.desc(), x.desc()}, {0, 0}});
  };
  EXPECT_EQ(captured(q.get(), launch).size(), 2u);
  {
    Gate gate;
    drv().launch(q.get(), "hold", gate.hold());
    launch();
  }
  drv().synchronize(q.get());
  EXPECT_EQ(z.values(), (std::vector<float>{6, 8}));
  EXPECT_EQ(w.values(), (std::vector<float>{2, 4}));
}

TEST(MultiTensor, PartlyOverlappingTensorsAreNotFused) {
  ScopedQueue q(0);
  constexpr std::int64_t n = 40'000;
  DeviceFloats x(std::vector<float>(2 * n, 1));
  TensorDesc head = x.desc(), middle = x.desc();
  head.sizes[0] = middle.sizes[0] = n;
  middle.data = static_cast<float*>(middle.data) + n / 2;
  auto launch = [&] {
    hal::enqueue(q.get(), hal::ForeachBinaryScalar{BinaryOp::Mul, {head}, {head}, {3}});
    hal::enqueue(q.get(), hal::ForeachBinaryScalar{BinaryOp::Add, {middle}, {middle}, {1}});
  };
  EXPECT_EQ(captured(q.get(), launch).size(), 2u);
  {
    Gate gate;
    drv().launch(q.get(), "hold", gate.hold());
    launch();
  }
  drv().synchronize(q.get());
  std::vector<float> expected(2 * n, 1);
  for (std::int64_t i = 0; i < n; ++i) expected[i] *= 3;
  for (std::int64_t i = n / 2; i < n / 2 + n; ++i) expected[i] += 1;
  EXPECT_EQ(x.values(), expected);
}

TEST(MultiTensor, AListNamingOneTensorTwiceRunsItsIndicesInOrder) {
  ScopedQueue q(0);
  constexpr std::int64_t n = 150'000;
  DeviceFloats x(std::vector<float>(n, 1)), y(std::vector<float>(n, 2));
  hal::enqueue(
      q.get(),
      hal::ForeachBinary{
          BinaryOp::Add, {x.desc(), x.desc()}, {x.desc(), x.desc()}, {y.desc(), y.desc()}, 1});
  hal::enqueue(q.get(), hal::ForeachBinaryScalar{BinaryOp::Mul, {y.desc()}, {y.desc()}, {10}});
  drv().synchronize(q.get());
  EXPECT_EQ(x.values(), std::vector<float>(n, 5));
  EXPECT_EQ(y.values(), std::vector<float>(n, 20));
}

}  // namespace
}  // namespace mlu
