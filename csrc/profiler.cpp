#include "profiler.h"

#include <kineto/libkineto.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "device.h"

namespace torch_mlu::profiler {
namespace detail {
std::atomic<bool> recording{false};
}  // namespace detail

namespace {

using libkineto::ActivityType;

struct Record {
  ActivityType type;
  const char* name;
  int device;
  std::int64_t stream;
  std::uint64_t correlation;
  std::int64_t start_ns;
  std::int64_t end_ns;
};

std::mutex g_mutex;
std::vector<Record> g_records;
// The operator being recorded on this thread (Kineto pushes its id around each operator).
thread_local std::vector<std::uint64_t> t_correlation;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Session final : public libkineto::IActivityProfilerSession {
 public:
  void start() override {
    {
      std::lock_guard lock(g_mutex);
      g_records.clear();
    }
    detail::recording.store(true);
    status_ = libkineto::TraceStatus::RECORDING;
  }

  void stop() override {
    detail::recording.store(false);
    std::lock_guard lock(g_mutex);
    records_.swap(g_records);
    status_ = libkineto::TraceStatus::PROCESSING;
  }

  std::vector<std::string> errors() override { return {}; }

  void processTrace(libkineto::ActivityLogger& logger) override {
    processTrace(logger, nullptr, 0, 0);
  }

  // Each kernel on its stream's lane, linked to the operator that launched it.
  void processTrace(libkineto::ActivityLogger& logger, libkineto::getLinkedActivityCallback linked,
                    std::int64_t, std::int64_t) override {
    for (const Record& r : records_) {
      auto& a = activities_.emplace_back(span_, r.type, r.name);
      a.startTime = r.start_ns;
      a.endTime = r.end_ns;
      a.id = static_cast<std::int32_t>(r.correlation);
      a.device = r.device;
      a.resource = static_cast<std::int32_t>(r.stream);
      if (r.correlation != 0) {
        a.flow.id = static_cast<std::uint32_t>(r.correlation);
        a.flow.type = libkineto::kLinkAsyncCpuGpu;
        a.flow.start = false;
        if (linked) a.linked = linked(static_cast<std::int32_t>(r.correlation));
      }
      a.log(logger);
    }
  }

  std::unique_ptr<libkineto::DeviceInfo> getDeviceInfo() override { return nullptr; }
  std::vector<libkineto::ResourceInfo> getResourceInfos() override { return {}; }
  std::unique_ptr<libkineto::CpuTraceBuffer> getTraceBuffer() override {
    return std::make_unique<libkineto::CpuTraceBuffer>();
  }

  void pushCorrelationId(std::uint64_t id) override { t_correlation.push_back(id); }
  void popCorrelationId() override {
    if (!t_correlation.empty()) t_correlation.pop_back();
  }

 private:
  libkineto::TraceSpan span_{0, 0, "mlu"};
  std::vector<Record> records_;
  std::deque<libkineto::GenericTraceActivity> activities_;  // the logger keeps pointers
};

class ChildProfiler final : public libkineto::IActivityProfiler {
 public:
  const std::string& name() const override { return name_; }
  const std::set<ActivityType>& availableActivities() const override { return types_; }

  std::unique_ptr<libkineto::IActivityProfilerSession> configure(
      const std::set<ActivityType>& requested, const libkineto::Config&) override {
    // Device kernels are what torch.profiler asks for with ProfilerActivity.PrivateUse1 (or
    // .MLU); a CPU-only trace asks for PRIVATEUSE1_RUNTIME too, but for no kernels.
    if (!requested.contains(ActivityType::CONCURRENT_KERNEL)) return nullptr;
    return std::make_unique<Session>();
  }

  std::unique_ptr<libkineto::IActivityProfilerSession> configure(
      std::int64_t, std::int64_t, const std::set<ActivityType>& requested,
      const libkineto::Config& config) override {
    return configure(requested, config);
  }

 private:
  std::string name_ = "__mlu_profiler__";
  std::set<ActivityType> types_ = {ActivityType::CONCURRENT_KERNEL, ActivityType::GPU_MEMCPY};
};

// Work that finishes after the trace stopped (or replays work captured while it recorded) is not
// part of it.
void report(Record record) {
  if (!detail::recording.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(g_mutex);
  g_records.push_back(record);
}

std::uint64_t current_correlation() { return t_correlation.empty() ? 0 : t_correlation.back(); }

}  // namespace

hal::Work traced(const char* name, c10::DeviceIndex device, c10::StreamId stream, hal::Work work) {
  const std::uint64_t correlation = current_correlation();
  return [name, device, stream, correlation, work = std::move(work)] {
    const std::int64_t start = now_ns();
    auto done = [&] {
      report({ActivityType::CONCURRENT_KERNEL, name, device, stream, correlation, start, now_ns()});
    };
    try {
      work();
    } catch (...) {
      done();
      throw;
    }
    done();
  };
}

void traced_span(Span kind, const char* name, c10::DeviceIndex device, c10::StreamId stream,
                 hal::Queue* queue, const std::function<void()>& enqueue) {
  // A graph replay is device work like a kernel; Kineto has a type of its own for copies.
  const ActivityType type =
      kind == Span::Copy ? ActivityType::GPU_MEMCPY : ActivityType::CONCURRENT_KERNEL;
  const std::uint64_t correlation = current_correlation();
  auto start = std::make_shared<std::int64_t>(0);
  driver().launch(queue, "profiler mark", [start] { *start = now_ns(); });
  enqueue();
  driver().launch(queue, "profiler mark",
                  [=] { report({type, name, device, stream, correlation, *start, now_ns()}); });
}

void register_with_kineto() {
  libkineto::api().registerProfilerFactory([] { return std::make_unique<ChildProfiler>(); });
}

}  // namespace torch_mlu::profiler
