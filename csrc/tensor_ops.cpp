// The operators every backend must provide itself: allocation, views, storage changes, fill and
// reading a scalar back. Everything else has a kernel of its own or goes through the fallback.
#include <ATen/ATen.h>
#include <ATen/EmptyTensor.h>
#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <ATen/native/Resize.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_native.h>
#include <ATen/ops/unfold_native.h>
#include <ATen/ops/view_native.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <cstring>

#include "allocator.h"
#include "tensor_desc.h"

namespace torch_mlu {
namespace {

const c10::DispatchKeySet kMLUKeys(c10::DispatchKey::PrivateUse1);

c10::Device target_device(std::optional<c10::Device> device) {
  const c10::DeviceIndex index = device && device->has_index() ? device->index() : current_device();
  check_device(index);
  return c10::Device(kMLU, index);
}

at::Tensor empty(c10::IntArrayRef size, std::optional<c10::ScalarType> dtype,
                 std::optional<c10::Layout> layout, std::optional<c10::Device> device,
                 std::optional<bool> pin_memory, std::optional<c10::MemoryFormat> memory_format) {
  TORCH_CHECK(!pin_memory.value_or(false), "only dense CPU tensors can be pinned");
  TORCH_CHECK(layout.value_or(c10::kStrided) == c10::kStrided, "mlu supports strided tensors only");
  c10::DeviceGuard guard(target_device(device));
  return at::detail::empty_generic(size, device_allocator(), kMLUKeys, c10::dtype_or_default(dtype),
                                   memory_format);
}

at::Tensor empty_strided(c10::IntArrayRef size, c10::IntArrayRef stride,
                         std::optional<c10::ScalarType> dtype, std::optional<c10::Layout> layout,
                         std::optional<c10::Device> device, std::optional<bool> pin_memory) {
  TORCH_CHECK(!pin_memory.value_or(false), "only dense CPU tensors can be pinned");
  TORCH_CHECK(layout.value_or(c10::kStrided) == c10::kStrided, "mlu supports strided tensors only");
  c10::DeviceGuard guard(target_device(device));
  return at::detail::empty_strided_generic(size, stride, device_allocator(), kMLUKeys,
                                           c10::dtype_or_default(dtype));
}

// Grows the storage (stream-ordered copy of the old bytes) when the new shape needs more.
void ensure_storage(const at::Tensor& self, std::size_t bytes) {
  const c10::Storage& storage = self.storage();
  if (bytes <= storage.nbytes()) return;
  c10::DeviceGuard guard(self.device());
  at::detail::getPrivateUse1Hooks().resizePrivateUse1Bytes(storage, bytes);
}

const at::Tensor& resize_(const at::Tensor& self, c10::IntArrayRef size,
                          std::optional<c10::MemoryFormat> memory_format) {
  auto* impl = self.unsafeGetTensorImpl();
  const std::size_t bytes = at::detail::computeStorageNbytesContiguous(
      size, self.dtype().itemsize(), self.storage_offset());
  ensure_storage(self, bytes);
  impl->set_sizes_contiguous(size);
  if (memory_format && *memory_format != c10::MemoryFormat::Preserve) {
    impl->empty_tensor_restride(*memory_format);
  }
  return self;
}

at::Tensor& set_storage(at::Tensor& self, c10::Storage source, c10::SymInt storage_offset,
                        c10::SymIntArrayRef size, c10::SymIntArrayRef stride) {
  TORCH_CHECK(source.device() == self.device() || !source.data(), "set_: expected a storage on ",
              self.device(), " but got one on ", source.device());
  const int64_t offset = storage_offset.expect_int();
  auto sizes = C10_AS_INTARRAYREF_SLOW(size);
  auto strides = C10_AS_INTARRAYREF_SLOW(stride);
  at::native::checkSetStorage(self, source, offset, sizes, strides);
  auto* impl = self.unsafeGetTensorImpl();
  impl->set_storage_keep_dtype(std::move(source));
  impl->set_storage_offset(offset);
  impl->set_sizes_and_strides(sizes, strides);
  ensure_storage(self,
                 at::detail::computeStorageNbytes(sizes, strides, self.dtype().itemsize(), offset));
  return self;
}

at::Tensor& set_source_storage(at::Tensor& self, c10::Storage source) {
  const auto numel = static_cast<int64_t>(source.nbytes() / self.dtype().itemsize());
  const c10::SymInt n(numel), one(1);
  return set_storage(self, std::move(source), 0, {n}, {one});
}

at::Tensor& set_source_tensor(at::Tensor& self, const at::Tensor& source) {
  if (self.is_same(source)) return self;
  return set_storage(self, source.storage(), source.sym_storage_offset(), source.sym_sizes(),
                     source.sym_strides());
}

at::Tensor& set_empty(at::Tensor& self) {
  c10::DeviceGuard guard(self.device());
  c10::Storage storage(c10::Storage::use_byte_size_t(), 0, device_allocator(), true);
  const c10::SymInt zero(0), one(1);
  return set_storage(self, std::move(storage), 0, {zero}, {one});
}

at::Tensor& fill_(at::Tensor& self, const at::Scalar& value) {
  if (self.numel() == 0) return self;
  c10::DeviceGuard guard(self.device());
  if (self.is_complex()) {  // the two parts of the interleaved view, each a real fill
    const c10::complex<double> z = value.toComplexDouble();
    at::Tensor parts = at::view_as_real(self.is_conj() ? self.conj() : self);
    at::Tensor real = parts.select(-1, 0), imag = parts.select(-1, 1);
    torch_mlu::fill_(real, z.real());
    torch_mlu::fill_(imag, self.is_conj() ? -z.imag() : z.imag());
    return self;
  }
  // The value travels inside the operation as a 0-stride source of the widest matching type.
  hal::Fill fill{describe(self.is_contiguous() ? self.view(-1) : self)};  // any rank
  fill.value.desc = fill.dst;
  fill.value.desc.strides.fill(0);
  fill.value.host_value = true;
  const auto carry = [&fill](hal::DType dtype, auto v) {
    fill.value.desc.dtype = dtype;
    std::memcpy(fill.value.bytes, &v, sizeof v);
  };
  if (value.isBoolean()) {
    carry(hal::DType::Bool, value.toBool());
  } else if (value.isIntegral(false)) {
    carry(hal::DType::Int64, value.toLong());
  } else {
    TORCH_CHECK(!value.isComplex(), "fill_: a complex value cannot fill a ", self.scalar_type(),
                " tensor");
    carry(hal::DType::Float64, value.toDouble());
  }
  launch(self, fill);
  return self;
}

at::Tensor& zero_(at::Tensor& self) { return torch_mlu::fill_(self, at::Scalar(0)); }

// Tensor.record_stream: the memory is not reused until the stream's queued work has finished.
void record_tensor_stream(at::Tensor& self, c10::Stream stream) {
  TORCH_CHECK(stream.device_type() == kMLU, "record_stream expects an mlu stream, got one on ",
              stream.device());
  record_stream(self.storage().data_ptr(), stream);
}

at::Scalar local_scalar_dense(const at::Tensor& self) {
  refuse_in_capture(self.device().index(),
                    "Reading a tensor's value on the host (.item(), aten::_local_scalar_dense) "
                    "synchronizes and");
  return self.to(c10::kCPU).item();
}

// `tensor.data = other` swaps storage in place only between tensors c10 calls compatible, and its
// list of dense backends leaves PrivateUse1 out. Without this, `param.data = cpu.to("mlu")` raised
// and Module.cpu()/.to() of an mlu model swapped whole tensors, which fails once DDP, FSDP or an
// optimizer holds a reference. Dense strided mlu tensors are compatible with other dense ones.
bool has_compatible_shallow_copy_type(const at::Tensor& self, const at::Tensor& from) {
  const auto dense = [](const at::Tensor& t) {
    auto* impl = t.unsafeGetTensorImpl();
    if (t.is_privateuseone()) return t.layout() == c10::kStrided && !t.is_quantized();
    return impl->has_compatible_shallow_copy_type(c10::DispatchKeySet(c10::DispatchKey::CPU));
  };
  if (!self.is_privateuseone() && !from.is_privateuseone()) {
    return self.unsafeGetTensorImpl()->has_compatible_shallow_copy_type(from.key_set());
  }
  return dense(self) && dense(from);
}

TORCH_LIBRARY_IMPL(aten, AutogradPrivateUse1, m) {
  m.impl("_has_compatible_shallow_copy_type", has_compatible_shallow_copy_type);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_has_compatible_shallow_copy_type", has_compatible_shallow_copy_type);
  m.impl("empty.memory_format", empty);
  m.impl("empty_strided", empty_strided);
  m.impl("as_strided", at::native::as_strided_tensorimpl);
  m.impl("view", at::native::view);
  m.impl("_reshape_alias", at::native::_reshape_alias);
  m.impl("unfold", at::native::unfold);
  m.impl("resize_", resize_);
  m.impl("set_.source_Storage_storage_offset", set_storage);
  m.impl("set_.source_Storage", set_source_storage);
  m.impl("set_.source_Tensor", set_source_tensor);
  m.impl("set_", set_empty);
  m.impl("fill_.Scalar", fill_);
  m.impl("zero_", zero_);
  m.impl("_local_scalar_dense", local_scalar_dense);
  m.impl("record_stream", record_tensor_stream);
}

}  // namespace
}  // namespace torch_mlu
