#include "fallback.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/DeviceGuard.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/library.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

#include "allocator.h"
#include "generator.h"
#include "stream.h"
#include "tensor_desc.h"

namespace torch_mlu {

bool fallback_enabled_from_environment() {
  const char* env = std::getenv("ENABLE_FALLBACK_TO_CPU");
  if (env == nullptr) return true;
  std::string value(env);
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (value == "1" || value == "true" || value == "on" || value == "yes") return true;
  if (value == "0" || value == "false" || value == "off" || value == "no") return false;
  throw std::invalid_argument(
      std::string("ENABLE_FALLBACK_TO_CPU must be 0 or 1 (or true/false, on/off, yes/no), got '") +
      env + "'");
}

namespace {

std::atomic<bool> g_enabled = [] {
  try {
    return fallback_enabled_from_environment();
  } catch (const std::invalid_argument&) {
    return true;  // reported when the driver is first used (validate_environment)
  }
}();

std::mutex g_ledger_mutex;
std::map<std::string, FallbackRecord> g_ledger;
std::set<std::string> g_warned;

bool is_mlu(const at::Tensor& t) { return t.defined() && t.device().type() == kMLU; }

// Calls f(tensor) for every tensor inside an argument or return value.
template <typename F>
void for_each_tensor(const c10::IValue& value, F&& f) {
  if (value.isTensor()) {
    f(value.toTensor());
  } else if (value.isTensorList()) {
    for (const at::Tensor& t : value.toTensorList().vec()) f(t);
  } else if (value.isList()) {
    for (const c10::IValue& item : value.toListRef()) {
      if (item.isTensor()) f(item.toTensor());
    }
  }
}

// Replaces every tensor inside value with fn(tensor), keeping the value's kind.
template <typename F>
c10::IValue map_tensors(const c10::IValue& value, F&& fn) {
  if (value.isTensor()) return fn(value.toTensor());
  if (value.isTensorList()) {
    c10::List<at::Tensor> out;
    for (const at::Tensor& t : value.toTensorList().vec()) out.push_back(fn(t));
    return out;
  }
  if (value.isList()) {
    auto list = value.toList();
    c10::impl::GenericList out(list.elementType());
    for (const c10::IValue& item : list)
      out.push_back(item.isTensor() ? fn(item.toTensor()) : item);
    return out;
  }
  return value;
}

[[noreturn]] void two_devices(const c10::Device& a, const c10::Device& b) {
  TORCH_CHECK(false,
              "Expected all tensors to be on the same device, but found at least two devices, ", a,
              " and ", b, "!");
}

// The mlu device an operator runs on; checks that its tensors agree. CPU tensors may only be
// scalars (0-dim), except index lists, which PyTorch allows on the CPU.
c10::Device operator_device(const c10::FunctionSchema& schema, c10::ArrayRef<c10::IValue> args) {
  std::optional<c10::Device> device;
  for (const c10::IValue& arg : args) {
    for_each_tensor(arg, [&](const at::Tensor& t) {
      if (!is_mlu(t)) return;
      if (device && *device != t.device()) two_devices(*device, t.device());
      device = t.device();
    });
    if (!device && arg.isDevice() && arg.toDevice().type() == kMLU) device = arg.toDevice();
  }
  TORCH_CHECK(device.has_value(), schema.name(), " reached the mlu fallback without an mlu tensor");
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool index_list =
        args[i].isList() && !args[i].isTensorList() && schema.arguments()[i].name() == "indices";
    if (index_list) continue;
    for_each_tensor(args[i], [&](const at::Tensor& t) {
      if (t.defined() && !is_mlu(t) && t.dim() > 0) two_devices(*device, t.device());
    });
  }
  return c10::Device(kMLU, device->has_index() ? device->index() : current_device());
}

// A CPU tensor with t's metadata over host bytes. A conjugate or negative view (x.mH in backward
// formulas) stays one: its bytes hold the unconjugated values.
at::Tensor host_tensor(const at::Tensor& t, c10::Storage storage) {
  auto host = at::detail::make_tensor<c10::TensorImpl>(
      std::move(storage), c10::DispatchKeySet(c10::DispatchKey::CPU), t.dtype());
  host.unsafeGetTensorImpl()->set_sizes_and_strides(t.sizes(), t.strides(), t.storage_offset());
  host._set_conj(t.is_conj());
  host._set_neg(t.is_neg());
  return host;
}

// The host side of the device tensors an operator takes. Where the host can read device memory,
// CPU tensors over the same bytes. Elsewhere (hal::DeviceProperties::host_accessible false, as on
// hardware) each device storage is staged: copied to host memory once, so that views of one
// storage stay views of one host storage, and copied back if the operator writes it.
// Either storage may be resized by an out= kernel; that moves it to fresh host memory, which the
// caller notices and copies back.
class HostSide {
 public:
  explicit HostSide(c10::Device device)
      : device_(device), staged_(!host_accessible(device.index())) {}

