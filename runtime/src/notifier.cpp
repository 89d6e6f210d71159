#include "notifier.h"

namespace mlu::soft {

std::uint64_t SoftNotifier::begin_record() {
  std::lock_guard lock(mutex_);
  return ++recorded_;
}

void SoftNotifier::complete(std::uint64_t generation) {
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    // Records complete in order on one queue; a re-record on another queue may finish first.
    if (generation > completed_) {
      completed_ = generation;
      completed_at_ = now;
    }
  }
  completed_cv_.notify_all();
}

std::uint64_t SoftNotifier::recorded() {
  std::lock_guard lock(mutex_);
  return recorded_;
}

bool SoftNotifier::reached(std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  return completed_ >= generation;
}

void SoftNotifier::wait_for(std::uint64_t generation) {
  std::unique_lock lock(mutex_);
  completed_cv_.wait(lock, [&] { return completed_ >= generation; });
}

bool SoftNotifier::completion_time(Clock::time_point& out) {
  std::lock_guard lock(mutex_);
  if (recorded_ == 0 || completed_ < recorded_) return false;
  out = completed_at_;
  return true;
}

}  // namespace mlu::soft
