#include "host_allocator.h"

#if TORCH_MLU_TORCH_VERSION >= 208
#include <ATen/core/CachingHostAllocator.h>
#endif

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "stream.h"

namespace torch_mlu {
namespace {

// The queues whose copies may still use a pinned block: one notifier per queue, re-recorded after
// each copy (a queue runs in order, so its newest record covers every earlier copy).
using Uses = std::vector<std::pair<hal::Queue*, hal::Notifier*>>;

std::mutex g_mutex;
std::map<const void*, Uses> g_uses;
// Freed blocks whose copies had not finished yet. Freeing never blocks or raises (it runs in a
// deleter); blocks are returned once their notifiers are reached, as PyTorch's caching host
// allocator does.
std::vector<std::pair<void*, Uses>> g_retired;

bool finished(const Uses& uses) {
  return std::all_of(uses.begin(), uses.end(),
                     [](const auto& use) { return driver().query(use.second); });
}

void release(void* ptr, const Uses& uses) {
  for (const auto& use : uses) driver().destroy_notifier(use.second);
  driver().free_host(ptr);
}

// Call with g_mutex held.
void release_finished_retired() {
  auto done = std::stable_partition(g_retired.begin(), g_retired.end(),
                                    [](const auto& retired) { return !finished(retired.second); });
  for (auto it = done; it != g_retired.end(); ++it) release(it->first, it->second);
  g_retired.erase(done, g_retired.end());
}

void free_pinned(void* ptr) {
  if (hal::forked_after_init()) return;  // a forked child's copy of the parent's block
  without_throwing("freeing pinned memory", [&] {
    std::lock_guard lock(g_mutex);
    auto it = g_uses.find(ptr);
    Uses uses;
    if (it != g_uses.end()) {
      uses = std::move(it->second);
      g_uses.erase(it);
    }
    if (finished(uses)) {
      release(ptr, uses);
    } else {
      g_retired.emplace_back(ptr, std::move(uses));
    }
    release_finished_retired();
  });
}

// From PyTorch 2.8 on, torch.accelerator's host-memory calls (empty_host_cache, which
// torch.accelerator.Graph makes before capturing) find the allocator through at::HostAllocator.
#if TORCH_MLU_TORCH_VERSION >= 208
using PinnedAllocatorBase = at::HostAllocator;
#else
using PinnedAllocatorBase = c10::Allocator;
#endif

struct PinnedAllocator final : PinnedAllocatorBase {
  c10::DataPtr allocate(std::size_t n) override {
    if (n == 0) return c10::DataPtr(nullptr, nullptr, &c10::detail::deleteNothing, c10::kCPU);
    {
      std::lock_guard lock(g_mutex);
      hal_call([] { release_finished_retired(); });
    }
    void* ptr = hal_call([&] { return driver().allocate_host(n); });
    return c10::DataPtr(ptr, ptr, &free_pinned, c10::Device(c10::kCPU));
  }
  c10::DeleterFnPtr raw_deleter() const override { return &free_pinned; }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#if TORCH_MLU_TORCH_VERSION >= 208
  bool record_event(void* ptr, void*, c10::Stream stream) override {
    record_host_use(ptr, queue_of(stream));
    return true;
  }
  // Nothing is cached: freed blocks return to the driver at once, or once their copies finish.
  void empty_cache() override {
    std::lock_guard lock(g_mutex);
    hal_call([] { release_finished_retired(); });
  }
  at::HostStats get_stats() override { return {}; }  // not tracked
  void reset_accumulated_stats() override {}
  void reset_peak_stats() override {}
#endif
};

PinnedAllocator g_pinned;
#if TORCH_MLU_TORCH_VERSION >= 208
REGISTER_HOST_ALLOCATOR(c10::DeviceType::PrivateUse1, &g_pinned)
#endif

}  // namespace

c10::Allocator* host_allocator() { return &g_pinned; }

bool is_pinned(const void* ptr) {
  return is_initialized() && ptr != nullptr && driver().is_pinned(ptr);
}

void record_host_use(const void* ptr, hal::Queue* queue) {
  hal::Driver& d = driver();
  std::lock_guard lock(g_mutex);
  Uses& uses = g_uses[ptr];
  auto it =
      std::find_if(uses.begin(), uses.end(), [&](const auto& use) { return use.first == queue; });
  if (it == uses.end()) {
    hal::Notifier* n = hal_call([&] { return d.create_notifier(d.queue_device(queue), false); });
    it = uses.emplace(uses.end(), queue, n);
  }
  hal_call([&] { d.record(it->second, queue); });
}

}  // namespace torch_mlu
