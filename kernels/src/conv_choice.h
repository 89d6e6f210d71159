// What the convolutions' timed choices share: a run's time, and the choices kept per layer.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace mlu::kernels {

// The shorter of two runs, after one that builds and warms what the run needs.
template <typename Run>
double seconds_per_run(Run&& run) {
  run();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Timed decisions (whether a layer takes the first of two ways), by a key that describes the
// layer; kept for the process, past any plan cache's evictions.
class TimedDecisions {
 public:
  using Key = std::vector<std::int64_t>;

  std::optional<bool> find(const Key& key) {
    std::lock_guard lock(mutex_);
    const auto it = kept_.find(key);
    return it == kept_.end() ? std::nullopt : std::optional<bool>(it->second);
  }
  void keep(const Key& key, bool first) {
    std::lock_guard lock(mutex_);
    kept_.insert_or_assign(key, first);
  }

 private:
  std::mutex mutex_;
  std::map<Key, bool> kept_;
};

}  // namespace mlu::kernels
