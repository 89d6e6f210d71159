// Native normalisations: batch norm (native_batch_norm and the _native_batch_norm_legit /
// _batch_norm_with_update family that export and compile use), layer norm and group norm, with
// their gradients; computed by the device's normalisation operations (mlu/ops/norm.h).
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <limits>
#include <optional>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using OptTensor = std::optional<at::Tensor>;
using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

at::Tensor value_or_undefined(const OptTensor& t) { return t.has_value() ? *t : at::Tensor(); }

// The dtype of statistics and parameter gradients: float32 when a 16-bit input comes with float32
// parameters (PyTorch's mixed-type normalisation), otherwise the input's.
c10::ScalarType param_type(const at::Tensor& input,
                           std::initializer_list<const at::Tensor*> params) {
  if (!c10::isReducedFloatingType(input.scalar_type())) return input.scalar_type();
  for (const at::Tensor* p : params) {
    if (p->defined() && p->scalar_type() == at::kFloat) return at::kFloat;
  }
  return input.scalar_type();
}

void check_floating(const at::Tensor& input, const char* op) {
  TORCH_CHECK_NOT_IMPLEMENTED(at::isFloatingType(input.scalar_type()), "\"", op,
                              "\" not implemented for '", input.scalar_type(), "'");
}

// ---- batch norm ------------------------------------------------------------------------------

// The input as the kernel reads it: spatial dims that flatten into one stride.
at::Tensor batch_norm_layout(const at::Tensor& t) {
  if (t.dim() <= 3 || t.is_contiguous()) return t;
  const auto last =
      t.dim() == 5 ? c10::MemoryFormat::ChannelsLast3d : c10::MemoryFormat::ChannelsLast;
  return t.is_contiguous(last) ? t : t.contiguous();
}

// [N, C, S] view of a tensor in batch_norm_layout: S steps by the innermost spatial dim that has
// more than one element (the strides of size-1 dims are arbitrary).
hal::TensorDesc channel_view(const at::Tensor& t) {
  hal::TensorDesc d = describe(t);
  d.ndim = 3;
  d.sizes[2] = c10::multiply_integers(t.sizes().slice(2));
  d.strides[2] = 1;
  for (int64_t i = t.dim() - 1; i >= 2; --i) {
    if (t.size(i) > 1) {
      d.strides[2] = t.stride(i);
      break;
    }
  }
  return d;
}

std::optional<hal::TensorDesc> vector_desc(const at::Tensor& t, int64_t channels,
                                           const char* name) {
  if (!t.defined()) return std::nullopt;
  TORCH_CHECK(t.numel() == channels, name, " should contain ", channels, " elements not ",
              t.numel());
  TORCH_CHECK(t.dim() == 1, name, " should be 1-dimensional, got shape ", t.sizes());
  return describe(t);
}

at::Tensor empty_like_layout(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() ? at::empty_like(t) : at::empty(t.sizes(), t.options());
}

Grads batch_norm_forward(const at::Tensor& input, const OptTensor& weight_opt,
                         const OptTensor& bias_opt, const at::Tensor& running_mean,
                         const at::Tensor& running_var, bool training, double momentum,
                         double eps) {
  const at::Tensor weight = value_or_undefined(weight_opt), bias = value_or_undefined(bias_opt);
  const c10::Device device = common_device({&input, &weight, &bias, &running_mean, &running_var});
  c10::DeviceGuard guard(device);
  check_floating(input, "batch_norm");
  TORCH_CHECK(input.dim() >= 2, "batch_norm: expected an input with at least 2 dims, got ",
              input.sizes());
  TORCH_CHECK(!training || input.numel() > 0,
              "input tensor must have at least one element, but got input_sizes = ", input.sizes());
  TORCH_CHECK(training || (running_mean.defined() && running_var.defined()),
              "running_mean and running_var must be defined in evaluation mode");
  const int64_t channels = input.size(1);
  hal::BatchNormVectors v;
  v.weight = vector_desc(weight, channels, "weight");
  v.bias = vector_desc(bias, channels, "bias");
  v.running_mean = vector_desc(running_mean, channels, "running_mean");
  v.running_var = vector_desc(running_var, channels, "running_var");
  const auto stats_options =
      input.options().dtype(param_type(input, {&weight, &bias, &running_mean, &running_var}));
  const at::Tensor x = batch_norm_layout(input);
  at::Tensor out = empty_like_layout(x);
  at::Tensor save_mean = at::empty({training ? channels : 0}, stats_options);
  at::Tensor save_invstd = at::empty({training ? channels : 0}, stats_options);
  if (training) {
    v.save_mean = describe(save_mean);
    v.save_invstd = describe(save_invstd);
  }
  if (input.numel() == 0) return {out, save_mean, save_invstd};
  launch(out, hal::BatchNorm{channel_view(out), channel_view(x), v, training, momentum, eps});
  return {out, save_mean, save_invstd};
}

