// Helpers shared by the runtime tests: owning handles and a gate that holds a queue.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>

#include "mlu/hal.h"

namespace mlu::hal {

// Readable failure messages for EXPECT_EQ on error kinds.
inline void PrintTo(ErrorKind kind, std::ostream* os) {
  constexpr const char* kNames[] = {"InvalidDevice", "InvalidValue", "OutOfMemory",
                                    "KernelFailure", "Unavailable",  "NotCapturable"};
  *os << kNames[static_cast<int>(kind)];
}

}  // namespace mlu::hal

namespace mlu::test_support {

inline hal::Driver& drv() { return hal::driver(); }

// The kind of the hal::Error that call throws; nullopt if it throws none.
inline std::optional<hal::ErrorKind> kind_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const hal::Error& e) {
    return e.kind();
  }
  return std::nullopt;
}

// Holds a queue's executor in a work item until opened, so a test can observe work that is
// enqueued but not yet run without relying on timing. Opens itself on destruction, so a failing
// test releases its queues: declare gates after the queues they hold.
class Gate {
 public:
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate() { open(); }

  // The work item shares the state: the executor may still be leaving it after ~Gate.
  hal::Work hold() const {
    return [state = state_] {
      std::unique_lock lock(state->mutex);
      state->opened.wait(lock, [&] { return state->is_open; });
    };
  }

  void open() {
    {
      std::lock_guard lock(state_->mutex);
      state_->is_open = true;
    }
    state_->opened.notify_all();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable opened;
    bool is_open = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

class ScopedQueue {
 public:
  explicit ScopedQueue(int device) : queue_(drv().create_queue(device, 0)) {}
  ScopedQueue(const ScopedQueue&) = delete;
  ScopedQueue& operator=(const ScopedQueue&) = delete;
  ~ScopedQueue() { drv().destroy_queue(queue_); }
  hal::Queue* get() const { return queue_; }

 private:
  hal::Queue* queue_;
};

class ScopedNotifier {
 public:
  explicit ScopedNotifier(int device, bool timing = false)
      : notifier_(drv().create_notifier(device, timing)) {}
  ScopedNotifier(const ScopedNotifier&) = delete;
  ScopedNotifier& operator=(const ScopedNotifier&) = delete;
  ~ScopedNotifier() { drv().destroy_notifier(notifier_); }
  hal::Notifier* get() const { return notifier_; }

 private:
  hal::Notifier* notifier_;
};

class ScopedGraph {
 public:
  explicit ScopedGraph(hal::Graph* graph) : graph_(graph) {}
  ScopedGraph(const ScopedGraph&) = delete;
  ScopedGraph& operator=(const ScopedGraph&) = delete;
  ~ScopedGraph() { drv().destroy_graph(graph_); }
  hal::Graph* get() const { return graph_; }

 private:
  hal::Graph* graph_;
};

class DeviceBuffer {
 public:
  DeviceBuffer(int device, std::size_t bytes)
      : device_(device), ptr_(static_cast<unsigned char*>(drv().allocate(device, bytes))) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { drv().free(device_, ptr_); }
  unsigned char* get() const { return ptr_; }

 private:
  int device_;
  unsigned char* ptr_;
};

class PinnedBuffer {
 public:
  explicit PinnedBuffer(std::size_t bytes)
      : ptr_(static_cast<unsigned char*>(drv().allocate_host(bytes))) {}
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { drv().free_host(ptr_); }
  unsigned char* get() const { return ptr_; }

 private:
  unsigned char* ptr_;
};

// Tests that involve a second device skip rather than fail when MLU_DEVICE_COUNT hides it.
#define MLU_REQUIRE_TWO_DEVICES()                                                            \
  if (::mlu::test_support::drv().device_count() < 2) {                                       \
    GTEST_SKIP() << "needs two MLU devices; MLU_DEVICE_COUNT/MLU_VISIBLE_DEVICES hide them"; \
  }

}  // namespace mlu::test_support
