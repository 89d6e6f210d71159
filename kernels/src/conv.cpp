// PyTorch's convolutions as direct convolutions (conv_internal.h): argument checks, transposition,
// cropping of unread borders, bias, empty operands.
#include "mlu_kernels/conv.h"

#include <cstring>
#include <optional>
#include <string>
#include <type_traits>

#include "activation_math.h"
#include "conv_internal.h"
#include "float32_copy.h"
#include "mlu_kernels/copy.h"
#include "scalar_types.h"
#include "strided_loop.h"

namespace mlu::kernels {
namespace {

void check_operands(const ConvParams& p, std::initializer_list<const TensorDesc*> operands) {
  if (p.spatial_dims < 1 || p.spatial_dims > 3)
    throw KernelError("convolution: 1 to 3 spatial dims");
  if (p.groups < 1) throw KernelError("convolution: groups must be positive");
  const DType dtype = (*operands.begin())->dtype;
  for (const TensorDesc* d : operands) {
    if (d->ndim != p.spatial_dims + 2) throw KernelError("convolution: operand of wrong rank");
    if (d->dtype != dtype) throw KernelError("convolution: operand dtypes differ");
  }
  if (dtype == DType::Bool) throw KernelError("convolution: unsupported dtype bool");
}

// The spatial sub-tensor of batch n, channel c.
TensorDesc plane(const TensorDesc& d, std::int64_t n, std::int64_t c) {
  TensorDesc s;
  s.dtype = d.dtype;
  s.ndim = d.ndim - 2;
  for (int i = 0; i < s.ndim; ++i) {
    s.sizes[i] = d.sizes[i + 2];
    s.strides[i] = d.strides[i + 2];
  }
  s.data =
      static_cast<char*>(d.data) + (n * d.strides[0] + c * d.strides[1]) * element_size(d.dtype);
  return s;
}

void fill_zero(const TensorDesc& d) {
  const std::size_t size = element_size(d.dtype);
  for_each_row<1>({&d}, [&](auto ptr, auto strides, std::int64_t n) {
    if (strides[0] == static_cast<std::int64_t>(size)) {
      std::memset(ptr[0], 0, n * size);
      return;
    }
    for (std::int64_t i = 0; i < n; ++i) std::memset(ptr[0] + i * strides[0], 0, size);
  });
}

// Floating types add in float (double for double), integers in themselves.
template <typename T>
using Accumulator =
    std::conditional_t<std::is_same_v<T, double> || std::is_integral_v<T>, T, float>;

void add_bias(const TensorDesc& out, const TensorDesc& bias) {
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = Accumulator<T>;
    for (std::int64_t c = 0; c < out.sizes[1]; ++c) {
      const Acc b = convert<Acc>(static_cast<const T*>(bias.data)[c * bias.strides[0]]);
      for (std::int64_t n = 0; n < out.sizes[0]; ++n) {
        const TensorDesc p = plane(out, n, c);
        for_each_row<1>({&p}, [&](auto ptr, auto strides, std::int64_t len) {
          for (std::int64_t i = 0; i < len; ++i) {
            T& v = *reinterpret_cast<T*>(ptr[0] + i * strides[0]);
            v = convert<T>(convert<Acc>(v) + b);
          }
        });
      }
    }
  });
}

// grad_bias[c] = sum of grad_out over batch and space, accumulated in double.
void bias_gradient(const TensorDesc& grad_bias, const TensorDesc& grad_out) {
  visit_dtype(grad_out.dtype, [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t c = 0; c < grad_out.sizes[1]; ++c) {
      double sum = 0;
      for (std::int64_t n = 0; n < grad_out.sizes[0]; ++n) {
        const TensorDesc p = plane(grad_out, n, c);
        for_each_row_in_order<1>({&p}, [&](auto ptr, auto strides, std::int64_t len) {
          for (std::int64_t i = 0; i < len; ++i) {
            sum += convert<double>(*reinterpret_cast<const T*>(ptr[0] + i * strides[0]));
          }
        });
      }
      static_cast<T*>(grad_bias.data)[c * grad_bias.strides[0]] = convert<T>(sum);
    }
  });
}

struct Direct {
  DirectConv conv;
  TensorDesc x;  // possibly cropped: trailing elements no output reads
  bool cropped = false;
};

// x is the larger side (the input of a direct convolution, the output of a transposed one).
Direct direct_form(const ConvParams& p, const TensorDesc& x, const TensorDesc& w,
                   const TensorDesc& y) {
  Direct d{DirectConv{}, x};
  d.conv.spatial_dims = p.spatial_dims;
  d.conv.groups = p.groups;
  for (int i = 0; i < p.spatial_dims; ++i) {
    const int dim = i + 2;
    d.conv.stride[i] = p.stride[i];
    d.conv.dilation[i] = p.dilation[i];
    d.conv.pad_before[i] = p.padding[i];
    // Symmetric padding when y's size follows from it with floor division, as PyTorch's own
    // oneDNN calls describe it (the same problem gets the same implementation and rounding);
    // otherwise the padding that reaches exactly, cropping x where that is negative.
    const std::int64_t extent = p.dilation[i] * (w.sizes[dim] - 1) + 1;
    const std::int64_t span = x.sizes[dim] + 2 * p.padding[i] - extent;
    std::int64_t after = p.padding[i];
    if (span < 0 || span / p.stride[i] + 1 != y.sizes[dim]) {
      after = (y.sizes[dim] - 1) * p.stride[i] + extent - x.sizes[dim] - p.padding[i];
    }
    if (after < 0) {
      d.x.sizes[dim] += after;
      d.cropped = true;
      after = 0;
    }
    d.conv.pad_after[i] = after;
  }
  return d;
}

