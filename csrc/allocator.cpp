#include "allocator.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "stream.h"
#include "tensor_desc.h"

namespace torch_mlu {
namespace {

using c10::CachingDeviceAllocator::Stat;
using c10::CachingDeviceAllocator::StatType;

constexpr std::size_t kSmallSize = 1 << 20;  // requests up to this come from the small pool
constexpr std::size_t kSmallRound = 512;
constexpr std::size_t kLargeRound = 2 << 20;

struct Block {
  c10::DeviceIndex device;
  PoolId pool;            // {0, 0}: the stream's own pool; otherwise a graph's private pool
  c10::StreamId stream;   // 0 in a private pool, whose order is the graphs' recorded order
  std::size_t size;       // bytes reserved from the driver
  std::size_t requested;  // bytes the caller asked for
  void* ptr;
  std::vector<c10::Stream> used_on;                         // other streams from record_stream
  std::shared_ptr<c10::GatheredContext> context = nullptr;  // where it was allocated (history on)
};

// Memory history: off unless a recorder is set. Readers on the allocation path use the atomics;
// the trace itself is per device, under the device cache's mutex.
std::atomic<ContextRecorder> g_recorder{nullptr};
std::atomic<bool> g_trace{false};
std::atomic<std::size_t> g_max_entries{0};
std::atomic<ContextDescriber> g_describer{nullptr};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An allocation that does not fit, with what holds the memory; the message is completed outside
// the cache's lock (describing the contexts may take the interpreter's lock).
struct DeviceOutOfMemory : std::runtime_error {
  DeviceOutOfMemory(
      std::string message,
      std::vector<std::pair<std::size_t, std::shared_ptr<c10::GatheredContext>>> largest,
      std::string advice)
      : std::runtime_error(message), largest(std::move(largest)), advice(std::move(advice)) {}
  std::vector<std::pair<std::size_t, std::shared_ptr<c10::GatheredContext>>> largest;
  std::string advice;
};

struct BySizeOnStream {
  bool operator()(const Block* a, const Block* b) const {
    if (a->pool != b->pool) return a->pool < b->pool;
    if (a->stream != b->stream) return a->stream < b->stream;
    if (a->size != b->size) return a->size < b->size;
    return a->ptr < b->ptr;
  }
};

std::size_t round_size(std::size_t n) {
  const std::size_t unit = n <= kSmallSize ? kSmallRound : kLargeRound;
  return (n + unit - 1) / unit * unit;
}

std::string format_bytes(std::size_t bytes) {
  std::ostringstream out;
  out.precision(2);
  out << std::fixed;
  if (bytes >= (std::size_t{1} << 30))
    out << bytes / double(1 << 30) << " GiB";
  else if (bytes >= (1 << 20))
    out << bytes / double(1 << 20) << " MiB";
  else if (bytes >= (1 << 10))
    out << bytes / double(1 << 10) << " KiB";
  else
    out << bytes << " bytes";
  return out.str();
}

class DeviceCache {
 public:
  explicit DeviceCache(c10::DeviceIndex device) : device_(device) {}

  Block* allocate(std::size_t requested, c10::StreamId stream,
                  std::shared_ptr<c10::GatheredContext> context) {
    std::lock_guard lock(mutex_);
    collect_finished_events();
    const std::size_t size = round_size(requested);
    PoolId pool{0, 0};
    if (!captures_.empty()) {
      pool = capture_pool(stream, requested);
      if (pool != PoolId{0, 0}) stream = 0;
    }
    Block* block = take_cached(size, pool, stream);
    if (block == nullptr) block = reserve(size, requested, pool, stream);
    block->requested = requested;
    block->context = std::move(context);
    active_.emplace(block->ptr, block);
    update(block, +1);
    trace(TraceEntry::Action::Alloc, block, block->context);
    report_to_profiler(block, +1);
    return block;
  }

  void free(Block* block) {
    std::lock_guard lock(mutex_);
    active_.erase(block->ptr);
    update_allocated(block, -1);
    trace(TraceEntry::Action::FreeRequested, block);
    report_to_profiler(block, -1);
    if (block->used_on.empty()) {
      release_to_pool(block);
      return;
    }
    // Reusable once every other stream that used it reaches this point.
    for (const c10::Stream& stream : block->used_on) {
      hal::Notifier* notifier = hal_call([&] { return driver().create_notifier(device_, false); });
      hal_call([&] { driver().record(notifier, queue_of(stream)); });
      pending_.emplace_back(notifier, block);
    }
    block->used_on.clear();
  }

