// A software MLU queue: one executor thread runs the queue's work in FIFO order. The thread
// sleeps on a condition variable when idle, so it never competes with the dispatching thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "mlu/hal.h"

namespace mlu::soft {

class DeviceState;

class SoftQueue {
 public:
  SoftQueue(DeviceState& device, int priority);
  ~SoftQueue();  // drains the queue, then stops the executor
  SoftQueue(const SoftQueue&) = delete;
  SoftQueue& operator=(const SoftQueue&) = delete;

  void launch(const char* name, hal::Work work);
  bool idle();
  void wait_idle();  // waits for everything enqueued so far; raises nothing
  DeviceState& device() { return device_; }
  int priority() const { return priority_; }

 private:
  struct Task {
    const char* name;
    hal::Work work;
  };
  void run();

  DeviceState& device_;
  int priority_;
  std::mutex mutex_;
  std::condition_variable has_work_;
  std::condition_variable progressed_;
  std::deque<Task> tasks_;
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  bool stopping_ = false;
  std::thread executor_;  // last: started after everything above is ready
};

}  // namespace mlu::soft