void check_shapes(const ConvParams& p, const TensorDesc& x, const TensorDesc& w,
                  const TensorDesc& y) {
  if (x.sizes[0] != y.sizes[0] || w.sizes[0] != y.sizes[1] || w.sizes[1] * p.groups != x.sizes[1] ||
      y.sizes[1] % p.groups != 0) {
    throw KernelError("convolution: operand shapes do not match");
  }
  for (int i = 0; i < p.spatial_dims; ++i) {
    if (p.stride[i] < 1 || p.dilation[i] < 1 || p.padding[i] < 0) {
      throw KernelError("convolution: invalid stride, dilation or padding");
    }
  }
}

void relu_in_place(const TensorDesc& d) {
  visit_dtype(d.dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeType<T>;
    for_each_row<1>({&d}, [&](auto ptr, auto strides, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) {
        T& v = *reinterpret_cast<T*>(ptr[0] + i * strides[0]);
        v = convert<T>(relu(convert<C>(v)));
      }
    });
  });
}

void run(ConvPass pass, const Direct& d, const TensorDesc& w, const TensorDesc& y,
         const TensorDesc* bias) {
  const DType dtype = d.x.dtype;
  if (convolution_as_gemm(d.conv, d.x, w, y)) {
    gemm_convolution(pass, d.conv, d.x, w, y, bias);
  } else if (dtype == DType::Float32 || dtype == DType::Float16 || dtype == DType::BFloat16) {
    onednn_convolution(pass, d.conv, d.x, w, y, bias);
  } else {
    reference_convolution(pass, d.conv, d.x, w, y);
    if (bias != nullptr) add_bias(y, *bias);
    if (d.conv.relu) relu_in_place(y);
  }
}

bool empty(const TensorDesc& d) { return d.numel() == 0; }

}  // namespace

void convolution_on_float32_copies(ConvImplementation* implementation, ConvPass pass,
                                   const DirectConv& conv, const TensorDesc& x, const TensorDesc& w,
                                   const TensorDesc& y, const TensorDesc* bias) {
  // Only the pass's output is written back; its copy starts uninitialised.
  const Float32Copy wx(x, pass != ConvPass::BackwardData), ww(w, pass != ConvPass::BackwardWeights),
      wy(y, pass != ConvPass::Forward);
  std::optional<Float32Copy> wide_bias;
  if (bias != nullptr) wide_bias.emplace(*bias, true);
  implementation(pass, conv, wx.desc, ww.desc, wy.desc, wide_bias ? &wide_bias->desc : nullptr);
  switch (pass) {
    case ConvPass::Forward: return copy(y, wy.desc);
    case ConvPass::BackwardData: return copy(x, wx.desc);
    case ConvPass::BackwardWeights: return copy(w, ww.desc);
  }
}

void convolution(const ConvParams& p, const TensorDesc& out, const TensorDesc& in,
                 const TensorDesc& weight, const TensorDesc* bias) {
  check_operands(p, {&out, &in, &weight});
  const TensorDesc& x = p.transposed ? out : in;
  const TensorDesc& y = p.transposed ? in : out;
  check_shapes(p, x, weight, y);
  if (p.activation != Activation::None && p.activation != Activation::Relu)
    throw KernelError("convolution: the only activation epilogue is relu");
  if (empty(out)) return;
  Direct d = direct_form(p, x, weight, y);
  const bool relu = p.activation == Activation::Relu;
  if (empty(in) || empty(weight) || empty(d.x)) {
    fill_zero(out);
  } else if (p.transposed) {
    if (d.cropped) fill_zero(out);
    run(ConvPass::BackwardData, d, weight, y, nullptr);
  } else {
    d.conv.relu = relu;
    run(ConvPass::Forward, d, weight, y, bias);
    return;
  }
  if (bias != nullptr) add_bias(out, *bias);
  if (relu) relu_in_place(out);
}

void convolution_backward(const ConvParams& p, const TensorDesc& grad_out, const TensorDesc& in,
                          const TensorDesc& weight, const TensorDesc* grad_in,
                          const TensorDesc* grad_weight, const TensorDesc* grad_bias) {
  check_operands(p, {&grad_out, &in, &weight});
  const TensorDesc& x = p.transposed ? grad_out : in;
  const TensorDesc& y = p.transposed ? in : grad_out;
  check_shapes(p, x, weight, y);
  const Direct d = direct_form(p, x, weight, y);
  const bool nothing_to_multiply = empty(x) || empty(y) || empty(weight) || empty(d.x);
  if (grad_in != nullptr && !empty(*grad_in)) {
    if (nothing_to_multiply) {
      fill_zero(*grad_in);
    } else if (p.transposed) {  // grad_in = conv(grad_out, w)
      run(ConvPass::Forward, d, weight, *grad_in, nullptr);
    } else {
      if (d.cropped) fill_zero(*grad_in);
      Direct into = d;
      into.x.data = grad_in->data;
      into.x.strides = grad_in->strides;
      run(ConvPass::BackwardData, into, weight, grad_out, nullptr);
    }
  }
  if (grad_weight != nullptr && !empty(*grad_weight)) {
    if (nothing_to_multiply) {
      fill_zero(*grad_weight);
    } else {
      run(ConvPass::BackwardWeights, d, *grad_weight, y, nullptr);
    }
  }
  if (grad_bias != nullptr && !empty(*grad_bias)) bias_gradient(*grad_bias, grad_out);
}

}  // namespace mlu::kernels
