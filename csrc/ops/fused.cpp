// The fused operators torch.compile places (torch_mlu/_compile.py), whole: schemas, device and
// meta (fake tensor) kernels, derivatives and autocast rule. The device kernels' bodies: linear_act
// in linear_algebra.cpp (a GEMM whose epilogue adds the bias and applies the activation),
// conv_relu in conv.cpp (a convolution with oneDNN's relu post-op). The derivatives are C++
// autograd functions: the same functions in Python made a small fused layer five times slower
// than the unfused pair.
#include "fused.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <optional>
#include <string>
#include <tuple>

namespace torch_mlu::ops {

using mlu::hal::Activation;

const NamedActivation kActivations[5] = {{"none", Activation::None, false},
                                         {"relu", Activation::Relu, false},
                                         {"gelu", Activation::Gelu, true},
                                         {"gelu_tanh", Activation::GeluTanh, true},
                                         {"silu", Activation::Silu, true}};

const NamedActivation& activation_named(c10::string_view name) {
  for (const NamedActivation& a : kActivations) {
    if (name == a.name) return a;
  }
  TORCH_CHECK_VALUE(false, "linear_act: unknown activation '", name,
                    "' (expected none, relu, gelu, gelu_tanh or silu)");
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr auto kDevice = c10::DeviceType::PrivateUse1;

using LinearActSignature = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                              const std::optional<at::Tensor>&,
                                                              c10::string_view, bool);
using ConvReluSignature = at::Tensor(const at::Tensor&, const at::Tensor&,
                                     const std::optional<at::Tensor>&, c10::IntArrayRef,
                                     c10::IntArrayRef, c10::IntArrayRef, int64_t);

const c10::TypedOperatorHandle<LinearActSignature>& linear_act_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_mlu::linear_act", "")
                             .typed<LinearActSignature>();
  return op;
}

const c10::TypedOperatorHandle<ConvReluSignature>& conv_relu_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_mlu::conv_relu", "")
                             .typed<ConvReluSignature>();
  return op;
}

