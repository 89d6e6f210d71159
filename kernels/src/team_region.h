// One parallel region of a generated kernel (mlu_kernels/team.h): its members and constructs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace mlu::kernels::team {

// A worksharing construct (loop, single or barrier), in the order every member meets them.
struct Construct {
  long start = 0, incr = 1, end = 0, count = 0, chunk = 1;  // a loop's iterations
  std::atomic<long> next{0};                                // first unclaimed iteration
  bool initialized = false, single_taken = false;
  int arrived = 0;
  std::atomic<bool> released{false};
};

class Region {
 public:
  Region(void (*fn)(void*), void* data, int threads) : fn_(fn), data_(data), threads_(threads) {}

  int threads() const { return threads_; }

  // Runs the region's function on this thread as member `number`, unless the region is over
  // (a member has finished it, so none is left to do).
  void run_member(int number);

  // The member's next construct, counted by `ordinal`; a loop's range is set by the first member
  // that reaches it.
  Construct& next_construct(std::size_t& ordinal);
  Construct& next_loop(std::size_t& ordinal, long start, long end, long incr);

  bool take_single(Construct& single);

  // Waits until every member that has joined arrives here; a barrier released before this
  // member joined is passed.
  void wait_at(Construct& barrier);

 private:
  // The member's next construct, made by the first member to reach it; mutex_ held.
  Construct& construct_locked(std::size_t& ordinal);

  void (*fn_)(void*);
  void* data_;
  const int threads_;
  std::mutex mutex_;
  std::condition_variable released_;
  int joined_ = 0;
  bool over_ = false;
  std::deque<Construct> constructs_;  // a deque: growing it keeps references valid
};

}  // namespace mlu::kernels::team