Grads native_batch_norm(const at::Tensor& input, const OptTensor& weight, const OptTensor& bias,
                        const OptTensor& running_mean, const OptTensor& running_var, bool training,
                        double momentum, double eps) {
  return batch_norm_forward(input, weight, bias, value_or_undefined(running_mean),
                            value_or_undefined(running_var), training, momentum, eps);
}

Grads batch_norm_legit(const at::Tensor& input, const OptTensor& weight, const OptTensor& bias,
                       at::Tensor& running_mean, at::Tensor& running_var, bool training,
                       double momentum, double eps) {
  return batch_norm_forward(input, weight, bias, running_mean, running_var, training, momentum,
                            eps);
}

Grads batch_norm_legit_no_stats(const at::Tensor& input, const OptTensor& weight,
                                const OptTensor& bias, bool training, double momentum, double eps) {
  return batch_norm_forward(input, weight, bias, at::Tensor(), at::Tensor(), training, momentum,
                            eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> batch_norm_with_update(
    const at::Tensor& input, const OptTensor& weight, const OptTensor& bias,
    at::Tensor& running_mean, at::Tensor& running_var, double momentum, double eps) {
  auto [out, mean, invstd] =
      batch_norm_forward(input, weight, bias, running_mean, running_var, true, momentum, eps);
  return {out, mean, invstd, at::empty({0}, input.options().dtype(at::kByte))};  // no reserve space
}

Grads batch_norm_gradients(const at::Tensor& grad_out, const at::Tensor& input,
                           const OptTensor& weight_opt, const OptTensor& running_mean_opt,
                           const OptTensor& running_var_opt, const OptTensor& save_mean_opt,
                           const OptTensor& save_invstd_opt, bool training, double eps,
                           std::array<bool, 3> output_mask) {
  const at::Tensor weight = value_or_undefined(weight_opt),
                   running_mean = value_or_undefined(running_mean_opt),
                   running_var = value_or_undefined(running_var_opt),
                   save_mean = value_or_undefined(save_mean_opt),
                   save_invstd = value_or_undefined(save_invstd_opt);
  const c10::Device device = common_device(
      {&grad_out, &input, &weight, &running_mean, &running_var, &save_mean, &save_invstd});
  c10::DeviceGuard guard(device);
  check_floating(input, "batch_norm_backward");
  TORCH_CHECK(input.dim() >= 2, "batch_norm_backward: expected an input with at least 2 dims, got ",
              input.sizes());
  TORCH_CHECK(grad_out.sizes() == input.sizes(), "batch_norm_backward: grad_out of size ",
              grad_out.sizes(), " does not match input of size ", input.sizes());
  TORCH_CHECK(training ? save_mean.defined() && save_invstd.defined()
                       : running_mean.defined() && running_var.defined(),
              "batch_norm_backward: ",
              training ? "save_mean and save_invstd" : "running_mean and running_var",
              " must be defined");
  const int64_t channels = input.size(1);
  hal::BatchNormVectors v;
  v.weight = vector_desc(weight, channels, "weight");
  if (training) {
    v.save_mean = vector_desc(save_mean, channels, "save_mean");
    v.save_invstd = vector_desc(save_invstd, channels, "save_invstd");
  } else {
    v.running_mean = vector_desc(running_mean, channels, "running_mean");
    v.running_var = vector_desc(running_var, channels, "running_var");
  }
  const auto param_options = input.options().dtype(
      weight.defined() ? weight.scalar_type() : param_type(input, {&running_mean, &save_mean}));
  const at::Tensor x = batch_norm_layout(input),
                   dy = batch_norm_layout(grad_out.to(input.scalar_type()));
  at::Tensor grad_input, grad_weight, grad_bias;
  if (output_mask[0]) grad_input = empty_like_layout(x);
  if (output_mask[1]) grad_weight = at::empty({channels}, param_options);
  if (output_mask[2]) grad_bias = at::empty({channels}, param_options);
  if (input.numel() == 0) {
    if (grad_weight.defined()) grad_weight.zero_();
    if (grad_bias.defined()) grad_bias.zero_();
    return {grad_input, grad_weight, grad_bias};
  }
  hal::BatchNormBackward backward{.grad_out = channel_view(dy),
                                  .in = channel_view(x),
                                  .vectors = v,
                                  .training = training,
                                  .eps = eps};
  if (grad_input.defined()) backward.grad_in = channel_view(grad_input);
  if (grad_weight.defined()) backward.grad_weight = describe(grad_weight);
  if (grad_bias.defined()) backward.grad_bias = describe(grad_bias);
  launch(x, backward);
  return {grad_input, grad_weight, grad_bias};
}

Grads batch_norm_backward_with_reserve(const at::Tensor& grad_out, const at::Tensor& input,
                                       const at::Tensor& weight, const OptTensor& running_mean,
                                       const OptTensor& running_var, const OptTensor& save_mean,
                                       const OptTensor& save_var, bool update, double eps,
                                       std::array<bool, 3> output_mask,
                                       const at::Tensor& /*reserve*/) {
  return batch_norm_gradients(grad_out, input, weight, running_mean, running_var, save_mean,
                              save_var, update, eps, output_mask);
}

// ---- layer norm and group norm ---------------------------------------------------------------

// A parameter as the flat vector the kernels read.
std::optional<hal::TensorDesc> flat_desc(const at::Tensor& t) {
  if (!t.defined()) return std::nullopt;
  return describe(t.contiguous().view(-1));
}

// Statistics of rows with nothing to average are NaN, as on the CPU.
bool nothing_to_normalise(const hal::RowNorm& n, at::Tensor& mean, at::Tensor& rstd) {
  if (n.rows > 0 && n.row_size > 0) return false;
  mean.fill_(std::numeric_limits<double>::quiet_NaN());
  rstd.fill_(std::numeric_limits<double>::quiet_NaN());
  return true;
}

Grads native_layer_norm(const at::Tensor& input, c10::IntArrayRef normalized_shape,
                        const OptTensor& weight_opt, const OptTensor& bias_opt, double eps) {
  const at::Tensor weight = value_or_undefined(weight_opt), bias = value_or_undefined(bias_opt);
  const c10::Device device = common_device({&input, &weight, &bias});
  c10::DeviceGuard guard(device);
  check_floating(input, "layer_norm");
  const int64_t normalized_dims = static_cast<int64_t>(normalized_shape.size());
  TORCH_CHECK(normalized_dims >= 1,
              "Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
              "least one element, but got normalized_shape = ",
              normalized_shape);
  TORCH_CHECK(!weight.defined() || weight.sizes() == normalized_shape,
              "Expected weight to be of same shape as "
              "normalized_shape, but got weight of shape ",
              weight.sizes(), " and normalized_shape = ", normalized_shape);
  TORCH_CHECK(!bias.defined() || bias.sizes() == normalized_shape,
              "Expected bias to be of same shape as "
              "normalized_shape, but got bias of shape ",
              bias.sizes(), " and normalized_shape = ", normalized_shape);
  const int64_t axis = input.dim() - normalized_dims;
  TORCH_CHECK(axis >= 0 && input.sizes().slice(axis) == normalized_shape,
              "Given normalized_shape=", normalized_shape, ", expected input with shape [*, ",
              c10::Join(", ", normalized_shape), "], but got input of size", input.sizes());
  hal::RowNorm n;
  n.row_size = c10::multiply_integers(normalized_shape);
  n.rows = c10::multiply_integers(input.sizes().slice(0, axis));
  n.channels = n.row_size;
  n.weight = flat_desc(weight);
  n.bias = flat_desc(bias);
  std::vector<int64_t> stats_shape(input.sizes().begin(), input.sizes().begin() + axis);
  stats_shape.resize(input.dim(), 1);
  const auto stats_options = input.options().dtype(param_type(input, {&weight, &bias}));
  at::Tensor mean = at::empty(stats_shape, stats_options),
             rstd = at::empty(stats_shape, stats_options);
  const at::Tensor x = input.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options());
  if (nothing_to_normalise(n, mean, rstd)) return {out, mean, rstd};
  launch(out, hal::LayerNorm{n, describe(out), describe(x), describe(mean.view(-1)),
                             describe(rstd.view(-1)), eps});
  return {out, mean, rstd};
}

// Gradients of a row normalisation; weight_like gives the parameter gradients' shape and dtype.
Grads row_norm_backward(const hal::RowNorm& n, const at::Tensor& grad_out, const at::Tensor& input,
                        const at::Tensor& mean, const at::Tensor& rstd,
                        const at::Tensor& weight_like, std::array<bool, 3> output_mask) {
  at::Tensor grad_input, grad_weight, grad_bias;
  if (output_mask[0]) grad_input = at::empty(input.sizes(), input.options());
  if (output_mask[1] && weight_like.defined())
    grad_weight = at::empty(weight_like.sizes(), weight_like.options());
  if (output_mask[2] && weight_like.defined())
    grad_bias = at::empty(weight_like.sizes(), weight_like.options());
  if (n.rows == 0 || n.row_size == 0) {
    for (at::Tensor* t : {&grad_input, &grad_weight, &grad_bias}) {
      if (t->defined()) t->zero_();
    }
    return {grad_input, grad_weight, grad_bias};
  }
  const at::Tensor dy = grad_out.to(input.scalar_type()).contiguous(), x = input.contiguous(),
                   m = mean.contiguous().view(-1), r = rstd.contiguous().view(-1);
  hal::RowNormBackward backward{.norm = n,
                                .grad_out = describe(dy),
                                .in = describe(x),
                                .mean = describe(m),
                                .rstd = describe(r)};
  if (grad_input.defined()) backward.grad_in = describe(grad_input);
  if (grad_weight.defined()) backward.grad_weight = describe(grad_weight.view(-1));
  if (grad_bias.defined()) backward.grad_bias = describe(grad_bias.view(-1));
  launch(x, backward);
  return {grad_input, grad_weight, grad_bias};
}

Grads native_layer_norm_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                 c10::IntArrayRef normalized_shape, const at::Tensor& mean,
                                 const at::Tensor& rstd, const OptTensor& weight_opt,
                                 const OptTensor& bias_opt, std::array<bool, 3> output_mask) {
  const at::Tensor weight = value_or_undefined(weight_opt), bias = value_or_undefined(bias_opt);
  const c10::Device device = common_device({&grad_out, &input, &mean, &rstd, &weight, &bias});
  c10::DeviceGuard guard(device);
  check_floating(input, "layer_norm_backward");
  const int64_t axis = input.dim() - static_cast<int64_t>(normalized_shape.size());
  TORCH_CHECK(axis >= 0 && input.sizes().slice(axis) == normalized_shape &&
                  grad_out.sizes() == input.sizes(),
              "layer_norm_backward: input of size ", input.sizes(), " and grad_out of size ",
              grad_out.sizes(), " do not match normalized_shape ", normalized_shape);
  hal::RowNorm n;
  n.row_size = c10::multiply_integers(normalized_shape);
  n.rows = c10::multiply_integers(input.sizes().slice(0, axis));
  n.channels = n.row_size;
  TORCH_CHECK(mean.numel() == n.rows && rstd.numel() == n.rows,
              "layer_norm_backward: expected mean and rstd with ", n.rows, " elements");
  n.weight = flat_desc(weight);
  const at::Tensor& like = weight.defined() ? weight : bias;
  return row_norm_backward(n, grad_out, input, mean, rstd, like, output_mask);
}