bool has_tensor(const std::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

bool any_requires_grad(const at::Tensor& a, const at::Tensor& b,
                       const std::optional<at::Tensor>& c) {
  return at::GradMode::is_enabled() &&
         (a.requires_grad() || b.requires_grad() || (has_tensor(c) && c->requires_grad()));
}

// The gradient before the activation from the gradient after it.
at::Tensor activation_gradient(Activation activation, const at::Tensor& grad, const at::Tensor& out,
                               const at::Tensor& pre) {
  switch (activation) {
    case Activation::None: return grad;
    case Activation::Relu: return at::threshold_backward(grad, out, 0);
    case Activation::Gelu: return at::gelu_backward(grad, pre);
    case Activation::GeluTanh: return at::gelu_backward(grad, pre, "tanh");
    case Activation::Silu: return at::silu_backward(grad, pre);
  }
  return grad;
}

struct LinearAct : torch::autograd::Function<LinearAct> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                               c10::string_view activation, bool keep_pre_activation) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [out, pre] = linear_act_op().call(input, weight, bias, activation, keep_pre_activation);
    ctx->save_for_backward({input, weight, out, pre});
    ctx->saved_data["activation"] = static_cast<int64_t>(activation_named(activation).activation);
    ctx->saved_data["has_bias"] = has_tensor(bias);
    ctx->set_materialize_grads(false);
    return {out, pre};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &input = saved[0], &weight = saved[1];
    at::Tensor grad;
    if (grads[0].defined()) {
      const auto activation = static_cast<Activation>(ctx->saved_data["activation"].toInt());
      grad = activation_gradient(activation, grads[0], saved[2], saved[3]);
    }
    if (grads[1].defined() && grads[1].numel() > 0) {
      grad = grad.defined() ? grad + grads[1] : grads[1];
    }
    at::Tensor grad_input, grad_weight, grad_bias;
    if (grad.defined()) {
      const at::Tensor rows = grad.reshape({-1, weight.size(0)});
      if (ctx->needs_input_grad(0)) grad_input = rows.mm(weight).reshape(input.sizes());
      if (ctx->needs_input_grad(1)) grad_weight = rows.t().mm(input.reshape({-1, weight.size(1)}));
      if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) {
        grad_bias = rows.sum(0);
      }
    }
    return {grad_input, grad_weight, grad_bias, at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> linear_act_autograd(const at::Tensor& input,
                                                       const at::Tensor& weight,
                                                       const std::optional<at::Tensor>& bias,
                                                       c10::string_view activation,
                                                       bool keep_pre_activation) {
  const bool keep =
      keep_pre_activation || (activation_named(activation).gradient_needs_pre_activation &&
                              any_requires_grad(input, weight, bias));
  const variable_list outputs = LinearAct::apply(input, weight, bias, activation, keep);
  return {outputs[0], outputs[1]};
}

struct ConvRelu : torch::autograd::Function<ConvRelu> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                            c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    at::Tensor out = conv_relu_op().call(input, weight, bias, stride, padding, dilation, groups);
    ctx->save_for_backward({input, weight, out});
    ctx->saved_data["stride"] = stride.vec();
    ctx->saved_data["padding"] = padding.vec();
    ctx->saved_data["dilation"] = dilation.vec();
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["has_bias"] = has_tensor(bias);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &input = saved[0], &weight = saved[1], &out = saved[2];
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const std::vector<int64_t> stride = ctx->saved_data["stride"].toIntVector(),
                               padding = ctx->saved_data["padding"].toIntVector(),
                               dilation = ctx->saved_data["dilation"].toIntVector();
    const std::vector<int64_t> no_output_padding(weight.dim() - 2, 0);
    const std::vector<int64_t> bias_sizes{weight.size(0)};
    auto [grad_input, grad_weight, grad_bias] = at::convolution_backward(
        at::threshold_backward(grads[0], out, 0), input, weight,
        has_bias ? at::OptionalIntArrayRef(bias_sizes) : std::nullopt, stride, padding, dilation,
        false, no_output_padding, ctx->saved_data["groups"].toInt(),
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1), has_bias && ctx->needs_input_grad(2)});
    return {grad_input,   grad_weight,  grad_bias,   at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor conv_relu_autograd(const at::Tensor& input, const at::Tensor& weight,
                              const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                              c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  return ConvRelu::apply(input, weight, bias, stride, padding, dilation, groups);
}

// Shapes for fake tensors (torch.compile): what the device kernels return.
std::tuple<at::Tensor, at::Tensor> linear_act_meta(const at::Tensor& input,
                                                   const at::Tensor& weight,
                                                   const std::optional<at::Tensor>& /*bias*/,
                                                   c10::string_view activation,
                                                   bool keep_pre_activation) {
  activation_named(activation);
  TORCH_CHECK(input.dim() >= 1 && weight.dim() == 2 && input.size(-1) == weight.size(1),
              "linear_act: input of shape ", input.sizes(), " and weight of shape ", weight.sizes(),
              " cannot be multiplied");
  std::vector<int64_t> shape = input.sizes().vec();
  shape.back() = weight.size(0);
  at::Tensor out = at::empty(shape, input.options());
  return {out, keep_pre_activation ? at::empty(shape, input.options())
                                   : at::empty({0, weight.size(0)}, input.options())};
}

at::Tensor conv_relu_meta(const at::Tensor& input, const at::Tensor& weight,
                          const std::optional<at::Tensor>& /*bias*/, c10::IntArrayRef stride,
                          c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  return empty_conv_output(input, weight, stride, padding, dilation, groups);
}

// Under autocast both run in the lower-precision type, as linear and conv*d do.
std::optional<at::Tensor> lower_precision(const std::optional<at::Tensor>& t) {
  return at::autocast::cached_cast(at::autocast::get_autocast_dtype(kDevice), t, kDevice);
}

std::tuple<at::Tensor, at::Tensor> linear_act_autocast(const at::Tensor& input,
                                                       const at::Tensor& weight,
                                                       const std::optional<at::Tensor>& bias,
                                                       c10::string_view activation,
                                                       bool keep_pre_activation) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastPrivateUse1);
  return linear_act_op().call(*lower_precision(input), *lower_precision(weight),
                              lower_precision(bias), activation, keep_pre_activation);
}

at::Tensor conv_relu_autocast(const at::Tensor& input, const at::Tensor& weight,
                              const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                              c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastPrivateUse1);
  return conv_relu_op().call(*lower_precision(input), *lower_precision(weight),
                             lower_precision(bias), stride, padding, dilation, groups);
}

TORCH_LIBRARY_FRAGMENT(torch_mlu, m) {
  // activation(input @ weight.T + bias), activation one of none, relu, gelu, gelu_tanh, silu;
  // the second result is the value before the activation when keep_pre_activation is set or a
  // gradient will need it (gelu, silu), otherwise an empty tensor.
  m.def(
      "linear_act(Tensor input, Tensor weight, Tensor? bias, str activation, "
      "bool keep_pre_activation=False) -> (Tensor, Tensor)");
  // relu(conv(input, weight) + bias), 1-3 spatial dims.
  m.def(
      "conv_relu(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, "
      "int[] dilation, int groups) -> Tensor");
}

TORCH_LIBRARY_IMPL(torch_mlu, PrivateUse1, m) {
  m.impl("linear_act", linear_act_on_device);
  m.impl("conv_relu", conv_relu_on_device);
}

TORCH_LIBRARY_IMPL(torch_mlu, Meta, m) {
  m.impl("linear_act", linear_act_meta);
  m.impl("conv_relu", conv_relu_meta);
}

TORCH_LIBRARY_IMPL(torch_mlu, AutogradPrivateUse1, m) {
  m.impl("linear_act", linear_act_autograd);
  m.impl("conv_relu", conv_relu_autograd);
}

TORCH_LIBRARY_IMPL(torch_mlu, AutocastPrivateUse1, m) {
  m.impl("linear_act", linear_act_autocast);
  m.impl("conv_relu", conv_relu_autocast);
}

}  // namespace
}  // namespace torch_mlu::ops