  void record_stream(void* ptr, const c10::Stream& stream) {
    std::lock_guard lock(mutex_);
    auto it = active_.find(ptr);
    TORCH_CHECK(it != active_.end(),
                "record_stream: the tensor's memory is not an active mlu allocation");
    Block* block = it->second;
    if (stream.id() == block->stream) return;
    for (const c10::Stream& s : block->used_on) {
      if (s == stream) return;
    }
    block->used_on.push_back(stream);
  }

  void empty_cache() {
    std::lock_guard lock(mutex_);
    release_cached_blocks();
  }

  // Allocations on `stream` come from `pool` until end_capture: what a graph captures there stays
  // valid for its replays. Other allocations of the capturing thread would be outside the pool.
  void begin_capture(PoolId pool, c10::StreamId stream) {
    std::lock_guard lock(mutex_);
    for (const Capture& c : captures_) {
      TORCH_CHECK(c.stream != stream, "mlu:", static_cast<int>(device_), " stream ", stream,
                  " is already capturing");
    }
    captures_.push_back({pool, stream, std::this_thread::get_id()});
    ++pool_users_[pool];
  }

  void end_capture(c10::StreamId stream) {
    std::lock_guard lock(mutex_);
    std::erase_if(captures_, [&](const Capture& c) { return c.stream == stream; });
  }

  // A graph no longer needs its pool. When no graph does, the pool's cached blocks go back to the
  // driver, and so do its live blocks at the next empty_cache after they are freed.
  void release_pool(PoolId pool) {
    std::lock_guard lock(mutex_);
    auto users = pool_users_.find(pool);
    if (users == pool_users_.end() || --users->second > 0) return;
    pool_users_.erase(users);
    hal_call([&] { driver().drain(device_); });  // replays still queued may use the memory
    release_free_blocks([&](const Block* b) { return b->pool == pool; });
  }

  DeviceStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  MemorySnapshot snapshot() {
    std::lock_guard lock(mutex_);
    MemorySnapshot out;
    auto add = [&](const Block* b, BlockSnapshot::State state) {
      out.blocks.push_back({reinterpret_cast<std::uintptr_t>(b->ptr), b->size, b->requested,
                            b->stream, b->pool, state, b->context});
    };
    for (const auto& [ptr, block] : active_) add(block, BlockSnapshot::State::Active);
    for (const Block* block : free_) add(block, BlockSnapshot::State::Inactive);
    for (const auto& [notifier, block] : pending_) {
      const bool seen = std::any_of(out.blocks.begin(), out.blocks.end(), [&](const auto& b) {
        return b.addr == reinterpret_cast<std::uintptr_t>(block->ptr);
      });
      if (!seen) add(block, BlockSnapshot::State::PendingFree);
    }
    std::sort(out.blocks.begin(), out.blocks.end(),
              [](const auto& a, const auto& b) { return a.addr < b.addr; });
    out.trace.assign(trace_.begin(), trace_.end());
    return out;
  }

  void clear_trace() {
    std::lock_guard lock(mutex_);
    trace_.clear();
  }

  void reset_peak() {
    std::lock_guard lock(mutex_);
    for_all_stats([](Stat& s) { s.reset_peak(); });
  }

  void reset_accumulated() {
    std::lock_guard lock(mutex_);
    for_all_stats([](Stat& s) { s.reset_accumulated(); });
    stats_.num_alloc_retries = 0;
    stats_.num_ooms = 0;
    stats_.num_device_alloc = 0;
    stats_.num_device_free = 0;
  }

  void set_fraction(double fraction) {
    std::lock_guard lock(mutex_);
    fraction_ = fraction;
  }

  bool owns(const void* ptr) {
    std::lock_guard lock(mutex_);
    auto it = active_.upper_bound(const_cast<void*>(ptr));
    if (it == active_.begin()) return false;
    --it;
    return static_cast<const char*>(ptr) < static_cast<char*>(it->first) + it->second->size;
  }

 private:
  struct Capture {
    PoolId pool;
    c10::StreamId stream;
    std::thread::id thread;
  };