hal::RowNorm group_rows(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                        int64_t batch, int64_t channels, int64_t spatial, int64_t groups) {
  TORCH_CHECK(groups > 0 && channels % groups == 0,
              "Expected number of channels in input to be divisible by "
              "num_groups, but got input of shape ",
              input.sizes(), " and num_groups=", groups);
  TORCH_CHECK(input.numel() == batch * channels * spatial, "Expected the input of shape ",
              input.sizes(), " to have N * C * HxW = ", batch * channels * spatial, " elements");
  for (const at::Tensor* p : {&weight, &bias}) {
    TORCH_CHECK(!p->defined() || (p->dim() == 1 && p->numel() == channels), "Expected ",
                p == &weight ? "weight" : "bias",
                " to be a vector of size equal to the number of channels in "
                "input, but got ",
                p == &weight ? "weight" : "bias", " of shape ", p->sizes(), " and input of shape ",
                input.sizes());
  }
  hal::RowNorm n;
  n.rows = batch * groups;
  n.row_size = channels / groups * spatial;
  n.inner = std::max<int64_t>(spatial, 1);
  n.channels = channels;
  n.weight = flat_desc(weight);
  n.bias = flat_desc(bias);
  return n;
}

Grads native_group_norm(const at::Tensor& input, const OptTensor& weight_opt,
                        const OptTensor& bias_opt, int64_t batch, int64_t channels, int64_t spatial,
                        int64_t groups, double eps) {
  const at::Tensor weight = value_or_undefined(weight_opt), bias = value_or_undefined(bias_opt);
  const c10::Device device = common_device({&input, &weight, &bias});
  c10::DeviceGuard guard(device);
  check_floating(input, "group_norm");
  const hal::RowNorm n = group_rows(input, weight, bias, batch, channels, spatial, groups);
  const auto stats_options = input.options().dtype(param_type(input, {&weight, &bias}));
  at::Tensor mean = at::empty({batch, groups}, stats_options),
             rstd = at::empty({batch, groups}, stats_options);
  const at::Tensor x = input.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options());
  if (nothing_to_normalise(n, mean, rstd)) return {out, mean, rstd};
  launch(out, hal::GroupNorm{n, describe(out), describe(x), describe(mean.view(-1)),
                             describe(rstd.view(-1)), eps});
  return {out, mean, rstd};
}

