// nn.LSTM on mlu as whole-sequence layers. torch_mlu::lstm_layer runs one layer and direction over
// a whole sequence in one kernel (schema, device and meta kernels, derivative here), and
// aten::lstm for mlu is built from it. PyTorch's own aten::lstm is a composite that launches a
// cell and two matrix products per time step and direction, each recorded by autograd.
// Configurations the layer kernel does not cover (projections, mixed dtypes outside autocast,
// empty sequences) take that composite unchanged. Under autocast a 16-bit input (from a
// convolutional front end, say) is widened once and the LSTM runs in float32: per-step casts made
// the composite slower in float16 than in float32. A 16-bit LSTM (weights, input and state of one
// 16-bit dtype) also runs the float32 layers, its operands widened once per call and its results
// rounded once, as the other 16-bit kernels compute in float32 (the composite's per-step products
// each widened the weights: 5x the float32 time on an AVX2-only CPU). In both cases the layers'
// matrix products are asked to run in the 16-bit dtype (`products`): the device does so where its
// 16-bit matrix units are faster (AMX on the software MLU), the cells and states staying float32.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/ops/lstm_native.h>
#include <c10/core/DeviceGuard.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <algorithm>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using Outputs5 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
using Grads6 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// Checks the operands as PyTorch's lstm would (for the device and the meta kernels).
void check_layer(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                 const at::Tensor& w_ih, const at::Tensor& w_hh,
                 const std::optional<at::Tensor>& b_ih, const std::optional<at::Tensor>& b_hh) {
  const auto dtype = input.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble,
              "lstm_layer: expected float32 or float64, got ", dtype);
  TORCH_CHECK(
      input.dim() == 3 && h0.dim() == 2 && c0.sizes() == h0.sizes() && h0.size(0) == input.size(1),
      "lstm_layer: expected input [steps, batch, input_size] and states [batch, hidden], got ",
      input.sizes(), ", ", h0.sizes(), " and ", c0.sizes());
  const int64_t hidden = h0.size(1);
  TORCH_CHECK(
      w_ih.dim() == 2 && w_ih.size(0) == 4 * hidden && w_ih.size(1) == input.size(2) &&
          w_hh.dim() == 2 && w_hh.size(0) == 4 * hidden && w_hh.size(1) == hidden,
      "lstm_layer: expected weights [4 * hidden, input_size] and [4 * hidden, hidden], got ",
      w_ih.sizes(), " and ", w_hh.sizes());
  for (const auto* b : {&b_ih, &b_hh}) {
    TORCH_CHECK(!*b || !(*b)->defined() || ((*b)->dim() == 1 && (*b)->size(0) == 4 * hidden),
                "lstm_layer: expected biases of shape [4 * hidden]");
  }
  for (const at::Tensor* t : {&h0, &c0, &w_ih, &w_hh}) {
    TORCH_CHECK(t->scalar_type() == dtype, "lstm_layer: every operand must be ", dtype, ", got ",
                t->scalar_type());
    TORCH_CHECK(t->is_contiguous(), "lstm_layer: operands must be contiguous");
  }
  TORCH_CHECK(input.is_contiguous(), "lstm_layer: operands must be contiguous");
}

// The dtype the layer's products may round to: a 16-bit one only for a float32 layer.
hal::DType products_dtype(std::optional<c10::ScalarType> products, c10::ScalarType dtype) {
  if (!products) return hal::DType::Float32;
  const bool valid =
      *products == at::kFloat ||
      ((*products == at::kHalf || *products == at::kBFloat16) && dtype == at::kFloat);
  TORCH_CHECK(valid,
              "lstm_layer: products must be float32, or float16 or bfloat16 for a float32 layer, "
              "got ",
              *products, " for a ", dtype, " layer");
  return kernel_dtype(*products);
}