  at::Tensor of(const at::Tensor& t, bool written) {
    const c10::StorageImpl* key = t.storage().unsafeGetStorageImpl();
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      c10::Storage host = host_storage(t.storage());
      const void* data = host.data();
      it = storages_.emplace(key, Staged{t.storage(), std::move(host), data}).first;
    }
    it->second.written = it->second.written || written;
    return host_tensor(t, it->second.host);
  }

  // Copies what the operator wrote back to the device (staged storages only). A host storage an
  // out= kernel resized has moved: its tensors are copied back one by one (write_back below).
  void write_back() {
    if (!staged_) return;
    for (auto& [key, s] : storages_) {
      if (!s.written || s.device.nbytes() == 0 || s.host.data() != s.host_data) continue;
      enqueue_copy(device_.index(), s.device.mutable_data(), s.host.data(), s.device.nbytes(),
                   hal::CopyKind::HostToDevice);  // pageable: returns once copied
    }
  }

 private:
  struct Staged {
    c10::Storage device;
    c10::Storage host;
    const void* host_data;  // where the host bytes started
    bool written = false;
  };

  c10::Storage host_storage(const c10::Storage& device) const {
    const std::size_t bytes = device.nbytes();
    if (!staged_) {
      return c10::Storage(c10::Storage::use_byte_size_t(), bytes,
                          c10::DataPtr(device.mutable_data(), c10::Device(c10::kCPU)),
                          at::getCPUAllocator(), /*resizable=*/true);
    }
    c10::Storage host(c10::Storage::use_byte_size_t(), bytes, at::getCPUAllocator(),
                      /*resizable=*/true);
    if (bytes > 0) {
      enqueue_copy(device_.index(), host.mutable_data(), device.data(), bytes,
                   hal::CopyKind::DeviceToHost);  // pageable: returns once copied
    }
    return host;
  }

  c10::Device device_;
  bool staged_;
  std::map<const c10::StorageImpl*, Staged> storages_;
};

// A CPU generator drawn from the mlu generator's counter, so that random operators running on
// the fallback are reproducible under torch.mlu.manual_seed.
at::Generator host_generator(const std::optional<at::Generator>& given, c10::DeviceIndex device) {
  at::Generator gen = given && given->defined() ? *given : default_generator(device);
  std::lock_guard lock(gen.mutex());
  auto* impl = gen.get<MLUGeneratorImpl>();
  const std::uint64_t counter = impl->take(1);
  return at::detail::createCPUGenerator(impl->current_seed() ^ (counter * 0x9E3779B97F4A7C15ULL));
}

struct Alias {
  at::Tensor device;
  at::Tensor host;
  const void* host_data;  // where the host storage started
};

at::Tensor to_device_output(const at::Tensor& out, const std::vector<Alias>& aliases,
                            c10::Device device) {
  if (!out.defined()) return out;
  for (const Alias& a : aliases) {
    if (out.is_same(a.host)) return a.device;
  }
  for (const Alias& a : aliases) {
    if (out.storage().data() == a.host.storage().data() && out.storage().data() == a.host_data) {
      auto view = at::detail::make_tensor<c10::TensorImpl>(c10::Storage(a.device.storage()),
                                                           a.device.key_set(), out.dtype());
      view.unsafeGetTensorImpl()->set_sizes_and_strides(out.sizes(), out.strides(),
                                                        out.storage_offset());
      view._set_conj(out.is_conj());
      view._set_neg(out.is_neg());
      return view;
    }
  }
  at::Tensor result =
      out.is_non_overlapping_and_dense()
          ? at::empty_strided(out.sizes(), out.strides(), out.options().device(device))
          : at::empty(out.sizes(), out.options().device(device));
  result.copy_(out);
  return result;
}

// Mirrors what the CPU kernel did to an argument's metadata or storage onto the device tensor.
void write_back(const Alias& a) {
  // linalg_lu_solve(left=False) returns its out= argument as a conjugate view, for one.
  a.device._set_conj(a.host.is_conj());
  a.device._set_neg(a.host.is_neg());
  const bool same_storage = a.host.storage().data() == a.host_data;
  const bool same_shape = a.host.sizes() == a.device.sizes() &&
                          a.host.strides() == a.device.strides() &&
                          a.host.storage_offset() == a.device.storage_offset();
  if (same_storage && same_shape) return;
  if (same_storage) {
    a.device.unsafeGetTensorImpl()->set_sizes_and_strides(a.host.sizes(), a.host.strides(),
                                                          a.host.storage_offset());
    return;
  }
  a.device.resize_(a.host.sizes());
  a.device.copy_(a.host);
}

