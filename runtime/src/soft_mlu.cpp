// The software MLU: hal::Driver executed by host cores.
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "device_state.h"
#include "double_mapping.h"
#include "mlu/hal.h"
#include "notifier.h"
#include "queue.h"

namespace mlu::hal {
struct Queue : soft::SoftQueue {
  using SoftQueue::SoftQueue;
};
// The handle owns a reference: work already enqueued keeps the state alive after destroy.
struct Notifier {
  std::shared_ptr<soft::SoftNotifier> state;
};
// Likewise: enqueued launches keep the recorded work alive after destroy.
struct Graph {
  std::shared_ptr<soft::RecordedGraph> state;
};
}  // namespace mlu::hal

namespace mlu::soft {
namespace {

std::atomic<bool> g_forked{false};
// Set once executor threads exist: only then is a forked child's copy of the driver unusable
// (its queues would have no threads). Reading properties or seeding before that forks safely.
std::atomic<bool> g_threads_started{false};

constexpr std::size_t kHostAlignment = 4096;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// The virtual address space strict device memory may take (twice: two mappings).
constexpr std::size_t kMaxMapping = std::size_t{16} << 40;

hal::Error invalid(const std::string& message) {
  return hal::Error(hal::ErrorKind::InvalidValue, message);
}

class SoftDriver final : public hal::Driver {
 public:
  explicit SoftDriver(const Config& config) : queue_spin_(config.queue_spin) {
    // Each device's part of a double mapping starts on a huge-page boundary.
    const std::size_t span = (config.memory_per_device + kHugePage - 1) / kHugePage * kHugePage;
    if (config.strict_device_memory && !config.visible.empty()) {
      if (span < config.memory_per_device || span > kMaxMapping / config.visible.size()) {
        throw hal::Error(hal::ErrorKind::Unavailable,
                         "MLU_STRICT_DEVICE_MEMORY=1 maps at most " +
                             std::to_string(kMaxMapping >> 40) +
                             " TiB of device memory in all; lower MLU_DEVICE_MEMORY");
      }
      mapping_ = std::make_unique<DoubleMapping>(span * config.visible.size());
    }
    for (std::size_t i = 0; i < config.visible.size(); ++i) {
      devices_.push_back(std::make_unique<DeviceState>(static_cast<int>(i), config.visible[i],
                                                       config.memory_per_device, mapping_.get(),
                                                       span * i));
    }
  }

  // In a child process right after fork: device memory the parent allocated stays the parent's.
  // Returns false when the child must not use the devices (the parent's allocations are not
  // there, or new pages could not be mapped).
  bool renew_memory_in_child() {
    if (!mapping_) return true;
    bool parent_allocated = false;
    for (const auto& d : devices_) parent_allocated = parent_allocated || d->has_allocations();
    return mapping_->renew() && !parent_allocated;
  }

  int device_count() const override { return static_cast<int>(devices_.size()); }

  hal::DeviceProperties properties(int device) const override { return state(device).properties(); }

  void* allocate(int device, std::size_t bytes) override { return state(device).allocate(bytes); }
  void free(int device, void* ptr) override { state(device).free(ptr); }
  hal::MemoryInfo memory_info(int device) const override { return state(device).memory_info(); }

  void* allocate_host(std::size_t bytes) override {
    if (bytes == 0) return nullptr;
    const std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    // rounded < bytes: rounding up wrapped around.
    void* ptr = rounded < bytes ? nullptr : std::aligned_alloc(kHostAlignment, rounded);
    if (ptr == nullptr) {
      throw hal::Error(hal::ErrorKind::OutOfMemory,
                       "cannot allocate " + std::to_string(bytes) + " bytes of pinned host memory");
    }
    std::lock_guard lock(pinned_mutex_);
    pinned_.emplace(static_cast<char*>(ptr), rounded);
    return ptr;
  }

