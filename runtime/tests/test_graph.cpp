// Capture and graphs: work launched on a capturing queue is recorded, not run; a graph launch runs
// it again in order; what a graph cannot hold invalidates the capture and leaves the queue usable.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "test_support.h"

namespace mlu {
namespace {

using test_support::DeviceBuffer;
using test_support::drv;
using test_support::Gate;
using test_support::kind_of;
using test_support::PinnedBuffer;
using test_support::ScopedGraph;
using test_support::ScopedNotifier;
using test_support::ScopedQueue;

TEST(Graph, CapturedWorkRunsOnlyWhenLaunched) {
  ScopedQueue q(0);
  std::vector<int> order;
  drv().begin_capture(q.get());
  EXPECT_TRUE(drv().capturing(q.get()));
  drv().launch(q.get(), "first", [&] { order.push_back(1); });
  drv().launch(q.get(), "second", [&] { order.push_back(2); });
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_FALSE(drv().capturing(q.get()));
  drv().synchronize(q.get());
  EXPECT_TRUE(order.empty());

  drv().launch_graph(graph.get(), q.get(), nullptr);
  drv().launch_graph(graph.get(), q.get(), [&] { order.push_back(0); });
  drv().synchronize(q.get());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 0, 1, 2}));
  EXPECT_EQ(drv().graph_work_names(graph.get()), (std::vector<std::string>{"first", "second"}));
}

TEST(Graph, LaunchIsAsynchronousAndOrderedWithTheQueue) {
  ScopedQueue q(0);
  DeviceBuffer buffer(0, sizeof(int));
  int* value = reinterpret_cast<int*>(hal::kernel_address(buffer.get()));
  *value = 0;
  drv().begin_capture(q.get());
  drv().launch(q.get(), "double", [value] { *value *= 2; });
  ScopedGraph graph(drv().end_capture(q.get()));

  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().launch(q.get(), "set", [value] { *value = 3; });
  drv().launch_graph(graph.get(), q.get(), nullptr);
  EXPECT_FALSE(drv().query(q.get()));
  gate.open();
  drv().synchronize(q.get());
  EXPECT_EQ(*value, 6);
}

TEST(Graph, PinnedCopiesAreRecorded) {
  ScopedQueue q(0);
  PinnedBuffer host(sizeof(int));
  DeviceBuffer device(0, sizeof(int));
  drv().begin_capture(q.get());
  drv().copy_async(q.get(), device.get(), host.get(), sizeof(int), hal::CopyKind::HostToDevice);
  ScopedGraph graph(drv().end_capture(q.get()));
  for (int v : {7, 11}) {
    std::memcpy(host.get(), &v, sizeof v);
    drv().launch_graph(graph.get(), q.get(), nullptr);
    drv().synchronize(q.get());
    int copied = 0;
    std::memcpy(&copied, hal::kernel_address(device.get()), sizeof copied);
    EXPECT_EQ(copied, v);
  }
}

TEST(Graph, DestroyedGraphStillRunsEnqueuedLaunches) {
  ScopedQueue q(0);
  std::atomic<int> runs{0};
  drv().begin_capture(q.get());
  drv().launch(q.get(), "count", [&] { ++runs; });
  hal::Graph* graph = drv().end_capture(q.get());
  Gate gate;
  drv().launch(q.get(), "hold", gate.hold());
  drv().launch_graph(graph, q.get(), nullptr);
  drv().destroy_graph(graph);
  gate.open();
  drv().synchronize(q.get());
  EXPECT_EQ(runs.load(), 1);
}

TEST(Graph, FailingWorkFailsTheLaunchNamingTheWork) {
  ScopedQueue q(0);
  drv().begin_capture(q.get());
  drv().launch(q.get(), "index_select", [] { throw std::runtime_error("index 9 out of range"); });
  ScopedGraph graph(drv().end_capture(q.get()));
  drv().launch_graph(graph.get(), q.get(), nullptr);
  try {
    drv().synchronize(q.get());
    FAIL() << "expected the launch to fail";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::KernelFailure);
    EXPECT_NE(std::string(e.what()).find("'index_select' failed: index 9 out of range"),
              std::string::npos)
        << e.what();
  }
  drv().synchronize(q.get());  // raised once; the queue is usable
}

// Each operation a graph cannot hold: it raises, the capture is invalidated (later launches
// raise, end_capture raises the reason) and the queue works normally afterwards.
void expect_refused(const std::function<void(hal::Queue*)>& operation, const char* reason) {
  ScopedQueue q(0);
  drv().begin_capture(q.get());
  EXPECT_EQ(kind_of([&] { operation(q.get()); }), hal::ErrorKind::NotCapturable) << reason;
  EXPECT_EQ(kind_of([&] { drv().launch(q.get(), "after", [] {}); }), hal::ErrorKind::NotCapturable);
  try {
    drv().end_capture(q.get());
    FAIL() << "end_capture of an invalidated capture must raise";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::NotCapturable);
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
  EXPECT_FALSE(drv().capturing(q.get()));
  std::atomic<bool> ran{false};
  drv().launch(q.get(), "normal", [&] { ran = true; });
  drv().synchronize(q.get());
  EXPECT_TRUE(ran);
}

TEST(Graph, SynchronizeInvalidatesTheCapture) {
  expect_refused([](hal::Queue* q) { drv().synchronize(q); }, "synchronize");
  expect_refused([](hal::Queue* q) { drv().query(q); }, "query");
  expect_refused([](hal::Queue*) { drv().synchronize_device(0); }, "device synchronize");
}

