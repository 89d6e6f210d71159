#include "notifier.h"

namespace mlu::soft {

SoftNotifier::MarkerPtr SoftNotifier::begin_record(std::weak_ptr<void> captured_in) {
  auto marker = std::make_shared<Marker>();
  marker->captured_in = std::move(captured_in);
  std::lock_guard lock(mutex_);
  newest_ = marker;
  return marker;
}

void SoftNotifier::complete(const MarkerPtr& marker, std::string failure) {
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    marker->done = true;
    marker->at = now;
    marker->failure = std::move(failure);
  }
  completed_cv_.notify_all();
}

SoftNotifier::MarkerPtr SoftNotifier::newest() {
  std::lock_guard lock(mutex_);
  return newest_;
}

bool SoftNotifier::reached(const MarkerPtr& marker) {
  if (!marker) return true;
  std::lock_guard lock(mutex_);
  return marker->done;
}

void SoftNotifier::wait_for(const MarkerPtr& marker) {
  if (!marker) return;
  std::unique_lock lock(mutex_);
  completed_cv_.wait(lock, [&] { return marker->done; });
}

bool SoftNotifier::completion_time(Clock::time_point& out) {
  std::lock_guard lock(mutex_);
  if (!newest_ || !newest_->done) return false;
  out = newest_->at;
  return true;
}

}  // namespace mlu::soft
