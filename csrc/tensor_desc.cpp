#include "tensor_desc.h"

#include <ATen/ops/view_as_real.h>

#include <atomic>

#include "profiler.h"

namespace torch_mlu {

namespace {
hal::DType device_dtype(c10::ScalarType type) {
  switch (type) {
    case c10::kFloat: return hal::DType::Float32;
    case c10::kDouble: return hal::DType::Float64;
    case c10::kHalf: return hal::DType::Float16;
    case c10::kBFloat16: return hal::DType::BFloat16;
    case c10::kChar: return hal::DType::Int8;
    case c10::kShort: return hal::DType::Int16;
    case c10::kInt: return hal::DType::Int32;
    case c10::kLong: return hal::DType::Int64;
    case c10::kByte: return hal::DType::UInt8;
    case c10::kBool: return hal::DType::Bool;
    default:
      // NotImplementedError for complex tensors: they are supported, by fewer operators. (A
      // TypeError would also be turned into "unsupported operand type(s)" by Tensor.__matmul__.)
      TORCH_CHECK_NOT_IMPLEMENTED(!c10::isComplexType(type), "dtype ", type,
                                  " is not supported by this mlu kernel, which has no complex "
                                  "form");
      TORCH_CHECK_TYPE(false, "dtype ", type, " is not supported by mlu kernels");
  }
}
}  // namespace

hal::DType kernel_dtype(c10::ScalarType type) {
  const hal::DType dtype = device_dtype(type);
  // The device says what it takes (a hardware driver may lack float64, for one).
  static const std::uint32_t supported = hal::supported_dtypes();
  TORCH_CHECK_TYPE((supported >> static_cast<unsigned>(dtype)) & 1u, "dtype ", type,
                   " is not supported by this mlu device");
  return dtype;
}

hal::TensorDesc describe(const at::Tensor& tensor) {
  TORCH_CHECK(tensor.dim() <= hal::kMaxDims, "mlu kernels support at most ", hal::kMaxDims,
              " dimensions, got ", tensor.dim());
  hal::TensorDesc desc;
  desc.dtype = kernel_dtype(tensor.scalar_type());
  desc.ndim = static_cast<int>(tensor.dim());
  for (int d = 0; d < desc.ndim; ++d) {
    desc.sizes[d] = tensor.size(d);
    desc.strides[d] = tensor.stride(d);
  }
  desc.data = hal::kernel_address(tensor.data_ptr());
  return desc;
}

hal::TensorDesc describe_flat(const at::Tensor& dense) {
  TORCH_INTERNAL_ASSERT(dense.is_non_overlapping_and_dense(), "describe_flat: tensor has gaps");
  hal::TensorDesc desc;
  desc.dtype = kernel_dtype(dense.scalar_type());
  desc.ndim = 1;
  desc.sizes[0] = dense.numel();
  desc.strides[0] = 1;
  desc.data = hal::kernel_address(dense.data_ptr());
  return desc;
}

bool same_dense_layout(const at::Tensor& a, const at::Tensor& b) {
  if (a.is_contiguous() && b.is_contiguous()) return true;
  return a.is_non_overlapping_and_dense() && b.is_non_overlapping_and_dense() &&
         a.strides() == b.strides();
}

hal::TensorDesc describe_interleaved(const at::Tensor& complex) {
  return describe(at::view_as_real(complex));
}

std::optional<hal::TensorDesc> maybe_describe(const at::Tensor& tensor) {
  if (!tensor.defined()) return std::nullopt;
  return describe(tensor);
}

namespace {
std::atomic<std::uint64_t> launches{0};
}  // namespace

void launch(c10::DeviceIndex device, const char* name, hal::Work work) {
  const c10::Stream stream = current_stream(device);
  hal::Queue* queue = queue_of(stream);
  // Captured work is not traced: its replays are (one activity each).
  if (profiler::recording() && !driver().capturing(queue)) {
    work = profiler::traced(name, device, stream.id(), std::move(work));
  }
  hal_call([&] { driver().launch(queue, name, std::move(work)); });
  launches.fetch_add(1, std::memory_order_relaxed);
}

void unsupported_operation(const char* name) {
  TORCH_CHECK_NOT_IMPLEMENTED(false, "this mlu device does not support the operation '", name, "'");
}

void enqueue_kernel(c10::DeviceIndex device, const char* name,
                    c10::function_ref<void(hal::Queue*)> enqueue) {
  const c10::Stream stream = current_stream(device);
  hal::Queue* queue = queue_of(stream);
  hal_call([&] {
    // Captured work is not traced: its replays are (one activity each).
    if (profiler::recording() && !driver().capturing(queue)) {
      profiler::traced_span(profiler::Span::Kernel, name, device, stream.id(), queue,
                            [&] { enqueue(queue); });
    } else {
      enqueue(queue);
    }
  });
  launches.fetch_add(1, std::memory_order_relaxed);
}

void launch(const at::Tensor& on, const char* name, hal::Work work) {
  launch(on.device().index(), name, std::move(work));
}

namespace {
const char* copy_name(hal::CopyKind kind) {
  switch (kind) {
    case hal::CopyKind::HostToDevice: return "Memcpy HtoD";
    case hal::CopyKind::DeviceToHost: return "Memcpy DtoH";
    case hal::CopyKind::DeviceToDevice: return "Memcpy DtoD";
    case hal::CopyKind::HostToHost: return "Memcpy HtoH";
  }
  return "Memcpy";
}
}  // namespace

void enqueue_copy(c10::DeviceIndex device, void* dst, const void* src, std::size_t bytes,
                  hal::CopyKind kind) {
  const c10::Stream stream = current_stream(device);
  hal::Queue* queue = queue_of(stream);
  auto copy = [&] { driver().copy_async(queue, dst, src, bytes, kind); };
  hal_call([&] {
    if (profiler::recording() && !driver().capturing(queue)) {
      profiler::traced_span(profiler::Span::Copy, copy_name(kind), device, stream.id(), queue,
                            copy);
    } else {
      copy();
    }
  });
}

std::uint64_t kernel_launches() noexcept { return launches.load(std::memory_order_relaxed); }

}  // namespace torch_mlu