  void free_host(void* ptr) override {
    if (ptr == nullptr) return;
    {
      std::lock_guard lock(pinned_mutex_);
      if (pinned_.erase(static_cast<char*>(ptr)) == 0) {
        throw invalid("free_host of a pointer that is not pinned host memory");
      }
    }
    std::free(ptr);
  }

  bool is_pinned(const void* ptr) const override {
    const char* p = static_cast<const char*>(ptr);
    std::lock_guard lock(pinned_mutex_);
    auto it = pinned_.upper_bound(const_cast<char*>(p));
    if (it == pinned_.begin()) return false;
    --it;
    return p < it->first + it->second;
  }

  hal::Queue* create_queue(int device, int priority) override {
    auto queue =
        std::make_shared<hal::Queue>(state(device), priority, next_queue_ordinal_++, queue_spin_);
    g_threads_started.store(true);
    std::lock_guard lock(registry_mutex_);
    live_queues_.push_back(queue);
    return queue.get();
  }

  void destroy_queue(hal::Queue* queue) override {
    checked(queue);
    std::shared_ptr<hal::Queue> owned;
    {
      std::lock_guard lock(registry_mutex_);
      auto it = std::find_if(live_queues_.begin(), live_queues_.end(),
                             [&](const auto& q) { return q.get() == queue; });
      if (it == live_queues_.end()) throw invalid("destroy of an unknown queue");
      owned = std::move(*it);
      live_queues_.erase(it);
    }
    owned->abort_capture();
    // A concurrent synchronize_device() may hold the last reference and delete the queue later.
    owned->wait_idle();
  }

  int queue_device(const hal::Queue* queue) const override {
    return const_cast<hal::Queue*>(checked(queue))->device().index();
  }

  void launch(hal::Queue* queue, const char* name, hal::Work work) override {
    checked(queue)->launch(name, std::move(work));
  }

  void launch_fusible(hal::Queue* queue, const char* name,
                      std::shared_ptr<hal::FusibleWork> work) override {
    if (!work) throw invalid("launch of null work");
    checked(queue)->launch_fusible(name, std::move(work));
  }

  void copy_async(hal::Queue* queue, void* dst, const void* src, std::size_t bytes,
                  hal::CopyKind kind) override {
    checked(queue);
    if (bytes == 0) return;
    if (dst == nullptr || src == nullptr) throw invalid("copy with a null pointer");
    const bool host_src = kind == hal::CopyKind::HostToDevice || kind == hal::CopyKind::HostToHost;
    const bool host_dst = kind == hal::CopyKind::DeviceToHost || kind == hal::CopyKind::HostToHost;
    const bool pageable = (host_src && !is_pinned(src)) || (host_dst && !is_pinned(dst));
    if (pageable && queue->capturing()) {
      throw queue->refuse_in_capture("a copy with pageable host memory (it synchronizes)");
    }
    queue->launch("memcpy", [dst = hal::kernel_address(dst), src = hal::kernel_address(src),
                             bytes] { std::memcpy(dst, src, bytes); });
    if (pageable) synchronize(queue);
  }

  bool query(hal::Queue* queue) override {
    if (checked(queue)->capturing()) throw queue->refuse_in_capture("a query");
    return queue->idle();
  }

  void synchronize(hal::Queue* queue) override {
    if (checked(queue)->capturing()) throw queue->refuse_in_capture("a synchronize");
    queue->wait_idle();
    raise_if_failed(queue->name(), queue->take_failures());
  }

  void synchronize_device(int device) override {
    refuse_if_capturing(&state(device), "a device synchronize");
    std::string failures;
    for (const auto& q : drained_queues(&state(device))) {
      const std::string own = q->take_failures();
      if (!own.empty()) failures += (failures.empty() ? "" : "; ") + q->queue_name() + ": " + own;
    }
    raise_if_failed("mlu:" + std::to_string(device), failures);
  }

  void drain(int device) override { drained_queues(&state(device)); }

  // Every queue of every device idle; at process exit, before static destructors run.
  void drain_all() { drained_queues(nullptr); }

  hal::Notifier* create_notifier(int device, bool timing) override {
    state(device);
    return new hal::Notifier{std::make_shared<SoftNotifier>(device, timing)};
  }

