// torch_mlu::lstm_layer: one LSTM layer and direction over a whole sequence in one kernel, and its
// backward. torch_mlu/_lstm.py builds nn.LSTM (aten::lstm) from these and registers the autograd
// formula; PyTorch's own lstm would launch a cell and two matrix products per time step.
#include "mlu_kernels/lstm.h"

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using Outputs5 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
using Grads6 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// Checks the operands as PyTorch's lstm would and describes them.
kernels::LstmLayer describe_layer(const at::Tensor& input, const at::Tensor& h0,
                                  const at::Tensor& c0, const at::Tensor& w_ih,
                                  const at::Tensor& w_hh, const std::optional<at::Tensor>& b_ih,
                                  const std::optional<at::Tensor>& b_hh, bool reverse) {
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
  return {describe(input),
          describe(w_ih),
          describe(w_hh),
          maybe_describe(b_ih.value_or(at::Tensor())),
          maybe_describe(b_hh.value_or(at::Tensor())),
          describe(h0),
          describe(c0),
          reverse};
}

Outputs5 lstm_layer(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                    const at::Tensor& w_ih, const at::Tensor& w_hh,
                    const std::optional<at::Tensor>& b_ih, const std::optional<at::Tensor>& b_hh,
                    bool reverse) {
  const c10::Device device = common_device({&input, &h0, &c0, &w_ih, &w_hh});
  c10::DeviceGuard guard(device);
  const kernels::LstmLayer layer = describe_layer(input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse);
  const int64_t steps = input.size(0), batch = input.size(1), hidden = h0.size(1);
  at::Tensor output = at::empty({steps, batch, hidden}, input.options());
  at::Tensor hy = at::empty_like(h0), cy = at::empty_like(c0);
  at::Tensor gates = at::empty({steps, batch, 4 * hidden}, input.options());
  at::Tensor cells = at::empty_like(output);
  launch(output, "lstm_layer",
         [layer, seq = kernels::LstmSequence{describe(output), describe(hy), describe(cy),
                                             describe(gates), describe(cells)}] {
           kernels::lstm_layer_forward(layer, seq);
         });
  return {output, hy, cy, gates, cells};
}

Grads6 lstm_layer_backward(const std::optional<at::Tensor>& grad_output,
                           const std::optional<at::Tensor>& grad_hy,
                           const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
                           const at::Tensor& h0, const at::Tensor& c0, const at::Tensor& w_ih,
                           const at::Tensor& w_hh, bool reverse, const at::Tensor& output,
                           const at::Tensor& gates, const at::Tensor& cells) {
  const c10::Device device =
      common_device({&input, &h0, &c0, &w_ih, &w_hh, &output, &gates, &cells});
  c10::DeviceGuard guard(device);
  const kernels::LstmLayer layer =
      describe_layer(input, h0, c0, w_ih, w_hh, std::nullopt, std::nullopt, reverse);
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
  launch(grad_input, "lstm_layer_backward",
         [layer,
          seq = kernels::LstmSequence{describe(output), {}, {}, describe(gates), describe(cells)},
          g_out = maybe_describe(g_out), g_hy = maybe_describe(g_hy), g_cy = maybe_describe(g_cy),
          gg = describe(grad_gates), gi = describe(grad_input), gh = describe(grad_h0),
          gc = describe(grad_c0), gwi = describe(grad_w_ih), gwh = describe(grad_w_hh),
          gb = describe(grad_bias)] {
           const kernels::LstmLayerGrads grads{g_out ? &*g_out : nullptr,
                                               g_hy ? &*g_hy : nullptr,
                                               g_cy ? &*g_cy : nullptr,
                                               gg,
                                               gi,
                                               gh,
                                               gc,
                                               gwi,
                                               gwh,
                                               gb};
           kernels::lstm_layer_backward(layer, seq, grads);
         });
  return {grad_input, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_bias};
}

TORCH_LIBRARY(torch_mlu, m) {
  m.def(
      "lstm_layer(Tensor input, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, "
      "Tensor? b_hh, "
      "bool reverse) -> (Tensor output, Tensor hy, Tensor cy, Tensor gates, Tensor cells)");
  m.def(
      "lstm_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor? grad_cy, Tensor input, "
      "Tensor h0, "
      "Tensor c0, Tensor w_ih, Tensor w_hh, bool reverse, Tensor output, Tensor gates, Tensor "
      "cells) -> "
      "(Tensor grad_input, Tensor grad_h0, Tensor grad_c0, Tensor grad_w_ih, Tensor grad_w_hh, "
      "Tensor grad_bias)");
}

TORCH_LIBRARY_IMPL(torch_mlu, PrivateUse1, m) {
  m.impl("lstm_layer", lstm_layer);
  m.impl("lstm_layer_backward", lstm_layer_backward);
}

// lstm_layer's derivative is registered from Python (torch_mlu/_lstm.py); its backward has none
// (no double backward): a clear error if one is asked for.
TORCH_LIBRARY_IMPL(torch_mlu, AutogradPrivateUse1, m) {
  m.impl("lstm_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

}  // namespace
}  // namespace torch_mlu::ops