void record(const std::string& name, double seconds, std::uint64_t bytes) {
  std::lock_guard lock(g_ledger_mutex);
  FallbackRecord& r = g_ledger[name];
  ++r.calls;
  r.seconds += seconds;
  r.bytes += bytes;
  if (g_warned.insert(name).second) {
    TORCH_WARN("The operator '", name,
               "' has no native mlu kernel for its arguments (complex tensors have fewer) and ran "
               "on the CPU fallback, "
               "which synchronises the device. See torch.mlu.fallback_stats().");
  }
}

}  // namespace

void cpu_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const c10::FunctionSchema& schema = op.schema();
  const std::string name =
      schema.overload_name().empty() ? schema.name() : schema.name() + "." + schema.overload_name();
  TORCH_CHECK(g_enabled.load(), "The operator '", name,
              "' has no native mlu kernel for its arguments, and "
              "ENABLE_FALLBACK_TO_CPU=0 forbids running it on the CPU.");
  const auto start = std::chrono::steady_clock::now();
  const std::size_t num_args = schema.arguments().size();
  auto args = torch::jit::last(*stack, num_args);
  const c10::Device device = operator_device(schema, args);
  c10::DeviceGuard guard(device);
  refuse_in_capture(device.index(), "The operator '" + name +
                                        "' runs on the CPU fallback (no native mlu kernel), which");
  hal_call([&] { driver().synchronize(current_queue(device.index())); });

  std::vector<Alias> aliases;
  HostSide host_side(device);
  std::uint64_t bytes = 0;
  const std::size_t first = stack->size() - num_args;
  for (std::size_t i = 0; i < num_args; ++i) {
    c10::IValue& arg = (*stack)[first + i];
    const c10::Argument& spec = schema.arguments()[i];
    if (spec.type()->kind() == c10::TypeKind::OptionalType &&
        spec.type()->castRaw<c10::OptionalType>()->getElementType()->kind() ==
            c10::TypeKind::GeneratorType) {
      if (arg.isNone() || arg.toGenerator().device().type() == kMLU) {
        arg = host_generator(arg.isNone() ? std::nullopt : std::optional(arg.toGenerator()),
                             device.index());
      }
      continue;
    }
    if (arg.isDevice() && arg.toDevice().type() == kMLU) {
      arg = c10::Device(c10::kCPU);
      continue;
    }
    const bool written = spec.alias_info() != nullptr && spec.alias_info()->isWrite();
    arg = map_tensors(arg, [&](const at::Tensor& t) -> at::Tensor {
      if (!is_mlu(t)) return t;
      bytes += t.nbytes();
      at::Tensor host = host_side.of(t, written);
      aliases.push_back(Alias{t, host, host.storage().data()});
      return host;
    });
  }

  op.callBoxed(stack);

  host_side.write_back();
  for (const Alias& a : aliases) write_back(a);
  const std::size_t num_returns = schema.returns().size();
  for (std::size_t i = stack->size() - num_returns; i < stack->size(); ++i) {
    (*stack)[i] = map_tensors((*stack)[i], [&](const at::Tensor& t) {
      TORCH_CHECK_NOT_IMPLEMENTED(!t.defined() || t.layout() == c10::kStrided, name, " returned a ",
                                  t.layout(),
                                  " tensor: only strided tensors are "
                                  "supported on mlu");
      if (t.defined()) bytes += t.nbytes();
      return to_device_output(t, aliases, device);
    });
  }
  record(name, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
         bytes);
}

namespace {

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&cpu_fallback>());
}

}  // namespace

void register_autograd_fallback() {
  auto& dispatcher = c10::Dispatcher::singleton();
  if (dispatcher.hasBackendFallbackForDispatchKey(c10::DispatchKey::AutogradPrivateUse1)) return;
  static torch::Library library(torch::Library::IMPL, "_", c10::DispatchKey::AutogradPrivateUse1,
                                __FILE__, __LINE__);
  library.fallback(torch::autograd::basicAutogradNotImplementedFallback());
}

std::map<std::string, FallbackRecord> fallback_stats() {
  std::lock_guard lock(g_ledger_mutex);
  return g_ledger;
}

void reset_fallback_stats() {
  std::lock_guard lock(g_ledger_mutex);
  g_ledger.clear();
}

bool fallback_enabled() { return g_enabled.load(); }
void set_fallback_enabled(bool enabled) { g_enabled.store(enabled); }

}  // namespace torch_mlu
