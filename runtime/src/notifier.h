// A software MLU notifier: a generation counter advanced by markers that queues execute.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace mlu::soft {

class SoftNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  SoftNotifier(int device, bool timing) : device_(device), timing_(timing) {}

  int device() const { return device_; }
  bool timing() const { return timing_; }

  // Returns the generation that the marker enqueued for this record will complete.
  std::uint64_t begin_record();
  void complete(std::uint64_t generation);  // run by the queue when it reaches the marker

  std::uint64_t recorded();
  bool reached(std::uint64_t generation);
  void wait_for(std::uint64_t generation);
  // Time of the latest completion; false if never recorded or not complete yet.
  bool completion_time(Clock::time_point& out);

 private:
  int device_;
  bool timing_;
  std::mutex mutex_;
  std::condition_variable completed_cv_;
  std::uint64_t recorded_ = 0;
  std::uint64_t completed_ = 0;
  Clock::time_point completed_at_{};
};

}  // namespace mlu::soft
