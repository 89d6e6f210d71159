// Native shape operators that move data: cat (and through it stack), flip, roll, tril and triu.
// split, chunk, repeat and the other views or compositions need nothing of their own.

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Operators.h>
#include <ATen/WrapDimUtils.h>
#include <ATen/WrapDimUtilsMulti.h>
#include <ATen/native/Resize.h>
#include <ATen/native/TensorShape.h>
#include <ATen/native/TypeProperties.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"
#include "real_only.h"

namespace torch_mlu::ops {
namespace {

// ---- cat ---------------------------------------------------------------------------------------

// The memory format all inputs share (channels_last stays channels_last), else contiguous.
c10::MemoryFormat shared_format(const std::vector<at::Tensor>& inputs) {
  std::optional<c10::MemoryFormat> format;
  for (const at::Tensor& t : inputs) {
    const c10::MemoryFormat f = t.suggest_memory_format();
    if (format && *format != f) return c10::MemoryFormat::Contiguous;
    format = f;
  }
  return format.value_or(c10::MemoryFormat::Contiguous);
}

at::Tensor& cat_out(const at::ITensorListRef& tensor_list, int64_t dim, at::Tensor& out) {
  const auto tensors = tensor_list.materialize();
  TORCH_CHECK(!tensors.empty(), "torch.cat(): expected a non-empty list of Tensors");
  at::native::check_cat_no_zero_dim(tensors);
  dim = at::legacy_cat_wrap_dim(dim, tensors);
  std::vector<at::Tensor> inputs;  // legacy 1-D empty tensors are skipped, as PyTorch does
  for (const at::Tensor& t : tensors) {
    if (!at::native::cat_should_skip_tensor(t)) inputs.push_back(t);
  }
  const c10::Device device = common_device({&out});
  for (const at::Tensor& t : tensors) {
    TORCH_CHECK(t.device() == device,
                "Expected all tensors to be on the same device, but found at least two devices, ",
                device, " and ", t.device(), "!");
  }
  c10::DeviceGuard guard(device);
  const c10::ScalarType dtype = at::native::result_type(tensor_list);
  TORCH_CHECK(c10::canCast(dtype, out.scalar_type()),
              "torch.cat(): input types can't be cast to the desired output type ",
              out.scalar_type());
  std::vector<int64_t> shape = {0};
  if (!inputs.empty()) {
    const at::Tensor& first = inputs.front();
    shape = first.sizes().vec();
    shape[dim] = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      TORCH_CHECK(inputs[i].dim() == first.dim(),
                  "Tensors must have same number of dimensions: got ", first.dim(), " and ",
                  inputs[i].dim());
      at::native::check_cat_shape_except_dim(first, inputs[i], dim, static_cast<int64_t>(i));
      shape[dim] += inputs[i].size(dim);
    }
  }
  at::assert_no_internal_overlap(out);
  for (const at::Tensor& t : inputs) at::assert_no_overlap(out, t);
  if (at::native::resize_output(out, shape)) {
    const c10::MemoryFormat format = shared_format(inputs);
    if (format != c10::MemoryFormat::Contiguous) out.resize_(shape, format);
  }
  if (out.numel() == 0) return out;
  // Complex tensors are concatenated as their interleaved views, converted to out's dtype first
  // (kept alive until the launch).
  const bool complex = out.is_complex();
  std::vector<at::Tensor> converted;
  std::vector<hal::TensorDesc> sources;  // empty inputs are 0 long along dim: nothing to copy
  for (const at::Tensor& t : inputs) {
    if (t.numel() == 0) continue;
    if (!complex) {
      sources.push_back(describe(t));
      continue;
    }
    converted.push_back(t.to(out.scalar_type()).resolve_conj());
    sources.push_back(describe_interleaved(converted.back()));
  }
  launch(out, hal::Cat{complex ? describe_interleaved(out) : describe(out), std::move(sources),
                       static_cast<int>(dim)});
  return out;
}

// ---- flip, roll --------------------------------------------------------------------------------

// Moving complex numbers is moving the parts of their interleaved views (dims wrapped against the
// complex shape, so that none names the parts' dimension).
std::vector<int64_t> wrapped_dims(at::IntArrayRef dims, int64_t ndim) {
  std::vector<int64_t> wrapped;
  for (int64_t d : dims) wrapped.push_back(at::maybe_wrap_dim(d, ndim));
  return wrapped;
}
at::Tensor parts(const at::Tensor& complex) { return at::view_as_real(complex.resolve_conj()); }

at::Tensor flip_dims(const at::Tensor& self, at::IntArrayRef dims) {
  if (self.is_complex()) {
    return at::view_as_complex(flip_dims(parts(self), wrapped_dims(dims, self.dim())));
  }
  const c10::Device device = common_device({&self});
  c10::DeviceGuard guard(device);
  const auto flipped = at::dim_list_to_bitset(dims, self.dim());
  at::Tensor out = at::empty_like(self, c10::MemoryFormat::Preserve);
  if (self.numel() == 0) return out;
  // A flipped dim is read from its last element backwards: a negative stride.
  hal::TensorDesc src = describe(self);
  for (int d = 0; d < src.ndim; ++d) {
    if (!flipped[d]) continue;
    src.data =
        static_cast<char*>(src.data) + (src.sizes[d] - 1) * src.strides[d] * self.element_size();
    src.strides[d] = -src.strides[d];
  }
  launch(out, hal::Flip{{describe(out), src}});
  return out;
}

// A block copy of roll: the part of self starting at from_start lands at to_start.
struct Block {
  std::vector<int64_t> from_start, to_start, sizes;
};

hal::TensorDesc block_desc(const at::Tensor& t, const std::vector<int64_t>& start,
                           const std::vector<int64_t>& sizes) {
  hal::TensorDesc desc = describe(t);
  for (int d = 0; d < desc.ndim; ++d) {
    desc.data = static_cast<char*>(desc.data) + start[d] * desc.strides[d] * t.element_size();
    desc.sizes[d] = sizes[d];
  }
  return desc;
}

at::Tensor roll_dims(const at::Tensor& self, at::IntArrayRef shifts, at::IntArrayRef dims) {
  const c10::Device device = common_device({&self});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(!shifts.empty(), "`shifts` required");
  if (dims.empty() && shifts.size() == 1) {
    const int64_t first_dim = 0;
    return roll_dims(self.flatten(), shifts, first_dim).view(self.sizes());
  }
  TORCH_CHECK(shifts.size() == dims.size(),
              "shifts and dimensions must align. shifts: ", shifts.size(), ", dims:", dims.size());
  if (self.is_complex()) {
    return at::view_as_complex(roll_dims(parts(self), shifts, wrapped_dims(dims, self.dim())));
  }
  at::Tensor out = at::empty(self.sizes(), self.options());
  if (self.numel() == 0) return out;
  std::vector<int64_t> shift(self.dim(), 0);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = at::maybe_wrap_dim(dims[i], self.dim());
    shift[d] = ((shift[d] + shifts[i]) % self.size(d) + self.size(d)) % self.size(d);
  }
  // Each rolled dim splits every block in two: [0, n - s) moves to s, [n - s, n) to 0.
  std::vector<Block> blocks = {{std::vector<int64_t>(self.dim(), 0),
                                std::vector<int64_t>(self.dim(), 0), self.sizes().vec()}};
  for (int64_t d = 0; d < self.dim(); ++d) {
    const int64_t s = shift[d], n = self.size(d);
    if (s == 0) continue;
    std::vector<Block> split;
    for (const Block& b : blocks) {
      Block head = b, tail = b;
      head.sizes[d] = n - s;
      head.to_start[d] = s;
      tail.from_start[d] = n - s;
      tail.sizes[d] = s;
      split.push_back(std::move(head));
      split.push_back(std::move(tail));
    }
    blocks = std::move(split);
  }
  hal::Roll roll;
  for (const Block& b : blocks) {
    roll.dst.push_back(block_desc(out, b.to_start, b.sizes));
    roll.src.push_back(block_desc(self, b.from_start, b.sizes));
  }
  launch(out, roll);
  return out;
}