Grads native_group_norm_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                 const at::Tensor& mean, const at::Tensor& rstd,
                                 const OptTensor& weight_opt, int64_t batch, int64_t channels,
                                 int64_t spatial, int64_t groups, std::array<bool, 3> output_mask) {
  const at::Tensor weight = value_or_undefined(weight_opt);
  const c10::Device device = common_device({&grad_out, &input, &mean, &rstd, &weight});
  c10::DeviceGuard guard(device);
  check_floating(input, "group_norm_backward");
  TORCH_CHECK(grad_out.sizes() == input.sizes(), "group_norm_backward: grad_out of size ",
              grad_out.sizes(), " does not match input of size ", input.sizes());
  const hal::RowNorm n = group_rows(input, weight, at::Tensor(), batch, channels, spatial, groups);
  TORCH_CHECK(mean.numel() == n.rows && rstd.numel() == n.rows,
              "group_norm_backward: expected mean and rstd with ", n.rows, " elements");
  // Parameter gradients exist for any requested mask, shaped [C] like a weight.
  const at::Tensor like = weight.defined() ? weight : at::empty({channels}, mean.options());
  return row_norm_backward(n, grad_out, input, mean, rstd, like, output_mask);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("native_batch_norm", native_batch_norm);
  m.impl("_native_batch_norm_legit", batch_norm_legit);
  m.impl("_native_batch_norm_legit.no_stats", batch_norm_legit_no_stats);
  m.impl("_batch_norm_with_update", batch_norm_with_update);
  m.impl("native_batch_norm_backward", batch_norm_gradients);
  m.impl("batch_norm_backward", batch_norm_backward_with_reserve);
  m.impl("native_layer_norm", native_layer_norm);
  m.impl("native_layer_norm_backward", native_layer_norm_backward);
  m.impl("native_group_norm", native_group_norm);
  m.impl("native_group_norm_backward", native_group_norm_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
