// Graph capture and replay on mlu streams (torch.mlu.MLUGraph; torch.accelerator.Graph on
// PyTorch >= 2.13). While a graph captures, the driver records the work launched on the capturing
// stream, that stream's allocations come from a private pool, and the default generator's random
// operations take offsets from a base each replay sets, so every replay draws fresh numbers.
#pragma once

#include <ATen/core/Generator.h>
#include <c10/core/Stream.h>

#include <memory>
#include <string>
#include <vector>

#include "allocator.h"
#include "generator.h"

namespace torch_mlu {

class Graph {
 public:
  Graph() = default;
  ~Graph();  // reset(), reporting rather than raising a failure
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Captures the current stream of the current device; pool {0, 0} is a new private pool.
  void capture_begin(PoolId pool = {0, 0});
  void capture_end();    // raises what invalidated the capture, if anything did
  void capture_abort();  // discards the capture (an error inside `with torch.mlu.graph(...)`)
  void replay();         // enqueues the captured work on the device's current stream
  void reset();          // releases the captured work and the graph's use of its pool
  PoolId pool() const { return pool_; }
  bool captured() const { return graph_ != nullptr; }
  std::vector<std::string> work_names() const;

 private:
  void stop_capturing();  // the allocator and generator return to normal

  c10::DeviceIndex device_ = -1;
  c10::StreamId stream_ = 0;
  hal::Queue* queue_ = nullptr;
  bool capturing_ = false;
  hal::Graph* graph_ = nullptr;
  PoolId pool_{0, 0};
  at::Generator generator_;
  std::shared_ptr<ReplayRandomBase> random_base_;
  std::uint64_t random_offsets_ = 0;  // counter values one replay takes
};

// A new private pool id, for graphs that share memory (torch.mlu.graph_pool_handle()).
PoolId new_graph_pool();

}  // namespace torch_mlu