  void destroy_notifier(hal::Notifier* notifier) override { delete notifier; }

  void record(hal::Notifier* notifier, hal::Queue* queue) override {
    checked(queue);
    if (notifier == nullptr) throw invalid("record of a null notifier");
    auto target = notifier->state;
    if (auto capture = queue->current_capture()) {
      // A point inside the graph: the work it follows runs only in replays, and waiting for it
      // means joining the capture (wait below).
      target->complete(target->begin_record(capture), "");
      return;
    }
    auto marker = target->begin_record();
    // The queue runs this task itself, so it is alive to say whether earlier work failed.
    queue->launch("notifier record", [target, marker, queue] {
      const std::string failures = queue->pending_failures();
      target->complete(marker, failures.empty() ? "" : queue->name() + ": " + failures);
    });
  }

  // The waiting queue inherits a failure of the work it waits for: what it runs next would
  // read that work's invalid results.
  void wait(hal::Queue* queue, hal::Notifier* notifier) override {
    checked(queue);
    if (notifier == nullptr) throw invalid("wait on a null notifier");
    auto target = notifier->state;
    auto marker = target->newest();
    if (auto capture = marker ? marker->captured_in.lock() : nullptr) {
      queue->join_capture(std::static_pointer_cast<soft::SoftQueue::Capture>(capture));
      return;
    }
    if (target->reached(marker) && (!marker || marker->failure.empty())) return;
    if (queue->capturing()) {
      throw queue->refuse_in_capture("a wait for an event that is not reached yet");
    }
    queue->launch("notifier wait", [target, marker] {
      target->wait_for(marker);
      if (!marker->failure.empty()) {
        throw std::runtime_error("it waits for work that failed on " + marker->failure);
      }
    });
  }

  bool query(hal::Notifier* notifier) override {
    SoftNotifier& n = checked(notifier);
    return n.reached(n.newest());
  }

  // Raises the failures of the work the notifier covers; they stay pending on their queue.
  void synchronize(hal::Notifier* notifier) override {
    SoftNotifier& n = checked(notifier);
    auto marker = n.newest();
    n.wait_for(marker);
    if (marker && !marker->failure.empty()) {
      throw hal::Error(hal::ErrorKind::KernelFailure,
                       "MLU work on " + marker->failure + " (failed asynchronously)");
    }
  }

  float elapsed_ms(hal::Notifier* start, hal::Notifier* end) override {
    SoftNotifier& first = checked(start);
    SoftNotifier& last = checked(end);
    if (!first.timing() || !last.timing()) {
      throw invalid("elapsed time needs both notifiers created with timing enabled");
    }
    SoftNotifier::Clock::time_point t0, t1;
    if (!first.completion_time(t0) || !last.completion_time(t1)) {
      throw invalid("elapsed time needs both notifiers recorded and completed");
    }
    return std::chrono::duration<float, std::milli>(t1 - t0).count();
  }

  void begin_capture(hal::Queue* queue) override { checked(queue)->begin_capture(); }

  hal::Graph* end_capture(hal::Queue* queue) override {
    auto state = std::make_shared<RecordedGraph>();
    state->device = checked(queue)->device().index();
    state->tasks = queue->end_capture();
    return new hal::Graph{std::move(state)};
  }

  void abort_capture(hal::Queue* queue) override { checked(queue)->abort_capture(); }

  bool capturing(const hal::Queue* queue) override { return checked(queue)->capturing(); }

  void launch_graph(hal::Graph* graph, hal::Queue* queue, hal::Work before) override {
    checked(queue);
    if (graph == nullptr) throw invalid("launch of a null graph");
    auto state = graph->state;
    if (state->device != queue->device().index()) {
      throw invalid("launch of a graph captured on mlu:" + std::to_string(state->device) + " on " +
                    queue->name() + ": its work uses that device's memory");
    }
    queue->launch("graph", [state, before = std::move(before)] {
      std::lock_guard running(state->running);
      if (before) before();
      for (auto& task : state->tasks) {
        try {
          task.work();
        } catch (const std::exception& e) {
          throw std::runtime_error(std::string("'") + task.name + "' failed: " + e.what());
        }
      }
    });
  }