  PoolId capture_pool(c10::StreamId stream, std::size_t requested) {
    for (const Capture& c : captures_) {
      if (c.stream == stream) return c.pool;
    }
    for (const Capture& c : captures_) {
      TORCH_CHECK(c.thread != std::this_thread::get_id(), "cannot allocate ",
                  format_bytes(requested), " on mlu:", static_cast<int>(device_), " stream ",
                  stream, " while this thread captures a graph on stream ", c.stream,
                  ": the memory would be outside the graph's private pool; allocate on the "
                  "capturing stream (torch.mlu.graph makes it current)");
    }
    return {0, 0};
  }

  Block* take_cached(std::size_t size, PoolId pool, c10::StreamId stream) {
    Block key{device_, pool, stream, size, 0, nullptr, {}};
    auto it = free_.lower_bound(&key);
    if (it == free_.end() || (*it)->pool != pool || (*it)->stream != stream ||
        (*it)->size > 2 * size) {
      return nullptr;
    }
    Block* block = *it;
    free_.erase(it);
    return block;
  }

  Block* reserve(std::size_t size, std::size_t requested, PoolId pool, c10::StreamId stream) {
    void* ptr = try_reserve(size);
    if (ptr == nullptr) {
      // Give everything cached back to the driver and try once more.
      ++stats_.num_alloc_retries;
      release_cached_blocks();
      ptr = try_reserve(size);
    }
    if (ptr == nullptr) {
      ++stats_.num_ooms;
      raise_out_of_memory(requested);
    }
    auto* block = new Block{device_, pool, stream, size, requested, ptr, {}};
    trace(TraceEntry::Action::SegmentAlloc, block);
    reserved_ += size;
    ++stats_.num_device_alloc;
    for_pool(size, [&](StatType t) {
      stats_.reserved_bytes[static_cast<std::size_t>(t)].increase(size);
      stats_.segment[static_cast<std::size_t>(t)].increase(1);
    });
    return block;
  }

  void* try_reserve(std::size_t size) {
    const std::size_t capacity = driver().memory_info(device_).total;
    if (fraction_ < 1.0 && reserved_ + size > static_cast<std::size_t>(fraction_ * capacity)) {
      return nullptr;
    }
    try {
      return driver().allocate(device_, size);
    } catch (const hal::Error& error) {
      if (error.kind() != hal::ErrorKind::OutOfMemory) raise_hal_error(error);
      return nullptr;
    }
  }

  [[noreturn]] void raise_out_of_memory(std::size_t requested) {
    const hal::MemoryInfo info = driver().memory_info(device_);
    const std::size_t allocated = stats_.allocated_bytes[0].current;
    if (g_trace.load()) {
      trace_entry({TraceEntry::Action::Oom, info.free, requested, 0, now_us(), nullptr});
    }
    std::ostringstream msg;
    msg << "MLU out of memory. Tried to allocate " << format_bytes(requested)
        << ". mlu:" << static_cast<int>(device_) << " has a total capacity of "
        << format_bytes(info.total) << " of which " << format_bytes(info.free)
        << " is free. Of the allocated memory " << format_bytes(allocated)
        << " is allocated by PyTorch, and " << format_bytes(reserved_ - allocated)
        << " is reserved by PyTorch but unallocated.";
    if (fraction_ < 1.0) {
      msg << " This process may use at most " << fraction_ * 100
          << "% of the device (set_per_process_memory_fraction).";
    }
    // What holds the memory: the largest live allocations (with where they were allocated, when
    // history is recorded).
    std::vector<const Block*> live;
    for (const auto& [ptr, block] : active_) live.push_back(block);
    const std::size_t shown = std::min<std::size_t>(live.size(), 5);
    std::partial_sort(live.begin(), live.begin() + shown, live.end(),
                      [](const Block* a, const Block* b) { return a->size > b->size; });
    std::vector<std::pair<std::size_t, std::shared_ptr<c10::GatheredContext>>> largest;
    for (std::size_t i = 0; i < shown; ++i) largest.emplace_back(live[i]->size, live[i]->context);
    std::ostringstream advice;
    advice << " Free tensors you no longer need (the largest are above) or use a smaller batch";
    // Before raising, the cache went back to the driver: what this process could still get is the
    // free memory, within its fraction of the device.
    std::size_t obtainable = info.free;
    if (fraction_ < 1.0) {
      const auto limit = static_cast<std::size_t>(fraction_ * info.total);
      obtainable = std::min(obtainable, limit > reserved_ ? limit - reserved_ : 0);
    }
    if (obtainable > 0 && obtainable < requested) {
      advice << " (if this allocation grows with the batch, a batch of at most "
             << std::max<std::size_t>(1, obtainable * 100 / requested)
             << "% of this one would fit it)";
    }
    if (reserved_ > allocated) {
      // All that stays cached after that is held by graphs' private pools.
      advice << "; the " << format_bytes(reserved_ - allocated) << " reserved but unallocated ("
             << free_.size() << " free block" << (free_.size() == 1 ? "" : "s")
             << ") belongs to the private pools of mlu graphs, which only they reuse: reset() or "
                "delete graphs you no longer replay";
    }
    if (fraction_ < 1.0) {
      advice << "; torch.mlu.set_per_process_memory_fraction() raises this process's limit";
    }
    if (g_recorder.load() == nullptr) {
      advice << ". torch.mlu.memory._record_memory_history() records where each allocation "
                "was made, for this message and for torch.mlu.memory._snapshot()";
    }
    advice << ".";
    throw DeviceOutOfMemory(msg.str(), std::move(largest), advice.str());
  }