TEST(Graph, PageableCopyInvalidatesTheCapture) {
  std::vector<int> host(4, 1);
  DeviceBuffer device(0, sizeof(int) * 4);
  expect_refused(
      [&](hal::Queue* q) {
        drv().copy_async(q, device.get(), host.data(), sizeof(int) * 4,
                         hal::CopyKind::HostToDevice);
      },
      "pageable");
}

TEST(Graph, EventsRecordedInACaptureAreReached) {
  ScopedQueue q(0);
  ScopedNotifier notifier(0);
  drv().begin_capture(q.get());
  drv().record(notifier.get(), q.get());
  drv().wait(q.get(), notifier.get());  // ordered on the same queue: nothing to record
  EXPECT_TRUE(drv().query(notifier.get()));
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_TRUE(drv().graph_work_names(graph.get()).empty());
}

TEST(Graph, AQueueWaitingForAPointInTheCaptureJoinsIt) {
  ScopedQueue origin(0), side(0);
  ScopedNotifier fork(0), join(0);
  std::vector<int> order;
  drv().begin_capture(origin.get());
  drv().launch(origin.get(), "a", [&] { order.push_back(1); });
  drv().record(fork.get(), origin.get());
  drv().wait(side.get(), fork.get());
  EXPECT_TRUE(drv().capturing(side.get()));
  drv().launch(side.get(), "b", [&] { order.push_back(2); });
  drv().record(join.get(), side.get());
  drv().wait(origin.get(), join.get());
  drv().launch(origin.get(), "c", [&] { order.push_back(3); });
  EXPECT_EQ(kind_of([&] { drv().end_capture(side.get()); }), hal::ErrorKind::InvalidValue);
  ScopedGraph graph(drv().end_capture(origin.get()));
  EXPECT_FALSE(drv().capturing(side.get()));
  drv().synchronize(side.get());
  EXPECT_TRUE(order.empty());

  drv().launch_graph(graph.get(), origin.get(), nullptr);
  drv().synchronize(origin.get());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  // After the capture the notifiers stand for nothing left to wait for.
  drv().wait(side.get(), fork.get());
  EXPECT_FALSE(drv().capturing(side.get()));
}

TEST(Graph, JoiningASecondCaptureInvalidatesIt) {
  ScopedQueue first(0), second(0);
  ScopedNotifier point(0);
  drv().begin_capture(first.get());
  drv().begin_capture(second.get());
  drv().record(point.get(), first.get());
  try {
    drv().wait(second.get(), point.get());
    FAIL() << "a wait across two captures must raise";
  } catch (const hal::Error& e) {
    EXPECT_EQ(e.kind(), hal::ErrorKind::NotCapturable);
    EXPECT_NE(std::string(e.what()).find("another capture"), std::string::npos) << e.what();
  }
  EXPECT_EQ(kind_of([&] { drv().end_capture(second.get()); }), hal::ErrorKind::NotCapturable);
  ScopedGraph graph(drv().end_capture(first.get()));  // the first capture is intact
}

TEST(Graph, AbortReleasesJoinedQueues) {
  ScopedQueue origin(0), side(0);
  ScopedNotifier fork(0);
  drv().begin_capture(origin.get());
  drv().record(fork.get(), origin.get());
  drv().wait(side.get(), fork.get());
  drv().abort_capture(origin.get());
  EXPECT_FALSE(drv().capturing(side.get()));
  std::atomic<bool> ran{false};
  drv().launch(side.get(), "eager", [&] { ran = true; });
  drv().synchronize(side.get());
  EXPECT_TRUE(ran);
}

TEST(Graph, WaitingForUnfinishedWorkInvalidatesTheCapture) {
  ScopedNotifier notifier(0);
  ScopedQueue other(0);
  Gate gate;
  drv().launch(other.get(), "hold", gate.hold());
  drv().record(notifier.get(), other.get());
  expect_refused([&](hal::Queue* q) { drv().wait(q, notifier.get()); }, "not reached");
  gate.open();
  drv().synchronize(other.get());

  // A wait for work that is already done needs nothing from the graph.
  ScopedQueue q(0);
  drv().begin_capture(q.get());
  drv().wait(q.get(), notifier.get());
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_TRUE(drv().graph_work_names(graph.get()).empty());
}

TEST(Graph, AbortDiscardsTheRecordedWork) {
  ScopedQueue q(0);
  std::atomic<bool> ran{false};
  drv().begin_capture(q.get());
  drv().launch(q.get(), "discarded", [&] { ran = true; });
  drv().abort_capture(q.get());
  drv().abort_capture(q.get());  // not capturing: nothing to do
  drv().synchronize(q.get());
  EXPECT_FALSE(ran);
  EXPECT_EQ(kind_of([&] { drv().end_capture(q.get()); }), hal::ErrorKind::InvalidValue);
}

TEST(Graph, CaptureErrors) {
  ScopedQueue q(0);
  drv().begin_capture(q.get());
  EXPECT_EQ(kind_of([&] { drv().begin_capture(q.get()); }), hal::ErrorKind::InvalidValue);
  ScopedGraph graph(drv().end_capture(q.get()));
  EXPECT_EQ(kind_of([&] { drv().launch_graph(nullptr, q.get(), nullptr); }),
            hal::ErrorKind::InvalidValue);
  if (drv().device_count() > 1) {
    ScopedQueue other_device(1);
    EXPECT_EQ(kind_of([&] { drv().launch_graph(graph.get(), other_device.get(), nullptr); }),
              hal::ErrorKind::InvalidValue);
  }
}

TEST(Graph, DestroyingACapturingQueueEndsTheCapture) {
  hal::Queue* q = drv().create_queue(0, 0);
  drv().begin_capture(q);
  drv().launch(q, "never", [] { FAIL() << "recorded work must not run"; });
  drv().destroy_queue(q);
}

}  // namespace
}  // namespace mlu
