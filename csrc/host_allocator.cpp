#include "host_allocator.h"

#include <map>
#include <mutex>
#include <vector>

namespace torch_mlu {
namespace {

// Notifiers recorded after copies that use a pinned block; freeing the block waits for them.
std::mutex g_mutex;
std::map<const void*, std::vector<hal::Notifier*>> g_uses;

void free_pinned(void* ptr) {
  std::vector<hal::Notifier*> uses;
  {
    std::lock_guard lock(g_mutex);
    auto it = g_uses.find(ptr);
    if (it != g_uses.end()) {
      uses = std::move(it->second);
      g_uses.erase(it);
    }
  }
  hal::Driver& d = hal::driver();
  for (hal::Notifier* n : uses) {
    d.synchronize(n);
    d.destroy_notifier(n);
  }
  d.free_host(ptr);
}

struct PinnedAllocator final : c10::Allocator {
  c10::DataPtr allocate(std::size_t n) override {
    void* ptr = n == 0 ? nullptr : hal_call([&] { return driver().allocate_host(n); });
    return c10::DataPtr(ptr, ptr, n == 0 ? &c10::detail::deleteNothing : &free_pinned, c10::Device(c10::kCPU));
  }
  c10::DeleterFnPtr raw_deleter() const override { return &free_pinned; }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

PinnedAllocator g_pinned;

}  // namespace

c10::Allocator* host_allocator() { return &g_pinned; }

bool is_pinned(const void* ptr) {
  return is_initialized() && ptr != nullptr && driver().is_pinned(ptr);
}

void record_host_use(const void* ptr, hal::Queue* queue) {
  hal::Driver& d = driver();
  hal::Notifier* n = hal_call([&] { return d.create_notifier(d.queue_device(queue), false); });
  hal_call([&] { d.record(n, queue); });
  std::lock_guard lock(g_mutex);
  g_uses[ptr].push_back(n);
}

}  // namespace torch_mlu
