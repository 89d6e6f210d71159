#include "queue.h"

#include "device_state.h"

namespace mlu::soft {

SoftQueue::SoftQueue(DeviceState& device, int priority)
    : device_(device), priority_(priority), executor_([this] { run(); }) {}

SoftQueue::~SoftQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  has_work_.notify_one();
  executor_.join();
}

void SoftQueue::launch(const char* name, hal::Work work) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(Task{name, std::move(work)});
    ++submitted_;
  }
  has_work_.notify_one();
}

bool SoftQueue::idle() {
  std::lock_guard lock(mutex_);
  return completed_ == submitted_;
}

void SoftQueue::wait_idle() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_;
  progressed_.wait(lock, [&] { return completed_ >= target; });
}

void SoftQueue::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    has_work_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and drained
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    try {
      task.work();
    } catch (const std::exception& e) {
      device_.report_failure(task.name, e.what());
    } catch (...) {
      device_.report_failure(task.name, "unknown exception");
    }
    task.work = nullptr;  // release captured resources before reporting completion
    lock.lock();
    ++completed_;
    progressed_.notify_all();
  }
}

}  // namespace mlu::soft