  std::vector<std::string> graph_work_names(const hal::Graph* graph) override {
    if (graph == nullptr) throw invalid("null graph");
    std::vector<std::string> names;
    for (const auto& task : graph->state->tasks) names.emplace_back(task.name);
    return names;
  }

  void destroy_graph(hal::Graph* graph) override { delete graph; }

 private:
  static void raise_if_failed(const std::string& where, const std::string& failures) {
    if (failures.empty()) return;
    throw hal::Error(hal::ErrorKind::KernelFailure,
                     "MLU work on " + where + " failed asynchronously: " + failures);
  }

  void refuse_if_capturing(const DeviceState* device, const std::string& operation) {
    std::lock_guard lock(registry_mutex_);
    for (const auto& q : live_queues_) {
      if (&q->device() == device && q->capturing()) throw q->refuse_in_capture(operation);
    }
  }

  // Waits for every queue of `device` (all devices when null) to run dry and returns them.
  std::vector<std::shared_ptr<hal::Queue>> drained_queues(const DeviceState* device) {
    // Shared ownership: another thread may destroy one of these queues while we wait on it.
    std::vector<std::shared_ptr<hal::Queue>> queues;
    {
      std::lock_guard lock(registry_mutex_);
      for (const auto& q : live_queues_) {
        if (device == nullptr || &q->device() == device) queues.push_back(q);
      }
    }
    for (const auto& q : queues) q->wait_idle();
    return queues;
  }

  DeviceState& state(int device) const {
    if (device < 0 || device >= device_count()) {
      throw hal::Error(hal::ErrorKind::InvalidDevice,
                       "invalid device index " + std::to_string(device) + ": there are " +
                           std::to_string(device_count()) + " MLU devices");
    }
    return *devices_[device];
  }

  static SoftNotifier& checked(hal::Notifier* notifier) {
    if (notifier == nullptr) throw invalid("null notifier");
    return *notifier->state;
  }

  static hal::Queue* checked(const hal::Queue* queue) {
    if (queue == nullptr) throw invalid("null queue");
    return const_cast<hal::Queue*>(queue);
  }

  std::chrono::microseconds queue_spin_;
  std::unique_ptr<DoubleMapping> mapping_;  // strict device memory only
  std::vector<std::unique_ptr<DeviceState>> devices_;
  mutable std::mutex pinned_mutex_;
  std::map<char*, std::size_t> pinned_;
  std::mutex registry_mutex_;
  std::vector<std::shared_ptr<hal::Queue>> live_queues_;
  std::atomic<int> next_queue_ordinal_{0};
};

SoftDriver* g_instance = nullptr;

// Queued work must not run into the static destructors of the libraries its kernels use.
void drain_at_exit() {
  if (g_instance != nullptr && !g_forked.load()) g_instance->drain_all();
}

void mark_forked_child() {
  const bool memory_usable = g_instance == nullptr || g_instance->renew_memory_in_child();
  if (g_threads_started.load() || !memory_usable) g_forked.store(true);
}

}  // namespace
}  // namespace mlu::soft

namespace mlu::hal {

bool forked_after_init() { return soft::g_forked.load(); }

Driver& driver() {
  if (soft::g_forked.load()) {
    throw Error(ErrorKind::Unavailable,
                "cannot use MLU devices in a child process forked after the parent started using "
                "them; use the 'spawn' or 'forkserver' start method");
  }
  // Never destroyed: executor threads may still be running when static destructors run.
  static Driver* instance = [] {
    soft::g_instance = new soft::SoftDriver(soft::config_from_environment());
    pthread_atfork(nullptr, nullptr, soft::mark_forked_child);
    std::atexit(soft::drain_at_exit);
    return soft::g_instance;
  }();
  return *instance;
}

}  // namespace mlu::hal