  void trace(TraceEntry::Action action, const Block* block,
             std::shared_ptr<c10::GatheredContext> context = nullptr) {
    if (!g_trace.load(std::memory_order_relaxed)) return;
    trace_entry({action, reinterpret_cast<std::uintptr_t>(block->ptr), block->size, block->stream,
                 now_us(), std::move(context)});
  }

  void trace_entry(TraceEntry entry) {
    trace_.push_back(std::move(entry));
    const std::size_t limit = g_max_entries.load();
    while (trace_.size() > limit) trace_.pop_front();
  }

  // Returns every cached block to the driver, once no queued work can still use them; live
  // private pools keep theirs (their graphs' replays write there). Failures of that work stay
  // pending for their streams: an allocation is not where they belong.
  void release_cached_blocks() {
    if (free_.empty() && pending_.empty()) return;
    hal_call([&] { driver().drain(device_); });
    collect_finished_events();
    ++stats_.num_sync_all_streams;
    release_free_blocks([&](const Block* b) { return !pool_users_.contains(b->pool); });
  }

  template <typename Predicate>
  void release_free_blocks(Predicate selected) {
    for (auto it = free_.begin(); it != free_.end();) {
      if (!selected(*it)) {
        ++it;
        continue;
      }
      return_to_driver(*it);
      it = free_.erase(it);
    }
  }

  void return_to_driver(Block* block) {
    trace(TraceEntry::Action::SegmentFree, block);
    hal_call([&] { driver().free(device_, block->ptr); });
    reserved_ -= block->size;
    ++stats_.num_device_free;
    for_pool(block->size, [&](StatType t) {
      stats_.reserved_bytes[static_cast<std::size_t>(t)].decrease(block->size);
      stats_.segment[static_cast<std::size_t>(t)].decrease(1);
    });
    delete block;
  }

  void collect_finished_events() {
    while (!pending_.empty()) {
      auto [notifier, block] = pending_.front();
      if (!driver().query(notifier)) return;
      driver().destroy_notifier(notifier);
      pending_.pop_front();
      // A block recorded on several streams is pooled after its last event.
      bool more = false;
      for (auto& [n, b] : pending_) more |= b == block;
      if (!more) release_to_pool(block);
    }
  }

  void release_to_pool(Block* block) {
    trace(TraceEntry::Action::FreeCompleted, block);
    block->context.reset();
    for_pool(block->size, [&](StatType t) {
      stats_.active[static_cast<std::size_t>(t)].decrease(1);
      stats_.active_bytes[static_cast<std::size_t>(t)].decrease(block->size);
    });
    free_.insert(block);
  }

  void update(Block* block, int sign) {
    update_allocated(block, sign);
    for_pool(block->size, [&](StatType t) {
      stats_.active[static_cast<std::size_t>(t)].increase(1);
      stats_.active_bytes[static_cast<std::size_t>(t)].increase(block->size);
    });
  }