hal::LstmLayer describe_layer(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                              const at::Tensor& w_ih, const at::Tensor& w_hh,
                              const std::optional<at::Tensor>& b_ih,
                              const std::optional<at::Tensor>& b_hh, bool reverse,
                              std::optional<c10::ScalarType> products) {
  check_layer(input, h0, c0, w_ih, w_hh, b_ih, b_hh);
  return {describe(input),
          describe(w_ih),
          describe(w_hh),
          maybe_describe(b_ih.value_or(at::Tensor())),
          maybe_describe(b_hh.value_or(at::Tensor())),
          describe(h0),
          describe(c0),
          reverse,
          products_dtype(products, input.scalar_type())};
}

Outputs5 lstm_layer(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                    const at::Tensor& w_ih, const at::Tensor& w_hh,
                    const std::optional<at::Tensor>& b_ih, const std::optional<at::Tensor>& b_hh,
                    bool reverse, std::optional<c10::ScalarType> products) {
  const c10::Device device = common_device({&input, &h0, &c0, &w_ih, &w_hh});
  c10::DeviceGuard guard(device);
  const hal::LstmLayer layer =
      describe_layer(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, products);
  const int64_t steps = input.size(0), batch = input.size(1), hidden = h0.size(1);
  at::Tensor output = at::empty({steps, batch, hidden}, input.options());
  at::Tensor hy = at::empty_like(h0), cy = at::empty_like(c0);
  at::Tensor gates = at::empty({steps, batch, 4 * hidden}, input.options());
  at::Tensor cells = at::empty_like(output);
  launch(output, hal::LstmLayerForward{layer,
                                       {describe(output), describe(hy), describe(cy),
                                        describe(gates), describe(cells)}});
  return {output, hy, cy, gates, cells};
}

Grads6 lstm_layer_backward(const std::optional<at::Tensor>& grad_output,
                           const std::optional<at::Tensor>& grad_hy,
                           const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
                           const at::Tensor& h0, const at::Tensor& c0, const at::Tensor& w_ih,
                           const at::Tensor& w_hh, bool reverse, const at::Tensor& output,
                           const at::Tensor& gates, const at::Tensor& cells,
                           std::optional<c10::ScalarType> products) {
  const c10::Device device =
      common_device({&input, &h0, &c0, &w_ih, &w_hh, &output, &gates, &cells});
  c10::DeviceGuard guard(device);
  const hal::LstmLayer layer =
      describe_layer(input, h0, c0, w_ih, w_hh, std::nullopt, std::nullopt, reverse, products);
  auto dense = [&](const std::optional<at::Tensor>& g, const at::Tensor& like) {
    if (!g || !g->defined()) return at::Tensor();
    TORCH_CHECK(g->sizes() == like.sizes(), "lstm_layer_backward: gradient of shape ", g->sizes(),
                " for an output of shape ", like.sizes());
    return g->to(like.scalar_type()).contiguous();
  };
  const at::Tensor g_out = dense(grad_output, output), g_hy = dense(grad_hy, h0),
                   g_cy = dense(grad_cy, c0);
  at::Tensor grad_input = at::empty_like(input), grad_h0 = at::empty_like(h0),
             grad_c0 = at::empty_like(c0);
  at::Tensor grad_w_ih = at::empty_like(w_ih), grad_w_hh = at::empty_like(w_hh);
  at::Tensor grad_bias = at::empty({w_ih.size(0)}, w_ih.options()),
             grad_gates = at::empty_like(gates);
  launch(grad_input, hal::LstmLayerBackward{.layer = layer,
                                            .sequence = {.output = describe(output),
                                                         .gates = describe(gates),
                                                         .cells = describe(cells)},
                                            .grads = {.grad_output = maybe_describe(g_out),
                                                      .grad_hy = maybe_describe(g_hy),
                                                      .grad_cy = maybe_describe(g_cy),
                                                      .grad_gates = describe(grad_gates),
                                                      .grad_input = describe(grad_input),
                                                      .grad_h0 = describe(grad_h0),
                                                      .grad_c0 = describe(grad_c0),
                                                      .grad_w_ih = describe(grad_w_ih),
                                                      .grad_w_hh = describe(grad_w_hh),
                                                      .grad_bias = describe(grad_bias)}});
  return {grad_input, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_bias};
}

