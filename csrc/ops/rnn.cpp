// Fused LSTM and GRU cells: what nn.LSTM / nn.GRU run per time step on an accelerator.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"

namespace torch_mlu::ops {
namespace {

using Gates = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

at::Tensor dense(const at::Tensor& t, c10::ScalarType dtype) { return t.to(dtype).contiguous(); }

void check_gates(const at::Tensor& input_gates, const at::Tensor& hidden_gates,
                 const at::Tensor& state, int gates) {
  TORCH_CHECK(input_gates.dim() == 2 && input_gates.sizes() == hidden_gates.sizes() &&
                  state.dim() == 2 && input_gates.size(0) == state.size(0) &&
                  input_gates.size(1) == gates * state.size(1),
              "fused rnn cell: expected gates of shape [batch, ", gates,
              " * hidden] and a state of shape "
              "[batch, hidden], got ",
              input_gates.sizes(), ", ", hidden_gates.sizes(), " and ", state.sizes());
}

Gates lstm_cell(const at::Tensor& input_gates, const at::Tensor& hidden_gates, const at::Tensor& cx,
                const std::optional<at::Tensor>& input_bias,
                const std::optional<at::Tensor>& hidden_bias) {
  const c10::Device device = common_device({&input_gates, &hidden_gates, &cx});
  c10::DeviceGuard guard(device);
  check_gates(input_gates, hidden_gates, cx, 4);
  const c10::ScalarType dtype = input_gates.scalar_type();
  const at::Tensor ig = dense(input_gates, dtype), hg = dense(hidden_gates, dtype),
                   c = dense(cx, dtype);
  const at::Tensor ib =
      input_bias && input_bias->defined() ? dense(*input_bias, dtype) : at::Tensor();
  const at::Tensor hb =
      hidden_bias && hidden_bias->defined() ? dense(*hidden_bias, dtype) : at::Tensor();
  at::Tensor hy = at::empty_like(c), cy = at::empty_like(c), workspace = at::empty_like(ig);
  launch(hy, hal::LstmCell{describe(ig), describe(hg), describe(c), maybe_describe(ib),
                           maybe_describe(hb), describe(hy), describe(cy), describe(workspace)});
  return {hy, cy, workspace};
}

Gates lstm_cell_backward(const std::optional<at::Tensor>& grad_hy,
                         const std::optional<at::Tensor>& grad_cy, const at::Tensor& cx,
                         const at::Tensor& cy, const at::Tensor& workspace, bool has_bias) {
  const c10::Device device = common_device({&cx, &cy, &workspace});
  c10::DeviceGuard guard(device);
  const c10::ScalarType dtype = workspace.scalar_type();
  const at::Tensor ghy = grad_hy && grad_hy->defined() ? dense(*grad_hy, dtype) : at::Tensor();
  const at::Tensor gcy = grad_cy && grad_cy->defined() ? dense(*grad_cy, dtype) : at::Tensor();
  const at::Tensor c = dense(cx, dtype), c_out = dense(cy, dtype), ws = dense(workspace, dtype);
  at::Tensor grad_gates = at::empty_like(ws), grad_cx = at::empty_like(c);
  launch(grad_gates, hal::LstmCellBackward{maybe_describe(ghy), maybe_describe(gcy), describe(c),
                                           describe(c_out), describe(ws), describe(grad_gates),
                                           describe(grad_cx)});
  return {grad_gates, grad_cx, has_bias ? grad_gates.sum(0) : at::Tensor()};
}

std::tuple<at::Tensor, at::Tensor> gru_cell(const at::Tensor& input_gates,
                                            const at::Tensor& hidden_gates, const at::Tensor& hx,
                                            const std::optional<at::Tensor>& input_bias,
                                            const std::optional<at::Tensor>& hidden_bias) {
  const c10::Device device = common_device({&input_gates, &hidden_gates, &hx});
  c10::DeviceGuard guard(device);
  check_gates(input_gates, hidden_gates, hx, 3);
  const c10::ScalarType dtype = input_gates.scalar_type();
  const at::Tensor ig = dense(input_gates, dtype), hg = dense(hidden_gates, dtype),
                   h = dense(hx, dtype);
  const at::Tensor ib =
      input_bias && input_bias->defined() ? dense(*input_bias, dtype) : at::Tensor();
  const at::Tensor hb =
      hidden_bias && hidden_bias->defined() ? dense(*hidden_bias, dtype) : at::Tensor();
  at::Tensor hy = at::empty_like(h), workspace = at::empty({h.size(0), 5 * h.size(1)}, h.options());
  launch(hy, hal::GruCell{describe(ig), describe(hg), describe(h), maybe_describe(ib),
                          maybe_describe(hb), describe(hy), describe(workspace)});
  return {hy, workspace};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> gru_cell_backward(
    const at::Tensor& grad_hy, const at::Tensor& workspace, bool has_bias) {
  const c10::Device device = common_device({&grad_hy, &workspace});
  c10::DeviceGuard guard(device);
  const c10::ScalarType dtype = workspace.scalar_type();
  const at::Tensor go = dense(grad_hy, dtype), ws = dense(workspace, dtype);
  const int64_t batch = go.size(0), hidden = go.size(1);
  at::Tensor grad_input = at::empty({batch, 3 * hidden}, go.options());
  at::Tensor grad_hidden = at::empty_like(grad_input), grad_hx = at::empty_like(go);
  launch(grad_hx, hal::GruCellBackward{describe(go), describe(ws), describe(grad_input),
                                       describe(grad_hidden), describe(grad_hx)});
  if (!has_bias) return {grad_input, grad_hidden, grad_hx, at::Tensor(), at::Tensor()};
  return {grad_input, grad_hidden, grad_hx, grad_input.sum(0), grad_hidden.sum(0)};
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_thnn_fused_lstm_cell", lstm_cell);
  m.impl("_thnn_fused_lstm_cell_backward_impl", lstm_cell_backward);
  m.impl("_thnn_fused_gru_cell", gru_cell);
  m.impl("_thnn_fused_gru_cell_backward", gru_cell_backward);
}

}  // namespace
}  // namespace torch_mlu::ops
