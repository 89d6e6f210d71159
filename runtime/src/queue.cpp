#include "queue.h"

#include <algorithm>
#include <cstdlib>

#include "device_state.h"

namespace mlu::soft {

std::chrono::microseconds queue_spin_time() {
  static const std::chrono::microseconds spin = [] {
    const char* env = std::getenv("MLU_QUEUE_SPIN_US");
    return std::chrono::microseconds(env != nullptr ? std::max(0, std::atoi(env)) : 50);
  }();
  return spin;
}

SoftQueue::SoftQueue(DeviceState& device, int priority)
    : device_(device), priority_(priority), executor_([this] { run(); }) {}

SoftQueue::~SoftQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stop_requested_.store(true);
  }
  has_work_.notify_one();
  executor_.join();
}

void SoftQueue::launch(const char* name, hal::Work work) {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(Task{name, std::move(work)});
    ++submitted_;
    submitted_atomic_.store(submitted_, std::memory_order_release);
    wake = sleeping_;
  }
  if (wake) has_work_.notify_one();
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

bool SoftQueue::spin_for_work(std::uint64_t seen) {
  const auto deadline = std::chrono::steady_clock::now() + queue_spin_time();
  while (std::chrono::steady_clock::now() < deadline) {
    if (submitted_atomic_.load(std::memory_order_acquire) != seen || stop_requested_.load()) return true;
    std::this_thread::yield();  // any other runnable thread on this core goes first
  }
  return false;
}

void SoftQueue::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (tasks_.empty() && !stopping_) {
      const std::uint64_t seen = submitted_;
      lock.unlock();
      spin_for_work(seen);
      lock.lock();
      sleeping_ = true;
      has_work_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      sleeping_ = false;
    }
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
