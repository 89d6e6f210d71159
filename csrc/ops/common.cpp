#include "common.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/native/Resize.h>
#include <c10/core/DeviceGuard.h>

#include <cstring>

namespace torch_mlu::ops {

c10::Device common_device(std::initializer_list<const at::Tensor*> tensors) {
  std::optional<c10::Device> device;
  for (const at::Tensor* t : tensors) {
    if (t->defined() && t->device().type() == kMLU) {
      TORCH_CHECK(!device || *device == t->device(),
                  "Expected all tensors to be on the same device, but found at least two devices, ",
                  *device, " and ", t->device(), "!");
      device = t->device();
    }
  }
  TORCH_INTERNAL_ASSERT(device.has_value(), "an mlu kernel was called without mlu tensors");
  for (const at::Tensor* t : tensors) {
    TORCH_CHECK(!t->defined() || t->device().type() == kMLU || t->dim() == 0,
                "Expected all tensors to be on the same device, but found at least two devices, ",
                *device, " and ", t->device(), "!");
  }
  return *device;
}

at::Tensor operand(const at::Tensor& t, c10::ScalarType dtype, c10::IntArrayRef shape,
                   c10::Device device) {
  at::Tensor on_device = t;
  if (t.device() != device) {
    on_device = at::empty({}, t.options().device(device).dtype(dtype));
    on_device.fill_(t.item());  // a CPU scalar: no host-to-device transfer, no synchronisation
  } else if (t.scalar_type() != dtype) {
    on_device = t.to(dtype);
  }
  return on_device.sizes() == shape ? on_device : on_device.expand(shape);
}

at::Tensor new_output(c10::IntArrayRef shape, c10::ScalarType dtype, const at::Tensor& like,
                      c10::Device device) {
  auto options = at::TensorOptions().dtype(dtype).device(device);
  if (like.device() == device && like.sizes() == shape && like.dim() >= 4) {
    return at::empty(shape, options, like.suggest_memory_format());
  }
  return at::empty(shape, options);
}

void prepare_out(const at::Tensor& out, c10::IntArrayRef shape, c10::ScalarType dtype,
                 c10::Device device) {
  TORCH_CHECK(out.device() == device, "Expected out tensor to be on ", device, " but got ",
              out.device());
  TORCH_CHECK(c10::canCast(dtype, out.scalar_type()), "result type ", dtype,
              " can't be cast to the desired output type ", out.scalar_type());
  at::native::resize_output(out, shape);
}

void check_overlap(const at::Tensor& out, std::initializer_list<const at::Tensor*> inputs) {
  // On every elementwise launch: ATen's checks run only where an overlap is possible (a dense
  // output cannot overlap itself; an input can overlap the output only through its storage).
  if (!out.is_non_overlapping_and_dense()) at::assert_no_internal_overlap(out);
  const c10::StorageImpl* written =
      out.unsafeGetTensorImpl()->unsafe_storage().unsafeGetStorageImpl();
  for (const at::Tensor* input : inputs) {
    if (input->defined() && !input->is_same(out) &&
        input->unsafeGetTensorImpl()->unsafe_storage().unsafeGetStorageImpl() == written) {
      at::assert_no_partial_overlap(out, *input);
    }
  }
}

KernelOperand kernel_operand(const at::Tensor& t, c10::ScalarType dtype, c10::IntArrayRef shape,
                             c10::Device device) {
  KernelOperand operand_out;
  CapturedOperand& captured = operand_out.captured;
  if (t.device() == device || t.dim() != 0) {
    operand_out.tensor = operand(t, dtype, shape, device);
    captured.desc = describe(operand_out.tensor);
    return operand_out;
  }
  const at::Scalar value = t.item();
  AT_DISPATCH_ALL_TYPES_AND3(at::kHalf, at::kBFloat16, at::kBool, dtype, "kernel_operand", [&] {
    const scalar_t typed = value.to<scalar_t>();
    std::memcpy(captured.bytes, &typed, sizeof typed);
  });
  captured.host_value = true;
  captured.desc.dtype = kernel_dtype(dtype);
  captured.desc.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < captured.desc.ndim; ++d) captured.desc.sizes[d] = shape[d];
  return operand_out;  // zero strides
}

at::Tensor python_number(const at::Scalar& value) {
  at::Tensor t = at::scalar_to_tensor(value);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

c10::ScalarType floating_type(c10::ScalarType type) {
  return c10::isIntegralType(type, /*includeBool=*/true)
             ? c10::typeMetaToScalarType(c10::get_default_dtype())
             : type;
}

}  // namespace torch_mlu::ops
