#include "graph.h"

#include <c10/core/DeviceGuard.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <fstream>
#include <mutex>

#include "profiler.h"
#include "stream.h"

#if TORCH_MLU_TORCH_VERSION >= 213
#include <ATen/core/GraphImplInterface.h>
#endif

namespace torch_mlu {
namespace {

std::atomic<std::uint64_t> g_next_pool{1};

}  // namespace

PoolId new_graph_pool() { return {0, g_next_pool++}; }

Graph::~Graph() {
  without_throwing("destroying an mlu graph", [&] { reset(); });
}

void Graph::capture_begin(PoolId pool) {
  TORCH_CHECK(!capturing_ && graph_ == nullptr,
              "this mlu graph already holds a capture; reset() it before capturing again");
  const c10::DeviceIndex device = current_device();
  const c10::Stream stream = current_stream(device);
  TORCH_CHECK(stream.id() != default_stream(device).id(),
              "mlu graphs are captured on a stream other than the default stream (as CUDA graphs "
              "are): use torch.mlu.graph(g), which switches to a side stream, or "
              "`with torch.mlu.stream(torch.mlu.Stream()):`");
  hal::Queue* queue = queue_of(stream);
  const PoolId own = pool == PoolId{0, 0} ? PoolId{g_next_pool++, 0} : pool;

  begin_allocating_to_pool(device, own, stream.id());
  at::Generator generator = default_generator(device);
  auto base = std::make_shared<ReplayRandomBase>();
  try {
    {
      std::lock_guard lock(generator.mutex());
      generator.get<MLUGeneratorImpl>()->begin_capture(queue, base);
    }
    try {
      hal_call([&] { driver().begin_capture(queue); });
    } catch (...) {
      std::lock_guard lock(generator.mutex());
      generator.get<MLUGeneratorImpl>()->end_capture(queue);
      throw;
    }
  } catch (...) {
    end_allocating_to_pool(device, stream.id());
    release_pool(device, own);
    throw;
  }
  device_ = device;
  stream_ = stream.id();
  queue_ = queue;
  pool_ = own;
  generator_ = std::move(generator);
  random_base_ = std::move(base);
  capturing_ = true;
}

void Graph::stop_capturing() {
  capturing_ = false;
  end_allocating_to_pool(device_, stream_);
  std::lock_guard lock(generator_.mutex());
  random_offsets_ = generator_.get<MLUGeneratorImpl>()->end_capture(queue_);
}

void Graph::capture_end() {
  TORCH_CHECK(capturing_, "capture_end() of an mlu graph that is not capturing");
  stop_capturing();
  try {
    graph_ = hal_call([&] { return driver().end_capture(queue_); });
  } catch (...) {
    release_pool(device_, pool_);
    pool_ = {0, 0};
    throw;
  }
}

void Graph::capture_abort() {
  if (!capturing_) return;
  stop_capturing();
  hal_call([&] { driver().abort_capture(queue_); });
  release_pool(device_, pool_);
  pool_ = {0, 0};
}

void Graph::replay() {
  TORCH_CHECK(graph_ != nullptr,
              "replay() of an mlu graph that holds no capture: capture it first (capture_begin "
              "and capture_end, or `with torch.mlu.graph(g):`)");
  c10::DeviceGuard guard(c10::Device(kMLU, device_));
  const c10::Stream stream = current_stream(device_);
  hal::Queue* queue = queue_of(stream);
  hal::Work before;
  if (random_offsets_ > 0) {
    std::lock_guard lock(generator_.mutex());
    auto* generator = generator_.get<MLUGeneratorImpl>();
    before = [base = random_base_, seed = generator->current_seed(),
              offset = generator->take(random_offsets_)] {
      base->seed = seed;
      base->offset = offset;
    };
  }
  auto enqueue = [&] { driver().launch_graph(graph_, queue, std::move(before)); };
  hal_call([&] {
    if (profiler::recording() && !driver().capturing(queue)) {
      profiler::traced_span(profiler::Span::GraphReplay, "graph replay", device_, stream.id(),
                            queue, enqueue);
    } else {
      enqueue();
    }
  });
}

void Graph::reset() {
  capture_abort();
  if (graph_ == nullptr) return;
  hal_call([&] { driver().destroy_graph(graph_); });
  graph_ = nullptr;
  release_pool(device_, pool_);
  pool_ = {0, 0};
}

std::vector<std::string> Graph::work_names() const {
  if (graph_ == nullptr) return {};
  return hal_call([&] { return driver().graph_work_names(graph_); });
}

#if TORCH_MLU_TORCH_VERSION >= 213
namespace {

// torch.accelerator.Graph's backend: core PyTorch creates it through the registry.
class AcceleratorGraph final : public at::GraphImplInterface {
 public:
  explicit AcceleratorGraph(const at::GraphImplArgs&) {}
  void capture_begin(c10::MempoolId_t pool, at::GraphCaptureMode) override {
    graph_.capture_begin({pool.first, pool.second});
  }
  void capture_end() override { graph_.capture_end(); }
  void instantiate() override {}  // capture_end makes a launchable graph
  void replay() override { graph_.replay(); }
  void reset() override { graph_.reset(); }
  c10::MempoolId_t pool() const override {
    const PoolId pool = graph_.pool();
    return {pool.first, pool.second};
  }
  void enable_debug_mode() override { debug_ = true; }
  // One line per recorded piece of work, in launch order.
  void debug_dump(const std::string& path) override {
    TORCH_CHECK(debug_, "debug_dump() needs enable_debug_mode() before the capture");
    std::ofstream out(path);
    TORCH_CHECK(out, "cannot write the graph dump to ", path);
    for (const std::string& name : graph_.work_names()) out << name << '\n';
  }

 private:
  Graph graph_;
  bool debug_ = false;
};

}  // namespace
#endif

}  // namespace torch_mlu

#if TORCH_MLU_TORCH_VERSION >= 213
namespace at {
// Keyed by the device type's upper-case name, which is "MLU" once torch_mlu renames PrivateUse1.
C10_REGISTER_CLASS(GraphImplRegistry, MLU, torch_mlu::AcceleratorGraph)
}  // namespace at
#endif