// The gradient of unfold (and istft's overlap-add): every window's elements added back where they
// were taken from, as one index_add over the windows laid end to end.
at::Tensor unfold_backward(const at::Tensor& grad_in, c10::SymIntArrayRef input_sizes, int64_t dim,
                           int64_t size, int64_t step) {
  const c10::Device device = common_device({&grad_in});
  c10::DeviceGuard guard(device);
  const auto sizes = C10_AS_INTARRAYREF_SLOW(input_sizes);
  if (sizes.empty()) return grad_in.reshape({}).clone();  // a 0-d input's one window of one
  const int64_t d = at::maybe_wrap_dim(dim, static_cast<int64_t>(sizes.size()));
  at::Tensor grad = at::zeros(sizes, grad_in.options());
  if (grad_in.numel() == 0) return grad;
  const int64_t windows = grad_in.size(d);
  const auto long_options = grad_in.options().dtype(at::kLong);
  const at::Tensor index =
      (at::arange(windows, long_options).mul_(step).unsqueeze(1) + at::arange(size, long_options))
          .flatten();
  // (..., windows, ..., size) -> (..., windows * size, ...), in index's order.
  const at::Tensor values = grad_in.movedim(-1, d + 1).flatten(d, d + 1);
  return grad.index_add_(d, index, values);
}

// ---- tril, triu --------------------------------------------------------------------------------

at::Tensor& triangle_out(const char* name, const at::Tensor& self, int64_t diagonal, bool upper,
                         at::Tensor& out) {
  const c10::Device device = common_device({&self, &out});
  c10::DeviceGuard guard(device);
  TORCH_CHECK(self.dim() >= 2, name, ": input tensor must have at least 2 dimensions");
  TORCH_CHECK(out.scalar_type() == self.scalar_type(), "Expected out tensor to have dtype ",
              self.scalar_type(), ", but got ", out.scalar_type(), " instead");
  at::native::resize_output(out, self.sizes());
  if (out.numel() == 0) return out;
  const hal::Triangle triangle{describe(out), describe(self), diagonal};
  upper ? launch(out, hal::Triu{triangle}) : launch(out, hal::Tril{triangle});
  return out;
}

at::Tensor& tril_out(const at::Tensor& self, int64_t diagonal, at::Tensor& out) {
  return triangle_out("tril", self, diagonal, false, out);
}
at::Tensor& triu_out(const at::Tensor& self, int64_t diagonal, at::Tensor& out) {
  return triangle_out("triu", self, diagonal, true, out);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("cat.out", cat_out);
  m.impl("flip", flip_dims);
  m.impl("roll", roll_dims);
  m.impl("unfold_backward", RealOnly<ATEN_OP(unfold_backward), unfold_backward>::call);
  m.impl("tril.out", RealOnly<ATEN_OP2(tril, out), tril_out>::call);
  m.impl("triu.out", RealOnly<ATEN_OP2(triu, out), triu_out>::call);
}

}  // namespace
}  // namespace torch_mlu::ops
