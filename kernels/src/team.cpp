#include "mlu_kernels/team.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "mlu_kernels/parallel.h"
#include "team_region.h"

namespace mlu::kernels::team {
namespace {

// A member waiting at a barrier polls this long before sleeping: the other members are running
// (they joined) and usually arrive within microseconds.
constexpr std::chrono::microseconds kPollBeforeSleeping{200};

// Chunks per member and loop: small enough that a member at the loop's barrier waits little for
// the other's last chunk (4 per member left half a region's time in barriers), few enough that
// claiming costs nothing next to the iterations.
constexpr long kChunksPerMember = 16;

// What the calling thread is doing in a region.
struct Member {
  Region* region = nullptr;
  int number = 0;
  std::size_t ordinal = 0;  // constructs met so far
  Construct* loop = nullptr;
};
thread_local Member current;

bool claim(Construct& loop, long* chunk_begin, long* chunk_end) {
  const long first = loop.next.fetch_add(loop.chunk, std::memory_order_relaxed);
  if (first >= loop.count) return false;
  const long last = std::min(loop.count, first + loop.chunk);
  *chunk_begin = loop.start + first * loop.incr;
  *chunk_end = last == loop.count ? loop.end : loop.start + last * loop.incr;
  return true;
}

}  // namespace

void Region::run_member(int number) {
  {
    std::lock_guard lock(mutex_);
    if (over_) return;
    ++joined_;
  }
  const Member outer = current;
  current = Member{this, number};
  fn_(data_);
  current = outer;
  std::lock_guard lock(mutex_);
  over_ = true;
}

Construct& Region::construct_locked(std::size_t& ordinal) {
  while (constructs_.size() <= ordinal) constructs_.emplace_back();
  return constructs_[ordinal++];
}

Construct& Region::next_construct(std::size_t& ordinal) {
  std::lock_guard lock(mutex_);
  return construct_locked(ordinal);
}

Construct& Region::next_loop(std::size_t& ordinal, long start, long end, long incr) {
  std::lock_guard lock(mutex_);
  Construct& loop = construct_locked(ordinal);
  if (!loop.initialized) {
    loop.initialized = true;
    loop.start = start;
    loop.incr = incr;
    loop.end = end;
    const long span = incr > 0 ? end - start : start - end;
    const long step = incr > 0 ? incr : -incr;
    loop.count = span > 0 ? (span + step - 1) / step : 0;
    const long chunks = kChunksPerMember * threads_;
    loop.chunk = std::max(1L, (loop.count + chunks - 1) / chunks);
  }
  return loop;
}

bool Region::take_single(Construct& single) {
  std::lock_guard lock(mutex_);
  if (single.single_taken) return false;
  single.single_taken = true;
  return true;
}

void Region::wait_at(Construct& barrier) {
  {
    std::lock_guard lock(mutex_);
    if (barrier.released.load(std::memory_order_relaxed)) return;
    if (++barrier.arrived >= joined_) {
      barrier.released.store(true, std::memory_order_release);
      released_.notify_all();
      return;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + kPollBeforeSleeping;
  while (!barrier.released.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  std::unique_lock lock(mutex_);
  released_.wait(lock, [&] { return barrier.released.load(std::memory_order_relaxed); });
}

void parallel(void (*fn)(void*), void* data, unsigned threads) {
  const int members =
      threads == 0 ? kernel_threads() : std::min(static_cast<int>(threads), kernel_threads());
  Region region(fn, data, current.region != nullptr ? 1 : std::max(1, members));
  if (region.threads() == 1) {
    region.run_member(0);
    return;
  }
  parallel_for_awake(region.threads(), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t number = begin; number < end; ++number) {
      region.run_member(static_cast<int>(number));
    }
  });
}

int thread_num() { return current.number; }

bool loop_start(long start, long end, long incr, long* chunk_begin, long* chunk_end) {
  if (current.region == nullptr) {  // an orphaned loop: all of it
    *chunk_begin = start;
    *chunk_end = end;
    return incr > 0 ? start < end : start > end;
  }
  current.loop = &current.region->next_loop(current.ordinal, start, end, incr);
  return claim(*current.loop, chunk_begin, chunk_end);
}

bool loop_next(long* chunk_begin, long* chunk_end) {
  return current.loop != nullptr && claim(*current.loop, chunk_begin, chunk_end);
}

void loop_end(bool wait) {
  if (current.region != nullptr && current.loop != nullptr && wait) {
    current.region->wait_at(*current.loop);
  }
  current.loop = nullptr;
}

void barrier() {
  if (current.region != nullptr) {
    current.region->wait_at(current.region->next_construct(current.ordinal));
  }
}

bool single_start() {
  if (current.region == nullptr) return true;
  return current.region->take_single(current.region->next_construct(current.ordinal));
}

}  // namespace mlu::kernels::team
