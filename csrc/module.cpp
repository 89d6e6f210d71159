// torch_mlu._C: thin Python bindings over the C++ integration. Policy lives in torch_mlu/.
#include <torch/csrc/Event.h>
#include <torch/csrc/Exceptions.h>
#include <torch/csrc/Generator.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/profiler/combined_traceback.h>
#include <torch/csrc/utils/pybind.h>

#include <cstring>
#include <optional>
#include <thread>

#include "allocator.h"
#include "cncl.h"
#include "fallback.h"
#include "generated_kernel.h"
#include "generator.h"
#include "graph.h"
#include "ops/fused.h"
#include "profiler.h"
#include "stream.h"
#include "tensor_desc.h"

// From torch/csrc/profiler/python/combined_traceback.h, which PyTorch 2.14 makes include
// nlohmann/json (not a dependency of this project); libtorch_python exports both on every lane.
namespace torch {
std::vector<pybind11::object> py_symbolize(std::vector<CapturedTraceback*>& to_symbolize);
void installCapturedTracebackPython();
}  // namespace torch

namespace torch_mlu {
namespace {

namespace py = pybind11;
using torch::wrap_pybind_function;

// The autograd engine runs mlu backward passes on a thread per device, which frees a pass's
// tensors after the caller's backward() has returned. Freeing a tensor Python knows takes the
// GIL, and taking it while the interpreter finalizes ends the thread (pthread_exit) through a
// noexcept frame: std::terminate, an abort at exit (seen with PyTorch 2.15 on Python 3.13). A
// backward pass of tensors Python never saw, on each device, returns only after that thread has
// finished with every earlier pass; its own tensors free without the GIL.
void settle_autograd_threads(c10::DeviceIndex device) {
  py::gil_scoped_release released;
  const at::AutoGradMode grad(true);
  const at::Tensor x = at::ones({1}, at::TensorOptions().device(kMLU, device)).requires_grad_();
  (x * 2).sum().backward();
}

py::dict stats_dict(const DeviceStats& stats) {
  py::dict out;
  const char* pools[] = {"all", "small_pool", "large_pool"};
  auto add = [&](const char* name, const c10::CachingDeviceAllocator::StatArray& array) {
    for (std::size_t p = 0; p < array.size(); ++p) {
      const std::string prefix = std::string(name) + "." + pools[p] + ".";
      out[py::str(prefix + "current")] = array[p].current;
      out[py::str(prefix + "peak")] = array[p].peak;
      out[py::str(prefix + "allocated")] = array[p].allocated;
      out[py::str(prefix + "freed")] = array[p].freed;
    }
  };
  add("allocation", stats.allocation);
  add("segment", stats.segment);
  add("active", stats.active);
  add("allocated_bytes", stats.allocated_bytes);
  add("reserved_bytes", stats.reserved_bytes);
  add("active_bytes", stats.active_bytes);
  add("requested_bytes", stats.requested_bytes);
  out["num_alloc_retries"] = stats.num_alloc_retries;
  out["num_ooms"] = stats.num_ooms;
  out["num_sync_all_streams"] = stats.num_sync_all_streams;
  out["num_device_alloc"] = stats.num_device_alloc;
  out["num_device_free"] = stats.num_device_free;
  return out;
}

// Memory history: allocation contexts are tracebacks gathered by PyTorch's profiler support.
std::shared_ptr<c10::GatheredContext> python_frames() {
  return torch::CapturedTraceback::gather(/*python=*/true, /*script=*/false, /*cpp=*/false);
}
std::shared_ptr<c10::GatheredContext> all_frames() {
  return torch::CapturedTraceback::gather(/*python=*/true, /*script=*/true, /*cpp=*/true);
}

// The symbolized frames of each context (None where there is none).
std::vector<py::object> symbolized(const std::vector<std::shared_ptr<c10::GatheredContext>>& all) {
  std::vector<torch::CapturedTraceback*> tracebacks;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (auto* t = dynamic_cast<torch::CapturedTraceback*>(all[i].get())) {
      tracebacks.push_back(t);
      at.push_back(i);
    }
  }
  std::vector<py::object> out(all.size(), py::none());
  const std::vector<py::object> frames = torch::py_symbolize(tracebacks);
  for (std::size_t k = 0; k < at.size(); ++k) out[at[k]] = frames[k];
  return out;
}

// For out-of-memory messages: the innermost frame outside torch itself, "file:line in name".
std::vector<std::string> describe_contexts(
    const std::vector<std::shared_ptr<c10::GatheredContext>>& contexts) {
  std::vector<std::string> lines(contexts.size());
  try {
    py::gil_scoped_acquire gil;
    const std::vector<py::object> frames = symbolized(contexts);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].is_none()) continue;
      for (const py::handle frame : frames[i]) {
        const std::string file = py::str(frame["filename"]);
        if (file.find("/torch/") != std::string::npos &&
            file.find("/torch_mlu/") == std::string::npos)
          continue;
        lines[i] = file + ":" + std::string(py::str(frame["line"])) + " in " +
                   std::string(py::str(frame["name"]));
        break;
      }
    }
  } catch (const std::exception&) {
    // The message goes out without locations rather than failing differently.
  }
  return lines;
}

