// What the kernels that run on oneDNN share: the CPU engine, each thread's stream, the OpenMP
// team size, and a small cache of primitives built per shape.
#pragma once

#include <omp.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <utility>

#include "mlu_kernels/parallel.h"

namespace mlu::kernels {

inline const dnnl::engine& onednn_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

inline dnnl::stream& onednn_stream() {
  thread_local dnnl::stream stream(onednn_engine());
  return stream;
}

// Primitives are cached for all the queue threads, and in oneDNN's default scratchpad mode a
// primitive's scratchpad is a buffer of the thread that created it: run by another thread, it
// found none (a segfault replaying a captured MobileNetV3 step whose warm-up ran on a side
// stream). Every primitive here is made with this attribute and given the executing thread's.
inline dnnl::primitive_attr with_user_scratchpad(dnnl::primitive_attr attr = {}) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Adds to args the calling thread's scratchpad for a primitive whose scratchpad is desc: one
// buffer per thread, grown when needed and kept (primitives run one at a time on a thread).
inline void add_scratchpad(std::unordered_map<int, dnnl::memory>& args,
                           const dnnl::memory::desc& desc) {
  constexpr std::size_t kAlignment = 64;  // as oneDNN aligns its own buffers
  const std::size_t size = desc.get_size();
  if (size == 0) return;
  thread_local std::unique_ptr<char[]> buffer;
  thread_local std::size_t capacity = 0;
  if (size > capacity) {
    buffer = std::make_unique_for_overwrite<char[]>(size + kAlignment);
    capacity = size;
  }
  const auto base = reinterpret_cast<std::uintptr_t>(buffer.get());
  void* aligned = reinterpret_cast<void*>((base + kAlignment - 1) & ~(kAlignment - 1));
  args.insert_or_assign(DNNL_ARG_SCRATCHPAD, dnnl::memory(desc, onednn_engine(), aligned));
}

// oneDNN parallelises through OpenMP with the calling thread's team size. Work below the
// threshold runs on the calling thread alone: a second OpenMP thread spins after each parallel
// region and takes the core from the dispatching thread and the kernels that follow.
inline void size_onednn_team(double multiply_adds, double threshold) {
  omp_set_num_threads(multiply_adds >= threshold ? kernel_threads() : 1);
}

// oneDNN primitives are built one at a time: building is rare (once per shape), and the state
// oneDNN builds lazily with its first primitives is shared between threads in ways
// ThreadSanitizer cannot see (it reported a race between two queues building their first
// products). Recursive: a 16-bit convolution's plan runs, and so plans, the float32 convolution
// it is timed against.
inline std::recursive_mutex& onednn_build_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

// Least recently used entries are dropped past the capacity: a network has a few dozen shapes, and
// each convolution three passes (MobileNetV3-Small trained in float32 and in bfloat16 in one
// process overflowed 256 and rebuilt its plans at every step).
template <typename Key, typename Value>
class LruCache {
 public:
  template <typename Make>
  std::shared_ptr<const Value> get(const Key& key, Make&& make) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = index_.find(key); it != index_.end()) {
        order_.splice(order_.begin(), order_, it->second);
        return it->second->second;
      }
    }
    std::shared_ptr<const Value> value = [&] {  // slow: built outside the cache's lock
      std::lock_guard build(onednn_build_mutex());
      return make();
    }();
    std::lock_guard lock(mutex_);
    if (index_.find(key) == index_.end()) {
      order_.emplace_front(key, value);
      index_.emplace(key, order_.begin());
      if (order_.size() > kCapacity) {
        index_.erase(order_.back().first);
        order_.pop_back();
      }
    }
    return value;
  }

 private:
  static constexpr std::size_t kCapacity = 512;
  std::mutex mutex_;
  std::list<std::pair<Key, std::shared_ptr<const Value>>> order_;
  std::map<Key, typename decltype(order_)::iterator> index_;
};

}  // namespace mlu::kernels
