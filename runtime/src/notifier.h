// A software MLU notifier. Every record makes a new marker that its queue completes when it gets
// there; the notifier points at the newest. A wait holds the marker that was newest when it was
// enqueued, so a later re-record (on any queue) can never release it early.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

namespace mlu::soft {

class SoftNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  // One record: done once its queue passed it. `failure` names the recording queue and what it had
  // failed with, not yet raised, when it got there: the work this marker stands for is not valid.
  struct Marker {
    bool done = false;
    Clock::time_point at{};
    std::string failure;
    // Recorded in a capture (the capture's state, while it lasts): it stands for a point inside
    // the graph, and a queue waiting for it joins the capture.
    std::weak_ptr<void> captured_in;
  };
  using MarkerPtr = std::shared_ptr<Marker>;

  SoftNotifier(int device, bool timing) : device_(device), timing_(timing) {}

  int device() const { return device_; }
  bool timing() const { return timing_; }

  MarkerPtr begin_record(std::weak_ptr<void> captured_in = {});  // the new newest marker
  void complete(const MarkerPtr& marker, std::string failure);   // run by the recording queue

  MarkerPtr newest();                     // null if never recorded
  bool reached(const MarkerPtr& marker);  // a null marker is reached
  void wait_for(const MarkerPtr& marker);
  // Time of the newest marker's completion; false if never recorded or not complete yet.
  bool completion_time(Clock::time_point& out);

 private:
  int device_;
  bool timing_;
  std::mutex mutex_;
  std::condition_variable completed_cv_;
  MarkerPtr newest_;
};

}  // namespace mlu::soft