// Shapes for fake tensors (torch.compile): what the device kernels return.
Outputs5 lstm_layer_meta(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                         const at::Tensor& w_ih, const at::Tensor& w_hh,
                         const std::optional<at::Tensor>& b_ih,
                         const std::optional<at::Tensor>& b_hh, bool /*reverse*/,
                         std::optional<c10::ScalarType> products) {
  check_layer(input, h0, c0, w_ih, w_hh, b_ih, b_hh);
  products_dtype(products, input.scalar_type());
  const int64_t steps = input.size(0), batch = input.size(1), hidden = h0.size(1);
  return {at::empty({steps, batch, hidden}, input.options()), at::empty_like(h0),
          at::empty_like(c0), at::empty({steps, batch, 4 * hidden}, input.options()),
          at::empty({steps, batch, hidden}, input.options())};
}

Grads6 lstm_layer_backward_meta(const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
                                const std::optional<at::Tensor>&, const at::Tensor& input,
                                const at::Tensor& h0, const at::Tensor& c0, const at::Tensor& w_ih,
                                const at::Tensor& w_hh, bool, const at::Tensor&, const at::Tensor&,
                                const at::Tensor&, std::optional<c10::ScalarType> products) {
  check_layer(input, h0, c0, w_ih, w_hh, std::nullopt, std::nullopt);
  products_dtype(products, input.scalar_type());
  return {at::empty_like(input), at::empty_like(h0),   at::empty_like(c0),
          at::empty_like(w_ih),  at::empty_like(w_hh), at::empty({w_ih.size(0)}, w_ih.options())};
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using LayerSignature = Outputs5(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                const at::Tensor&, const at::Tensor&,
                                const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
                                bool, std::optional<c10::ScalarType>);
using LayerBackwardSignature = Grads6(const std::optional<at::Tensor>&,
                                      const std::optional<at::Tensor>&,
                                      const std::optional<at::Tensor>&, const at::Tensor&,
                                      const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, bool, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, std::optional<c10::ScalarType>);

const c10::TypedOperatorHandle<LayerSignature>& layer_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_mlu::lstm_layer", "")
                             .typed<LayerSignature>();
  return op;
}

const c10::TypedOperatorHandle<LayerBackwardSignature>& layer_backward_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_mlu::lstm_layer_backward", "")
                             .typed<LayerBackwardSignature>();
  return op;
}