  // torch.profiler's profile_memory: a no-op (one thread-local read) unless it records.
  void report_to_profiler(const Block* block, int sign) {
    const auto bytes = static_cast<std::int64_t>(block->size);
    c10::reportMemoryUsageToProfiler(block->ptr, sign * bytes, stats_.allocated_bytes[0].current,
                                     stats_.reserved_bytes[0].current, c10::Device(kMLU, device_));
  }

  void update_allocated(Block* block, int sign) {
    for_pool(block->size, [&](StatType t) {
      const auto i = static_cast<std::size_t>(t);
      if (sign > 0) {
        stats_.allocation[i].increase(1);
        stats_.allocated_bytes[i].increase(block->size);
        stats_.requested_bytes[i].increase(block->requested);
      } else {
        stats_.allocation[i].decrease(1);
        stats_.allocated_bytes[i].decrease(block->size);
        stats_.requested_bytes[i].decrease(block->requested);
      }
    });
  }

  template <typename F>
  static void for_pool(std::size_t size, F f) {
    f(StatType::AGGREGATE);
    f(size <= kSmallSize ? StatType::SMALL_POOL : StatType::LARGE_POOL);
  }

  template <typename F>
  void for_all_stats(F f) {
    for (auto* array : {&stats_.allocation, &stats_.segment, &stats_.active, &stats_.inactive_split,
                        &stats_.allocated_bytes, &stats_.reserved_bytes, &stats_.active_bytes,
                        &stats_.inactive_split_bytes, &stats_.requested_bytes}) {
      for (Stat& s : *array) f(s);
    }
  }

  c10::DeviceIndex device_;
  std::mutex mutex_;
  std::set<Block*, BySizeOnStream> free_;
  std::map<void*, Block*> active_;
  std::deque<std::pair<hal::Notifier*, Block*>> pending_;
  std::vector<Capture> captures_;
  std::deque<TraceEntry> trace_;
  std::map<PoolId, int> pool_users_;  // graphs (and captures) using each private pool
  DeviceStats stats_;
  std::size_t reserved_ = 0;
  double fraction_ = 1.0;
};

std::vector<std::unique_ptr<DeviceCache>>& caches() {
  static auto* all = [] {
    auto* v = new std::vector<std::unique_ptr<DeviceCache>>();
    for (int i = 0; i < driver().device_count(); ++i)
      v->push_back(std::make_unique<DeviceCache>(i));
    return v;
  }();
  return *all;
}

DeviceCache& cache(c10::DeviceIndex device) {
  check_device(device);
  return *caches()[device];
}

[[noreturn]] void raise_explained(const DeviceOutOfMemory& oom) {
  std::vector<std::string> where;
  if (ContextDescriber describe = g_describer.load()) {
    std::vector<std::shared_ptr<c10::GatheredContext>> contexts;
    for (const auto& [size, context] : oom.largest) contexts.push_back(context);
    where = describe(contexts);
  }
  std::ostringstream msg;
  msg << oom.what();
  if (!oom.largest.empty()) {
    msg << " Largest live allocations:";
    for (std::size_t i = 0; i < oom.largest.size(); ++i) {
      msg << (i ? ";" : "") << " " << format_bytes(oom.largest[i].first);
      if (i < where.size() && !where[i].empty()) msg << " (allocated at " << where[i] << ")";
    }
    msg << ".";
  }
  msg << oom.advice;
  TORCH_CHECK_WITH(OutOfMemoryError, false, msg.str());
}

void free_block(void* ctx) {
  // A forked child dropping a tensor it inherited: the memory is the parent's.
  if (hal::forked_after_init()) return;
  auto* block = static_cast<Block*>(ctx);
  without_throwing("freeing mlu memory", [&] { cache(block->device).free(block); });
}

#if TORCH_MLU_TORCH_VERSION >= 209
using AllocatorBase = c10::DeviceAllocator;
#else
using AllocatorBase = c10::Allocator;
#endif

class MLUAllocator final : public AllocatorBase {
 public:
  c10::DataPtr allocate(std::size_t n) override {
    const c10::DeviceIndex device = current_device();
    const c10::Device where(kMLU, device);
    if (n == 0) return c10::DataPtr(nullptr, nullptr, &c10::detail::deleteNothing, where);
    ContextRecorder recorder = g_recorder.load();
    // Gathered before the cache's lock: gathering Python frames takes the interpreter's lock.
    auto context = recorder != nullptr ? recorder() : nullptr;
    try {
      Block* block = cache(device).allocate(n, current_stream(device).id(), std::move(context));
      return c10::DataPtr(block->ptr, block, &free_block, where);
    } catch (const DeviceOutOfMemory& oom) {
      raise_explained(oom);
    }
  }

  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    const c10::DeviceIndex device = current_device();
    enqueue_copy(device, dest, src, count, hal::CopyKind::DeviceToDevice);
    hal_call([&] { driver().synchronize(current_queue(device)); });
  }

#if TORCH_MLU_TORCH_VERSION >= 209
  bool initialized() override { return is_initialized(); }
  void emptyCache(c10::MempoolId_t) override { torch_mlu::empty_cache(); }
  void recordStream(const c10::DataPtr& ptr, c10::Stream stream) override {
    torch_mlu::record_stream(ptr, stream);
  }
  DeviceStats getDeviceStats(c10::DeviceIndex device) override { return device_stats(device); }
  void resetAccumulatedStats(c10::DeviceIndex device) override { reset_accumulated_stats(device); }
  void resetPeakStats(c10::DeviceIndex device) override { reset_peak_stats(device); }
  std::pair<std::size_t, std::size_t> getMemoryInfo(c10::DeviceIndex device) override {
    return memory_info(device);
  }
#endif
};

MLUAllocator g_allocator;
REGISTER_ALLOCATOR(c10::DeviceType::PrivateUse1, &g_allocator);

}  // namespace

