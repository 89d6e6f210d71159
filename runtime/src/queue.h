// A software MLU queue: one executor thread runs the queue's work in FIFO order. When the queue
// runs dry the thread polls for new work for a short, bounded time (yielding the core to any
// other runnable thread), then sleeps on a condition variable: a stream of small operators
// avoids a wake-up per operator, and an idle device costs nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mlu/hal.h"

namespace mlu::soft {

class DeviceState;

class SoftQueue {
 public:
  struct Task {
    const char* name;
    hal::Work work;
    std::shared_ptr<hal::FusibleWork> fusible;  // what work runs, when it may absorb the next
  };

  // spin: how long the executor polls for new work before sleeping (0: never).
  SoftQueue(DeviceState& device, int priority, int ordinal, std::chrono::microseconds spin);
  ~SoftQueue();  // drains the queue, then stops the executor
  SoftQueue(const SoftQueue&) = delete;
  SoftQueue& operator=(const SoftQueue&) = delete;

  void launch(const char* name, hal::Work work);
  // Runs fusible->run(), unless the last task still waiting (or recorded) absorbs it.
  void launch_fusible(const char* name, std::shared_ptr<hal::FusibleWork> fusible);
  bool idle();
  void wait_idle();  // waits for everything enqueued so far; raises nothing
  DeviceState& device() { return device_; }
  int priority() const { return priority_; }
  std::string name() const;  // "mlu:0 queue 3", for messages
  std::string queue_name() const { return "queue " + std::to_string(ordinal_); }

  // Failures of this queue's work, kept until raised: pending_failures() reads them, and
  // take_failures() reads and clears them ("" when there are none).
  std::string pending_failures();
  std::string take_failures();

  // Capture (hal::Driver::begin_capture): launches are recorded instead of run.
  struct Capture;
  void begin_capture();
  std::vector<Task> end_capture();  // raises what invalidated the capture; ends it either way
  void abort_capture();             // a queue that joined a capture just leaves it
  bool capturing();
  std::shared_ptr<Capture> current_capture();
  // The queue waits for a point inside `capture`: from now on its launches are recorded there
  // too (CUDA's cross-stream capture). A no-op when it already records into it.
  void join_capture(const std::shared_ptr<Capture>& capture);
  // Invalidates the capture because of `operation`, which a graph cannot hold, and returns the
  // error to raise.
  hal::Error refuse_in_capture(const std::string& operation);

 private:
  void enqueue(Task task);
  void leave_capture(const std::shared_ptr<Capture>& capture);
  // Detaches every queue from the capture this queue began and returns it.
  std::shared_ptr<Capture> finish_capture();
  void run();
  // Polls for work launched after `seen` tasks, for at most the configured spin time.
  bool spin_for_work(std::uint64_t seen);

  void report_failure(const char* work_name, const std::string& what);

  DeviceState& device_;
  int priority_;
  int ordinal_;
  std::chrono::microseconds spin_;
  std::mutex mutex_;
  std::condition_variable has_work_;
  std::condition_variable progressed_;
  std::deque<Task> tasks_;
  std::vector<std::string> failures_;
  std::shared_ptr<Capture> capture_;  // while capturing
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  // The fewest completed tasks a wait_idle() waits for: only then is it woken, not after every
  // task (each wake-up takes a core from the kernels on these 2-core machines).
  std::uint64_t wake_at_ = kNoWaiter;
  static constexpr std::uint64_t kNoWaiter = UINT64_MAX;
  bool stopping_ = false;
  bool sleeping_ = false;  // the executor waits on has_work_: launch must notify
  std::atomic<std::uint64_t> submitted_atomic_{0};  // submitted_, readable without the mutex
  std::atomic<bool> stop_requested_{false};
  std::thread executor_;  // last: started after everything above is ready
};

// One capture: the queue that began it and the queues that joined it record their launches, in
// launch order, into one list; a launch of the graph runs them in that order.
struct SoftQueue::Capture {
  std::mutex mutex;
  std::vector<Task> tasks;
  std::string invalidated_by;      // the operation that made the capture unusable, if any
  std::vector<SoftQueue*> queues;  // the queue that began it first
};

// A captured graph: its launches run the recorded work in order, one launch at a time.
struct RecordedGraph {
  int device;
  std::vector<SoftQueue::Task> tasks;
  std::mutex running;
};

}  // namespace mlu::soft