struct LstmLayer : torch::autograd::Function<LstmLayer> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& h0,
                               const at::Tensor& c0, const at::Tensor& w_ih, const at::Tensor& w_hh,
                               const std::optional<at::Tensor>& b_ih,
                               const std::optional<at::Tensor>& b_hh, bool reverse,
                               std::optional<c10::ScalarType> products) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [out, hy, cy, gates, cells] =
        layer_op().call(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, products);
    ctx->save_for_backward({input, h0, c0, w_ih, w_hh, out, gates, cells});
    ctx->saved_data["reverse"] = reverse;
    ctx->saved_data["products"] = products ? c10::IValue(*products) : c10::IValue();
    ctx->saved_data["has_ih"] = b_ih.has_value() && b_ih->defined();
    ctx->saved_data["has_hh"] = b_hh.has_value() && b_hh->defined();
    ctx->mark_non_differentiable({gates, cells});
    ctx->set_materialize_grads(false);  // unused outputs pass undefined gradients, not zeros
    return {out, hy, cy, gates, cells};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    auto optional = [](const at::Tensor& g) {
      return g.defined() ? std::optional<at::Tensor>(g) : std::nullopt;
    };
    const c10::IValue& products = ctx->saved_data["products"];
    auto [grad_input, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_bias] = layer_backward_op().call(
        optional(grads[0]), optional(grads[1]), optional(grads[2]), s[0], s[1], s[2], s[3], s[4],
        ctx->saved_data["reverse"].toBool(), s[5], s[6], s[7],
        products.isNone() ? std::nullopt : std::optional(products.toScalarType()));
    // Both biases get the same gradient; each its own tensor, as .grad accumulates in place.
    const bool has_ih = ctx->saved_data["has_ih"].toBool(),
               has_hh = ctx->saved_data["has_hh"].toBool();
    return {grad_input,
            grad_h0,
            grad_c0,
            grad_w_ih,
            grad_w_hh,
            has_ih ? grad_bias : at::Tensor(),
            has_hh ? (has_ih ? grad_bias.clone() : grad_bias) : at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

Outputs5 lstm_layer_autograd(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                             const at::Tensor& w_ih, const at::Tensor& w_hh,
                             const std::optional<at::Tensor>& b_ih,
                             const std::optional<at::Tensor>& b_hh, bool reverse,
                             std::optional<c10::ScalarType> products) {
  const variable_list out =
      LstmLayer::apply(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, products);
  return {out[0], out[1], out[2], out[3], out[4]};
}

// Under autocast the layer runs in float32 (its kernel computes in float32; see the top).
Outputs5 lstm_layer_autocast(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                             const at::Tensor& w_ih, const at::Tensor& w_hh,
                             const std::optional<at::Tensor>& b_ih,
                             const std::optional<at::Tensor>& b_hh, bool reverse,
                             std::optional<c10::ScalarType> products) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastPrivateUse1);
  auto wide = [](const auto& t) { return at::autocast::cached_cast(at::kFloat, t, kMLU); };
  return layer_op().call(wide(input), wide(h0), wide(c0), wide(w_ih), wide(w_hh), wide(b_ih),
                         wide(b_hh), reverse, products);
}

bool is_16_bit(c10::ScalarType dtype) { return dtype == at::kHalf || dtype == at::kBFloat16; }

// The dtype the layer kernel runs in, or nothing when it does not apply.
std::optional<c10::ScalarType> layer_dtype(const at::Tensor& input, at::TensorList hx,
                                           at::TensorList params) {
  const c10::ScalarType dtype = params[0].scalar_type();
  if (dtype != at::kFloat && dtype != at::kDouble && !is_16_bit(dtype)) return std::nullopt;
  for (const at::Tensor& t : params) {
    if (t.scalar_type() != dtype || t.device().type() != kMLU) return std::nullopt;
  }
  if (is_16_bit(dtype)) {
    const bool same =
        input.scalar_type() == dtype && std::ranges::all_of(hx, [&](const at::Tensor& t) {
          return t.scalar_type() == dtype && t.device().type() == kMLU;
        });
    return same ? std::optional(at::kFloat) : std::nullopt;
  }
  // Under autocast a 16-bit input (and the zero state nn.LSTM makes in its dtype) is widened.
  const bool widen = at::autocast::is_autocast_enabled(kMLU) && dtype == at::kFloat &&
                     is_16_bit(input.scalar_type());
  auto allowed = [&](const at::Tensor& t) {
    return t.scalar_type() == dtype || (widen && t.scalar_type() == input.scalar_type());
  };
  if (!allowed(input)) return std::nullopt;
  for (const at::Tensor& t : hx) {
    if (!allowed(t) || t.device().type() != kMLU) return std::nullopt;
  }
  return dtype;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm(const at::Tensor& input, at::TensorList hx,
                                                    at::TensorList params, bool has_biases,
                                                    int64_t num_layers, double dropout, bool train,
                                                    bool bidirectional, bool batch_first) {
  const int64_t directions = bidirectional ? 2 : 1, per_layer = has_biases ? 4 : 2;
  std::optional<c10::ScalarType> dtype;  // what the layers compute in
  if (input.dim() == 3 && input.device().type() == kMLU && input.numel() > 0 && hx.size() == 2 &&
      static_cast<int64_t>(params.size()) == num_layers * directions * per_layer) {
    dtype = layer_dtype(input, hx, params);  // projections add weights: not covered
  }
  if (!dtype) {
    return at::native::lstm(input, hx, params, has_biases, num_layers, dropout, train,
                            bidirectional, batch_first);
  }
  // Products in 16 bits where autocast or the parameters ask for them (see the top).
  std::optional<c10::ScalarType> products;
  if (is_16_bit(params[0].scalar_type())) {
    products = params[0].scalar_type();
  } else if (*dtype == at::kFloat && at::autocast::is_autocast_enabled(kMLU) &&
             is_16_bit(at::autocast::get_autocast_dtype(kMLU))) {
    products = at::autocast::get_autocast_dtype(kMLU);
  }
  at::Tensor x = (batch_first ? input.transpose(0, 1) : input).to(*dtype).contiguous();
  const at::Tensor h0 = hx[0].to(*dtype), c0 = hx[1].to(*dtype);
  std::vector<at::Tensor> hy, cy;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    std::vector<at::Tensor> outputs;
    for (int64_t direction = 0; direction < directions; ++direction) {
      const int64_t index = layer * directions + direction;
      const at::Tensor* w = &params[index * per_layer];
      auto wide = [&](const at::Tensor& t) { return t.to(*dtype).contiguous(); };
      std::optional<at::Tensor> b_ih, b_hh;
      if (has_biases) b_ih = wide(w[2]), b_hh = wide(w[3]);
      auto [out, h, c, gates, cells] =
          lstm_layer_autograd(x, h0[index].contiguous(), c0[index].contiguous(), wide(w[0]),
                              wide(w[1]), b_ih, b_hh, direction == 1, products);
      outputs.push_back(out);
      hy.push_back(h);
      cy.push_back(c);
    }
    x = directions == 1 ? outputs[0] : at::cat(outputs, 2);
    if (dropout > 0 && train && layer < num_layers - 1) x = at::dropout(x, dropout, true);
  }
  const c10::ScalarType result = input.scalar_type() == *dtype ? *dtype : params[0].scalar_type();
  if (batch_first) x = x.transpose(0, 1);
  return {x.to(result), at::stack(hy).to(result), at::stack(cy).to(result)};
}