c10::Allocator* device_allocator() { return &g_allocator; }

void record_stream(const c10::DataPtr& data_ptr, const c10::Stream& stream) {
  if (data_ptr.get() == nullptr) return;
  TORCH_CHECK(data_ptr.get_deleter() == &free_block,
              "record_stream: the tensor's memory was not allocated by the mlu caching allocator");
  auto* block = static_cast<Block*>(data_ptr.get_context());
  cache(block->device).record_stream(block->ptr, stream);
}

void empty_cache() {
  if (!is_initialized()) return;
  for (auto& c : caches()) c->empty_cache();
}

void begin_allocating_to_pool(c10::DeviceIndex device, PoolId pool, c10::StreamId stream) {
  cache(device).begin_capture(pool, stream);
}

void end_allocating_to_pool(c10::DeviceIndex device, c10::StreamId stream) {
  cache(device).end_capture(stream);
}

void release_pool(c10::DeviceIndex device, PoolId pool) { cache(device).release_pool(pool); }

DeviceStats device_stats(c10::DeviceIndex device) { return cache(device).stats(); }

void record_memory_history(ContextRecorder recorder, bool trace, std::size_t max_entries) {
  g_max_entries.store(max_entries);
  g_trace.store(recorder != nullptr && trace);
  g_recorder.store(recorder);
  if (recorder == nullptr && is_initialized()) {
    for (auto& c : caches()) c->clear_trace();
  }
}

void set_context_describer(ContextDescriber describer) { g_describer.store(describer); }

MemorySnapshot memory_snapshot(c10::DeviceIndex device) { return cache(device).snapshot(); }
void reset_peak_stats(c10::DeviceIndex device) { cache(device).reset_peak(); }
void reset_accumulated_stats(c10::DeviceIndex device) { cache(device).reset_accumulated(); }

void set_memory_fraction(double fraction, c10::DeviceIndex device) {
  TORCH_CHECK_VALUE(fraction >= 0.0 && fraction <= 1.0,
                    "memory fraction must be between 0 and 1, got ", fraction);
  cache(device).set_fraction(fraction);
}

std::pair<std::size_t, std::size_t> memory_info(c10::DeviceIndex device) {
  check_device(device);
  const hal::MemoryInfo info = hal_call([&] { return driver().memory_info(device); });
  return {info.free, info.total};
}

std::optional<c10::DeviceIndex> device_of(const void* ptr) {
  if (!is_initialized()) return std::nullopt;
  for (auto& c : caches()) {
    if (c->owns(ptr)) return static_cast<c10::DeviceIndex>(&c - caches().data());
  }
  return std::nullopt;
}

}  // namespace torch_mlu
