// The integration's shared state under concurrent use: the caching allocator, the pinned host
// allocator, the stream registry, the kernel threads and the CPU fallback, each driven from
// several threads at once. Run in the normal build and under ThreadSanitizer (tools/check).
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/DeviceType.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "allocator.h"
#include "host_allocator.h"
#include "stream.h"

namespace torch_mlu {
namespace {

const c10::Device kDevice(kMLU, 0);

// What torch_mlu's Python package does on import: PyTorch then knows the accelerator (pinned
// memory asks it which allocator to use).
const bool g_named = [] {
  c10::register_privateuse1_backend("mlu");
  return true;
}();

// Runs body(i) on `count` threads; an exception in one fails the test instead of terminating.
void in_threads(int count, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&body, i] {
      try {
        body(i);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << i << ": " << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
}

c10::impl::VirtualGuardImpl& guard() {
  static c10::impl::VirtualGuardImpl impl(kMLU);
  return impl;
}

std::int64_t allocated_bytes() { return device_stats(0).allocated_bytes[0].current; }

TEST(Concurrency, AllocatorOnSeveralStreamsAndRecordStream) {
  guard().synchronizeDevice(0);
  const std::int64_t before = allocated_bytes();
  in_threads(4, [](int t) {
    const c10::Stream mine = stream_from_pool(0, t % 2 == 1);
    const c10::Stream other = stream_from_pool(0, false);
    set_current_stream(mine);
    for (int i = 0; i < 200; ++i) {
      at::Tensor x = at::empty({(i * 37 + t * 11) % 3000 + 1}, at::TensorOptions().device(kDevice));
      x.fill_(t);
      if (i % 7 == 0) record_stream(x.storage().data_ptr(), other);
      ASSERT_EQ(x[0].item<float>(), static_cast<float>(t));
    }
    set_current_stream(default_stream(0));
  });
  guard().synchronizeDevice(0);
  EXPECT_EQ(allocated_bytes(), before);
}

TEST(Concurrency, PinnedCopiesAndFreesFromSeveralThreads) {
  in_threads(4, [](int t) {
    const c10::Stream mine = stream_from_pool(0, false);
    set_current_stream(mine);
    at::Tensor target = at::empty({512}, at::TensorOptions().device(kDevice));
    for (int i = 0; i < 100; ++i) {
      at::Tensor pinned = at::full({512}, float(t * 1000 + i)).pin_memory();
      target.copy_(pinned, /*non_blocking=*/true);
      if (i % 10 == 0) {
        at::Tensor back = at::empty({512}).pin_memory();
        back.copy_(target, /*non_blocking=*/true);
        guard().synchronizeStream(mine);
        ASSERT_EQ(back[511].item<float>(), float(t * 1000 + i));
      }
    }  // each pinned block is freed while its copy may still be queued
    guard().synchronizeStream(mine);
    set_current_stream(default_stream(0));
  });
}

TEST(Concurrency, StreamRegistryIsPerThreadAndCreatesEachQueueOnce) {
  constexpr int kThreads = 8;
  std::vector<c10::Stream> streams(kThreads, default_stream(0));
  std::vector<hal::Queue*> queues(kThreads);
  std::atomic<int> mismatches{0};
  in_threads(kThreads, [&](int t) {
    // Two threads per pool slot: the first use of a slot creates its queue, racing.
    const c10::Stream s(c10::Stream::UNSAFE, kDevice, 1 + t / 2);
    set_current_stream(s);
    streams[t] = s;
    queues[t] = current_queue(0);
    for (int i = 0; i < 100; ++i) {
      if (current_stream(0) != s) ++mismatches;
    }
    set_current_stream(default_stream(0));
  });
  EXPECT_EQ(mismatches.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int u = 0; u < kThreads; ++u) {
      EXPECT_EQ(queues[t] == queues[u], streams[t] == streams[u]) << t << " " << u;
    }
  }
  EXPECT_EQ(current_stream(0), default_stream(0));
}

TEST(Concurrency, KernelsFromSeveralQueuesShareTheKernelThreads) {
  in_threads(4, [](int t) {
    set_current_stream(stream_from_pool(0, false));
    at::Tensor x = at::arange(1 << 18, at::TensorOptions().dtype(at::kFloat).device(kDevice));
    for (int i = 0; i < 10; ++i) x = x * 1.0f + float(t);  // large enough to run in parallel
    const double expected = (double((1 << 18) - 1) * (1 << 18) / 2) + double(t) * 10 * (1 << 18);
    ASSERT_NEAR(x.sum(at::kDouble).item<double>(), expected, expected * 1e-6);
    set_current_stream(default_stream(0));
  });
}

TEST(Concurrency, FallbackOperatorsFromSeveralThreads) {
  in_threads(4, [](int t) {
    set_current_stream(stream_from_pool(0, false));
    at::Tensor x = at::arange(64, at::TensorOptions().dtype(at::kFloat)).add(t);
    // cummax has no native kernel: it runs on the CPU fallback.
    at::Tensor on_device = std::get<0>(at::cummax(x.to(kDevice), 0));
    ASSERT_TRUE(at::equal(on_device.cpu(), std::get<0>(at::cummax(x, 0))));
    set_current_stream(default_stream(0));
  });
}

}  // namespace
}  // namespace torch_mlu
