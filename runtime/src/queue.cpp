#include "queue.h"

#include <pthread.h>

#include <algorithm>

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
  enqueue(Task{name, std::move(work), nullptr});
}

void SoftQueue::launch_fusible(const char* name, std::shared_ptr<hal::FusibleWork> fusible) {
  hal::Work work = [fusible] { fusible->run(); };
  enqueue(Task{name, std::move(work), std::move(fusible)});
}

namespace {
// Whether the last task of `tasks`, not started yet, takes `task` in.
template <typename Tasks>
bool absorbed(Tasks& tasks, const SoftQueue::Task& task) {
  return task.fusible && !tasks.empty() && tasks.back().fusible &&
         tasks.back().fusible->absorb(*task.fusible);
}
}  // namespace

void SoftQueue::enqueue(Task task) {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    if (capture_) {
      std::lock_guard recording(capture_->mutex);
      if (!capture_->invalidated_by.empty()) {
        throw hal::Error(hal::ErrorKind::NotCapturable,
                         "the capture on " + this->name() + " was invalidated by " +
                             capture_->invalidated_by + "; end it before launching more work");
      }
      if (!absorbed(capture_->tasks, task)) capture_->tasks.push_back(std::move(task));
      return;
    }
    // The executor pops a task before running it: the last one here has not started.
    if (absorbed(tasks_, task)) return;
    tasks_.push_back(std::move(task));
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
  while (completed_ < target) {
    wake_at_ = std::min(wake_at_, target);
    progressed_.wait(lock);
  }
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

void SoftQueue::begin_capture() {
  std::lock_guard lock(mutex_);
  if (capture_) {
    throw hal::Error(hal::ErrorKind::InvalidValue, name() + " is already capturing a graph");
  }
  capture_ = std::make_shared<Capture>();
  capture_->queues.push_back(this);
}

std::shared_ptr<SoftQueue::Capture> SoftQueue::finish_capture() {
  std::shared_ptr<Capture> capture;
  {
    std::lock_guard lock(mutex_);
    if (!capture_) {
      throw hal::Error(hal::ErrorKind::InvalidValue,
                       "end of a capture on " + name() + ", which is not capturing");
    }
    if (capture_->queues.front() != this) {
      throw hal::Error(hal::ErrorKind::InvalidValue,
                       "end of a capture on " + name() + ", which joined a capture begun on " +
                           capture_->queues.front()->name() + ": end it there");
    }
    capture.swap(capture_);
  }
  std::vector<SoftQueue*> joined;
  {
    std::lock_guard recording(capture->mutex);
    joined.assign(capture->queues.begin() + 1, capture->queues.end());
  }
  for (SoftQueue* queue : joined) queue->leave_capture(capture);
  return capture;
}

std::vector<SoftQueue::Task> SoftQueue::end_capture() {
  std::shared_ptr<Capture> capture = finish_capture();
  std::lock_guard recording(capture->mutex);
  if (!capture->invalidated_by.empty()) {
    throw hal::Error(hal::ErrorKind::NotCapturable,
                     "the capture on " + name() + " was invalidated by " + capture->invalidated_by);
  }
  return std::move(capture->tasks);
}

void SoftQueue::abort_capture() {
  std::shared_ptr<Capture> capture = current_capture();
  if (!capture) return;
  if (capture->queues.front() != this) {
    leave_capture(capture);
    return;
  }
  finish_capture();  // the recorded work is released with the last reference
}

void SoftQueue::leave_capture(const std::shared_ptr<Capture>& capture) {
  std::lock_guard lock(mutex_);
  if (capture_ != capture) return;
  capture_.reset();
  std::lock_guard recording(capture->mutex);
  std::erase(capture->queues, this);
}

bool SoftQueue::capturing() {
  std::lock_guard lock(mutex_);
  return capture_ != nullptr;
}

std::shared_ptr<SoftQueue::Capture> SoftQueue::current_capture() {
  std::lock_guard lock(mutex_);
  return capture_;
}

void SoftQueue::join_capture(const std::shared_ptr<Capture>& capture) {
  std::lock_guard lock(mutex_);
  if (capture_ == capture) return;
  if (capture_) {
    std::lock_guard recording(capture_->mutex);
    if (capture_->invalidated_by.empty()) capture_->invalidated_by = "a wait across two captures";
    throw hal::Error(hal::ErrorKind::NotCapturable,
                     name() + " waits for an event recorded in another capture than its own");
  }
  capture_ = capture;
  std::lock_guard recording(capture->mutex);
  capture->queues.push_back(this);
}

hal::Error SoftQueue::refuse_in_capture(const std::string& operation) {
  std::lock_guard lock(mutex_);
  if (capture_) {
    std::lock_guard recording(capture_->mutex);
    if (capture_->invalidated_by.empty()) capture_->invalidated_by = operation;
  }
  return hal::Error(hal::ErrorKind::NotCapturable,
                    operation + " on " + name() +
                        ", which is capturing a graph: a graph cannot hold it, and the capture is "
                        "invalidated");
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
  // Named for top -H, gdb and py-spy; Linux keeps 15 characters.
  const std::string thread_name =
      "mlu" + std::to_string(device_.index()) + "-queue" + std::to_string(ordinal_);
  pthread_setname_np(pthread_self(), thread_name.substr(0, 15).c_str());
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
    if (++completed_ >= wake_at_) {
      wake_at_ = kNoWaiter;
      progressed_.notify_all();
    }
  }
}

}  // namespace mlu::soft