const char* trace_action(TraceEntry::Action action) {
  switch (action) {
    case TraceEntry::Action::Alloc: return "alloc";
    case TraceEntry::Action::FreeRequested: return "free_requested";
    case TraceEntry::Action::FreeCompleted: return "free_completed";
    case TraceEntry::Action::SegmentAlloc: return "segment_alloc";
    case TraceEntry::Action::SegmentFree: return "segment_free";
    case TraceEntry::Action::Oom: return "oom";
  }
  return "unknown";
}

// One device's snapshot in the layout of torch.cuda.memory._snapshot(): each block is its own
// segment (the allocator never splits blocks).
py::tuple snapshot_of(c10::DeviceIndex device) {
  const MemorySnapshot snap = memory_snapshot(device);
  std::vector<std::shared_ptr<c10::GatheredContext>> contexts;
  for (const auto& b : snap.blocks) contexts.push_back(b.context);
  for (const auto& e : snap.trace) contexts.push_back(e.context);
  const std::vector<py::object> frames = symbolized(contexts);
  auto frames_of = [&](std::size_t i) {
    return frames[i].is_none() ? py::object(py::list()) : frames[i];
  };
  py::list segments;
  for (std::size_t i = 0; i < snap.blocks.size(); ++i) {
    const BlockSnapshot& b = snap.blocks[i];
    const bool active = b.state == BlockSnapshot::State::Active;
    py::dict block;
    block["address"] = b.addr;
    block["size"] = b.size;
    block["requested_size"] = active ? b.requested : 0;
    block["state"] = active                                         ? "active_allocated"
                     : b.state == BlockSnapshot::State::PendingFree ? "active_pending_free"
                                                                    : "inactive";
    block["frames"] = frames_of(i);
    py::dict segment;
    segment["device"] = static_cast<int>(device);
    segment["address"] = b.addr;
    segment["total_size"] = b.size;
    segment["allocated_size"] = active ? b.size : 0;
    segment["active_size"] = b.state == BlockSnapshot::State::Inactive ? 0 : b.size;
    segment["requested_size"] = active ? b.requested : 0;
    segment["stream"] = b.stream;
    segment["segment_type"] = b.size <= (std::size_t{1} << 20) ? "small" : "large";
    segment["segment_pool_id"] = py::make_tuple(b.pool.first, b.pool.second);
    segment["is_expandable"] = false;
    segment["frames"] = frames_of(i);
    segment["blocks"] = py::make_tuple(block);
    segments.append(segment);
  }
  py::list trace;
  for (std::size_t i = 0; i < snap.trace.size(); ++i) {
    const TraceEntry& e = snap.trace[i];
    py::dict entry;
    entry["action"] = trace_action(e.action);
    entry["addr"] = e.addr;
    entry["size"] = e.size;
    entry["stream"] = e.stream;
    entry["time_us"] = e.time_us;
    entry["frames"] = frames_of(snap.blocks.size() + i);
    if (e.action == TraceEntry::Action::Oom) entry["device_free"] = e.addr;
    trace.append(entry);
  }
  return py::make_tuple(segments, trace);
}

py::tuple pack(const c10::Stream& s) {
  return py::make_tuple(s.id(), static_cast<int>(s.device_index()),
                        static_cast<int>(s.device_type()));
}

c10::Stream unpack(int64_t id, int64_t device_index, int64_t device_type) {
  TORCH_CHECK_VALUE(device_type == static_cast<int64_t>(kMLU),
                    "expected an mlu stream, got device type ", device_type);
  return c10::Stream::unpack3(id, checked_device_index(device_index), kMLU);
}

// A generated kernel and the kinds of its arguments, one letter each: 'p' (a tensor it writes),
// 'c' (a tensor it only reads), 'i' (an integer) or 'f' (a float, passed as a double).
struct KernelCall {
  GeneratedKernel kernel;
  std::string kinds;
};

