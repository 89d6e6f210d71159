#include "queue.h"

#include "device_state.h"

namespace mlu::soft {

SoftQueue::SoftQueue(DeviceState& device, int priority, int ordinal, std::chrono::microseconds spin)
    : device_(device), priority_(priority), ordinal_(ordinal), spin_(spin), executor_([this] {
        run();
      }) {}

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

std::string SoftQueue::name() const {
  return "mlu:" + std::to_string(device_.index()) + " " + queue_name();
}

void SoftQueue::report_failure(const char* work_name, const std::string& what) {
  std::lock_guard lock(mutex_);
  failures_.push_back(std::string("'") + work_name + "' failed: " + what);
}

namespace {
std::string joined(const std::vector<std::string>& failures) {
  std::string message;
  for (std::size_t i = 0; i < failures.size(); ++i) message += (i ? "; " : "") + failures[i];
  return message;
}
}  // namespace

std::string SoftQueue::pending_failures() {
  std::lock_guard lock(mutex_);
  return joined(failures_);
}

std::string SoftQueue::take_failures() {
  std::vector<std::string> failures;
  {
    std::lock_guard lock(mutex_);
    failures.swap(failures_);
  }
  return joined(failures);
}

bool SoftQueue::spin_for_work(std::uint64_t seen) {
  const auto deadline = std::chrono::steady_clock::now() + spin_;
  while (std::chrono::steady_clock::now() < deadline) {
    if (submitted_atomic_.load(std::memory_order_acquire) != seen || stop_requested_.load())
      return true;
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
      report_failure(task.name, e.what());
    } catch (...) {
      report_failure(task.name, "unknown exception");
    }
    task.work = nullptr;  // release captured resources before reporting completion
    lock.lock();
    ++completed_;
    progressed_.notify_all();
  }
}

}  // namespace mlu::soft
