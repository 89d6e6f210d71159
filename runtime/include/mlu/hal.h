// The device contract: everything torch_mlu needs from an MLU driver, in one header.
//
// The embedded implementation is the software MLU (runtime/src), a device model executed by host
// cores. A hardware driver implements the same interface on CNRT/CNNL. Nothing here depends on
// PyTorch. All calls are thread-safe. Failures are reported as mlu::hal::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlu::hal {

// At most this many devices (PyTorch's device indices are 8-bit).
constexpr int kMaxDevices = 64;

enum class ErrorKind {
  InvalidDevice,  // device index out of range
  InvalidValue,   // bad argument (null handle, unknown pointer, mismatched devices)
  OutOfMemory,    // device capacity exhausted
  KernelFailure,  // work enqueued on a queue failed; raised at a synchronizing call (below)
  Unavailable,    // no device, or used in a forked child after initialisation
  NotCapturable,  // an operation a capturing queue cannot record (below)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

struct DeviceProperties {
  std::string name;
  std::size_t total_memory = 0;  // bytes of device memory (the capacity)
  int compute_units = 0;         // cores a kernel may use
  int major = 0, minor = 0;      // architecture version
  bool host_accessible = false;  // device memory can be read and written by the host directly
};

struct MemoryInfo {
  std::size_t free = 0;
  std::size_t total = 0;
};

// Opaque handles owned by the driver.
struct Queue;     // an in-order stream of device work
struct Notifier;  // a marker recorded on a queue (CUDA: event)
struct Graph;     // work recorded from a queue, launched again as one unit (CUDA: graph)

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice, HostToHost };

// Device work: a named callable. On the software MLU it runs on the queue's executor; a hardware
// driver would launch the named kernel instead.
using Work = std::function<void()>;

// Work that can take in the fusible work launched right after it on the same queue, as long as it
// has not started: the software MLU's multi-tensor kernels (an optimizer step's _foreach_*
// operators) join the next one over the same tensors, so that each tensor is read once for the
// whole chain instead of once per kernel. A driver may as well launch it as plain work.
class FusibleWork {
 public:
  virtual ~FusibleWork() = default;
  // Takes `next` in, to run as if right after everything this work already holds; false when
  // that could change a result (then `next` is launched on its own). Called under the queue's
  // lock: must not block.
  virtual bool absorb(FusibleWork& next) noexcept = 0;
  virtual void run() = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // Devices.
  virtual int device_count() const = 0;
  virtual DeviceProperties properties(int device) const = 0;

  // Device memory. allocate() throws ErrorKind::OutOfMemory at capacity; free(nullptr) is a no-op.
  virtual void* allocate(int device, std::size_t bytes) = 0;
  virtual void free(int device, void* ptr) = 0;
  virtual MemoryInfo memory_info(int device) const = 0;

  // Page-locked host memory: copies from and to it are truly asynchronous.
  virtual void* allocate_host(std::size_t bytes) = 0;
  virtual void free_host(void* ptr) = 0;
  virtual bool is_pinned(const void* ptr) const = 0;

  // Queues. Work runs in FIFO order, asynchronously to the caller.
  virtual Queue* create_queue(int device, int priority) = 0;
  virtual void destroy_queue(Queue* queue) = 0;  // waits for the queue's work first
  virtual int queue_device(const Queue* queue) const = 0;
  virtual void launch(Queue* queue, const char* name, Work work) = 0;
  // Like launch; the work may absorb the fusible work launched next (above).
  virtual void launch_fusible(Queue* queue, const char* name,
                              std::shared_ptr<FusibleWork> work) = 0;
  // Asynchronous copy. With pageable host memory on either side it returns only once the copy is
  // done, as a real driver's staged copy does.
  virtual void copy_async(Queue* queue, void* dst, const void* src, std::size_t bytes,
                          CopyKind kind) = 0;
  // Failures of queued work belong to the queue that ran it and stay pending until raised, once,
  // by synchronize(queue) or synchronize_device; a queue that waits on a notifier covering failed
  // work fails too, and synchronize(notifier) raises (without clearing) what the notifier covers.
  virtual bool query(Queue* queue) = 0;             // true when all enqueued work has finished
  virtual void synchronize(Queue* queue) = 0;       // waits, then raises the queue's failures
  virtual void synchronize_device(int device) = 0;  // every queue of the device
  virtual void drain(int device) = 0;               // waits like synchronize_device; raises nothing

  // Notifiers.
  virtual Notifier* create_notifier(int device, bool timing) = 0;
  virtual void destroy_notifier(Notifier* notifier) = 0;
  virtual void record(Notifier* notifier, Queue* queue) = 0;
  virtual void wait(Queue* queue, Notifier* notifier) = 0;  // queue waits for the notifier
  virtual bool query(Notifier* notifier) = 0;
  virtual void synchronize(Notifier* notifier) = 0;  // waits for the newest record
  virtual float elapsed_ms(Notifier* start, Notifier* end) = 0;

  // Capture (CUDA: stream capture). While a queue captures, the work launched on it (kernels,
  // copies between device and pinned memory) is recorded into a graph instead of run. A queue
  // that waits on a notifier recorded during the capture joins it (CUDA's cross-stream capture):
  // its launches are recorded too, until the capture ends. What a graph cannot hold --
  // synchronizing or querying the queue or its device, a copy with pageable memory, waiting on a
  // notifier not yet reached -- raises NotCapturable and invalidates the capture: later launches
  // raise too, and end_capture raises the reason. end_capture and abort_capture (which discards the
  // work) both end the capture.
  virtual void begin_capture(Queue* queue) = 0;
  virtual Graph* end_capture(Queue* queue) = 0;
  virtual void abort_capture(Queue* queue) = 0;  // no-op when the queue is not capturing
  virtual bool capturing(const Queue* queue) = 0;
  // Enqueues the graph's work on queue as one unit of work; `before` runs first inside it (what
  // changes between launches, such as random offsets). Launches of one graph never overlap.
  virtual void launch_graph(Graph* graph, Queue* queue, Work before) = 0;
  virtual std::vector<std::string> graph_work_names(const Graph* graph) = 0;
  virtual void destroy_graph(Graph* graph) = 0;  // launches already enqueued still run
};

// The address through which the embedded kernel library (and the software MLU's copies) reach
// device memory. A hardware driver's kernels take device addresses as they are. The software MLU
// in strict device-memory mode (MLU_STRICT_DEVICE_MEMORY=1, host_accessible false) hands out
// addresses of a mapping the host cannot touch, and its kernels reach the same pages through a
// second mapping. Every other address is returned unchanged.
struct KernelAddressMap {
  std::uintptr_t begin = 0;  // the protected device addresses: [begin, begin + size)
  std::uintptr_t size = 0;
  std::ptrdiff_t offset = 0;  // from a protected address to its accessible twin
};
namespace detail {
extern KernelAddressMap kernel_addresses;  // written once, by the driver's construction
}  // namespace detail

inline bool is_protected_device_address(const void* address) {
  return reinterpret_cast<std::uintptr_t>(address) - detail::kernel_addresses.begin <
         detail::kernel_addresses.size;
}
template <typename T>
T* kernel_address(T* device_address) {
  if (!is_protected_device_address(device_address)) return device_address;
  return reinterpret_cast<T*>(reinterpret_cast<std::uintptr_t>(device_address) +
                              detail::kernel_addresses.offset);
}

// The process-wide driver, created on first use.
Driver& driver();

// True in a child process forked after the parent started running device work (its queues'
// threads do not survive a fork): devices are unusable there.
bool forked_after_init();

}  // namespace mlu::hal