// The bytes from a tensor's first to its last element (strides are not negative in PyTorch).
std::size_t span_bytes(const at::Tensor& t) {
  if (t.numel() == 0) return 0;
  std::int64_t last = 0;
  for (std::int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return static_cast<std::size_t>(last + 1) * t.element_size();
}

// The Python arguments as the kernel's entry point reads them. Returns the device of the mlu
// tensors, which must all be on one device; tensors the kernel only reads may also be CPU
// tensors (Inductor leaves an optimizer's step count there), which are copied now.
c10::DeviceIndex pack_arguments(const KernelCall& call, const py::args& args,
                                KernelArguments& out) {
  const char* name = call.kernel.name;
  const std::string& kinds = call.kinds;
  TORCH_CHECK_VALUE(args.size() == kinds.size(), "generated kernel ", name, " takes ", kinds.size(),
                    " arguments, got ", args.size());
  std::optional<c10::DeviceIndex> device;
  out.words.reserve(kinds.size());
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    PyObject* arg = args[i].ptr();
    const char kind = kinds[i];
    if (kind == 'i' || kind == 'f') {
      TORCH_CHECK_TYPE(PyLong_Check(arg) || (kind == 'f' && PyFloat_Check(arg)),
                       "generated kernel ", name, ": argument ", i, " must be ",
                       kind == 'i' ? "an int" : "a float", ", got ", Py_TYPE(arg)->tp_name);
    }
    if (kind == 'i') {
      out.words.push_back(static_cast<std::uint64_t>(py::cast<std::int64_t>(args[i])));
      continue;
    }
    if (kind == 'f') {
      const double value = py::cast<double>(args[i]);
      std::uint64_t bits;
      std::memcpy(&bits, &value, sizeof bits);
      out.words.push_back(bits);
      continue;
    }
    TORCH_CHECK_TYPE(THPVariable_Check(arg), "generated kernel ", name, ": argument ", i,
                     " must be a tensor");
    const at::Tensor& t = THPVariable_Unpack(arg);
    if (t.device().type() == kMLU) {
      TORCH_CHECK_VALUE(!device || *device == t.device().index(), "generated kernel ", name,
                        ": tensors on mlu:", static_cast<int>(*device), " and ", t.device());
      device = t.device().index();
      out.words.push_back(reinterpret_cast<std::uintptr_t>(hal::kernel_address(t.data_ptr())));
    } else {
      TORCH_CHECK_TYPE(kind == 'c' && t.is_cpu(), "generated kernel ", name, ": argument ", i,
                       " must be an mlu tensor", kind == 'c' ? "" : " (the kernel writes it)",
                       ", got a ", t.device().str(), " tensor");
      out.add_host_copy(t.const_data_ptr(), span_bytes(t));
    }
  }
  return device ? *device : current_device();
}

}  // namespace
}  // namespace torch_mlu