TORCH_LIBRARY(torch_mlu, m) {
  m.def(
      "lstm_layer(Tensor input, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, "
      "Tensor? b_hh, bool reverse, ScalarType? products=None) -> (Tensor output, Tensor hy, "
      "Tensor cy, Tensor gates, Tensor cells)");
  m.def(
      "lstm_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor? grad_cy, Tensor input, "
      "Tensor h0, "
      "Tensor c0, Tensor w_ih, Tensor w_hh, bool reverse, Tensor output, Tensor gates, Tensor "
      "cells, ScalarType? products=None) -> "
      "(Tensor grad_input, Tensor grad_h0, Tensor grad_c0, Tensor grad_w_ih, Tensor grad_w_hh, "
      "Tensor grad_bias)");
}

TORCH_LIBRARY_IMPL(torch_mlu, PrivateUse1, m) {
  m.impl("lstm_layer", lstm_layer);
  m.impl("lstm_layer_backward", lstm_layer_backward);
}

TORCH_LIBRARY_IMPL(torch_mlu, Meta, m) {
  m.impl("lstm_layer", lstm_layer_meta);
  m.impl("lstm_layer_backward", lstm_layer_backward_meta);
}

// lstm_layer_backward has no derivative (no double backward): a clear error if one is asked for.
TORCH_LIBRARY_IMPL(torch_mlu, AutogradPrivateUse1, m) {
  m.impl("lstm_layer", lstm_layer_autograd);
  m.impl("lstm_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

TORCH_LIBRARY_IMPL(torch_mlu, AutocastPrivateUse1, m) {
  m.impl("lstm_layer", lstm_layer_autocast);
  m.impl("lstm_layer_backward", torch::CppFunction::makeFallthrough());
}

// The backend key too: in inference mode the autograd key is skipped.
TORCH_LIBRARY_IMPL(aten, AutogradPrivateUse1, m) { m.impl("lstm.input", lstm); }
TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) { m.impl("lstm.input", lstm); }

}  // namespace
}  // namespace torch_mlu::ops