PYBIND11_MODULE(_C, m) {
  using namespace torch_mlu;
  m.def("_init", wrap_pybind_function([] { driver(); }));
  profiler::register_with_kineto();
  register_autograd_fallback();
  m.def("_is_initialized", &is_initialized);
  m.def("_in_bad_fork", &hal::forked_after_init);
  m.def("_device_count", [] { return static_cast<int>(device_count()); });
  m.def("_current_device", wrap_pybind_function([] { return static_cast<int>(current_device()); }));
  m.def("_settle_autograd_threads",
        wrap_pybind_function([](int64_t d) { settle_autograd_threads(checked_device_index(d)); }));
  m.def("_set_device",
        wrap_pybind_function([](int64_t d) { set_device(checked_device_index(d)); }));
  // Blocking calls release the GIL: work finishing on a queue may need it (a tensor's last
  // reference can drop there), and other Python threads should run meanwhile.
  m.def("_synchronize", wrap_pybind_function([](int64_t d) {
          check_device(checked_device_index(d));
          py::gil_scoped_release no_gil;
          hal_call([&] { driver().synchronize_device(d); });
        }));
  m.def("_fused_activations", [] {
    std::vector<std::string> names;
    for (const auto& a : ops::kActivations) names.emplace_back(a.name);
    return names;
  });
  m.def("_device_properties", wrap_pybind_function([](int64_t d) {
          check_device(checked_device_index(d));
          const hal::DeviceProperties p = driver().properties(d);
          return py::make_tuple(p.name, p.total_memory, p.compute_units, p.major, p.minor,
                                p.host_accessible);
        }));

  m.def("_current_stream", wrap_pybind_function([](int64_t d) {
          return pack(current_stream(checked_device_index(d)));
        }));
  m.def("_default_stream", wrap_pybind_function([](int64_t d) {
          return pack(default_stream(checked_device_index(d)));
        }));
  m.def("_set_stream", wrap_pybind_function([](int64_t id, int64_t index, int64_t type) {
          set_current_stream(unpack(id, index, type));
        }));
  m.def("_stream_priority", wrap_pybind_function([](int64_t id, int64_t index, int64_t type) {
          return stream_priority(unpack(id, index, type));
        }));

  m.def("_memory_stats", wrap_pybind_function([](int64_t d) {
          return stats_dict(device_stats(checked_device_index(d)));
        }));
  m.def("_reset_peak_memory_stats",
        wrap_pybind_function([](int64_t d) { reset_peak_stats(checked_device_index(d)); }));
  m.def("_reset_accumulated_memory_stats",
        wrap_pybind_function([](int64_t d) { reset_accumulated_stats(checked_device_index(d)); }));
  m.def("_empty_cache", wrap_pybind_function([] {
          py::gil_scoped_release no_gil;
          empty_cache();
        }));
  m.def("_mem_get_info",
        wrap_pybind_function([](int64_t d) { return memory_info(checked_device_index(d)); }));
  m.def("_set_memory_fraction", wrap_pybind_function([](double f, int64_t d) {
          set_memory_fraction(f, checked_device_index(d));
        }));
  m.def("_record_stream",
        wrap_pybind_function([](const at::Tensor& t, int64_t id, int index, int type) {
          record_stream(t.storage().data_ptr(), unpack(id, index, type));
        }));

  // Later PyTorch's torch.Event.elapsed_time takes only exact torch.Event objects as the end
  // event, which torch.mlu.Event (a subclass) is not.
  m.def("_event_elapsed_time", wrap_pybind_function([](py::handle start, py::handle end) {
          TORCH_CHECK_TYPE(THPEvent_Check(start.ptr()) && THPEvent_Check(end.ptr()),
                           "elapsed_time expects two torch.Event objects");
          return reinterpret_cast<THPEvent*>(start.ptr())
              ->event.elapsedTime(reinterpret_cast<THPEvent*>(end.ptr())->event);
        }));

  m.def("_default_generator", wrap_pybind_function([](int64_t d) {
          return py::reinterpret_steal<py::object>(
              THPGenerator_initDefaultGenerator(default_generator(checked_device_index(d))));
        }));

  py::class_<KernelCall>(m, "_GeneratedKernel")
      .def(py::init([](std::uintptr_t entry, const std::string& name, const std::string& kinds) {
        TORCH_CHECK_VALUE(kinds.find_first_not_of("pcif") == std::string::npos,
                          "argument kinds are letters p, c, i and f, got '", kinds, "'");
        return KernelCall{GeneratedKernel(entry, name), kinds};
      }))
      .def("__call__", wrap_pybind_function([](const KernelCall& call, const py::args& args) {
             KernelArguments arguments;
             const c10::DeviceIndex device = pack_arguments(call, args, arguments);
             call.kernel.launch(device, std::move(arguments));
           }));

  // The calls a generated kernel's parallel regions bind to: (address, size) of the table.
  m.def("_generated_code_team", [] {
    const hal::GeneratedCodeTeam& team = hal::generated_code_team();
    return py::make_tuple(reinterpret_cast<std::uintptr_t>(&team), sizeof team);
  });

  // Replays and resets wait on nothing Python holds, but reset drains the device.
  py::class_<Graph>(m, "_Graph")
      .def(py::init<>())
      .def("capture_begin", wrap_pybind_function([](Graph& g, std::optional<PoolId> pool) {
             g.capture_begin(pool.value_or(PoolId{0, 0}));
           }),
           py::arg("pool") = py::none())
      .def("capture_end", wrap_pybind_function([](Graph& g) { g.capture_end(); }))
      .def("capture_abort", wrap_pybind_function([](Graph& g) { g.capture_abort(); }))
      .def("replay", wrap_pybind_function([](Graph& g) {
             py::gil_scoped_release no_gil;
             g.replay();
           }))
      .def("reset", wrap_pybind_function([](Graph& g) {
             py::gil_scoped_release no_gil;
             g.reset();
           }))
      .def("pool", [](const Graph& g) { return g.pool(); })
      .def("captured", &Graph::captured)
      .def("work_names", wrap_pybind_function([](const Graph& g) { return g.work_names(); }));
  m.def("_record_memory_history",
        wrap_pybind_function([](bool enabled, bool trace, bool cpp, std::size_t max_entries) {
          if (enabled) torch::installCapturedTracebackPython();
          record_memory_history(enabled ? (cpp ? &all_frames : &python_frames) : nullptr, trace,
                                max_entries);
          set_context_describer(&describe_contexts);
        }));
  m.def("_memory_snapshot",
        wrap_pybind_function([](int64_t d) { return snapshot_of(checked_device_index(d)); }));
  m.def("_graph_pool_handle", &new_graph_pool);
  // References to a storage (what StorageWeakRef.cdata points at): Debian's CPU-only torch lacks
  // torch._C._storage_Use_Count, which CUDA graph trees use for the same question.
  m.def("_storage_use_count", [](std::uintptr_t storage) {
    return c10::raw::intrusive_ptr::use_count(reinterpret_cast<c10::StorageImpl*>(storage));
  });
  m.def("_is_current_stream_capturing", wrap_pybind_function([](int64_t d) {
          const c10::DeviceIndex device = checked_device_index(d);
          return hal_call([&] { return driver().capturing(current_queue(device)); });
        }));

  m.def("_kernel_launches", &kernel_launches);
  // Device work that takes `microseconds` on the current stream (torch.cuda._sleep's role): lets
  // tests hold a stream busy to observe what does and does not wait for it.
  m.def("_sleep", wrap_pybind_function([](int64_t microseconds) {
          TORCH_CHECK(microseconds >= 0 && microseconds <= 60'000'000,
                      "_sleep: microseconds must be in [0, 60000000], got ", microseconds);
          launch(current_device(), "sleep", [microseconds] {
            std::this_thread::sleep_for(std::chrono::microseconds(microseconds));
          });
        }));
  // What the device's operations report of themselves (hal::operations_info), as a dict.
  m.def("_operations_info", [] {
    const hal::OperationsInfo info = hal::operations_info();
    py::dict out;
    out["implementation"] = info.implementation;
    out["instruction_sets"] = info.instruction_sets;
    out["threads"] = info.threads;
    out["matmul_bfloat16"] = info.matmul_bfloat16;
    out["matmul_float16"] = info.matmul_float16;
    out["matmul_float32"] = info.matmul_float32;
    out["lstm_bfloat16"] = info.lstm_bfloat16;
    out["lstm_float16"] = info.lstm_float16;
    out["attention_bfloat16"] = info.attention_bfloat16;
    out["attention_float16"] = info.attention_float16;
    out["conv16_policy"] = info.conv16_policy;
    out["conv_bfloat16_plans"] =
        py::make_tuple(info.conv_bfloat16_in_16_bits, info.conv_bfloat16_widened);
    out["conv_float16_plans"] =
        py::make_tuple(info.conv_float16_in_16_bits, info.conv_float16_widened);
    out["conv_gemm_policy"] = info.conv_gemm_policy;
    return out;
  });
  m.def("_supported_dtypes", [] {
    std::vector<std::string> names;
    for (int d = 0; d <= static_cast<int>(hal::DType::Bool); ++d) {
      if (hal::supports(static_cast<hal::DType>(d))) {
        names.emplace_back(hal::dtype_name(static_cast<hal::DType>(d)));
      }
    }
    return names;
  });

  m.def("_fallback_stats", [] {
    py::dict out;
    for (const auto& [name, r] : fallback_stats()) {
      out[py::str(name)] = py::make_tuple(r.calls, r.seconds, r.bytes);
    }
    return out;
  });
  m.def("_reset_fallback_stats", &reset_fallback_stats);
  m.def("_fallback_enabled", &fallback_enabled);
  m.def("_set_fallback_enabled", &set_fallback_enabled);

  // The collective backend's class derives from torch's c10d Backend, whose Python type exists
  // once torch.distributed is imported: torch_mlu._cncl defines it then.
  m.def("_define_cncl_backend", [m]() mutable {
    if (py::hasattr(m, "CnclBackend")) return;
    set_gil_releaser([](void (*fn)(void*), void* arg) noexcept {
      if (Py_IsInitialized() && PyGILState_Check()) {
        py::gil_scoped_release released;
        fn(arg);
      } else {
        fn(arg);
      }
    });
    py::class_<CnclBackend, c10d::Backend, c10::intrusive_ptr<CnclBackend>>(m, "CnclBackend")
        .def(py::init<c10::intrusive_ptr<c10d::Backend>, c10::intrusive_ptr<c10d::Store>, int,
                      int>(),
             py::arg("transport"), py::arg("store"), py::arg("rank"), py::arg("size"))
        .def_property_readonly("sequence", &CnclBackend::sequence);
  });
}
