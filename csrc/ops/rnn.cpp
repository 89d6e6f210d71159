// Fused LSTM and GRU cells: what nn.LSTM / nn.GRU run per time step on an accelerator.
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "common.h"
#include "mlu_kernels/rnn_cell.h"

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
  launch(hy, "lstm_cell",
         [ig = describe(ig), hg = describe(hg), c = describe(c), ib = maybe_describe(ib),
          hb = maybe_describe(hb), hy = describe(hy), cy = describe(cy), ws = describe(workspace)] {
           kernels::LstmCell cell{ig, hg, c, ib ? &*ib : nullptr, hb ? &*hb : nullptr, hy, cy, ws};
           kernels::lstm_cell_forward(cell);
         });
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
  launch(grad_gates, "lstm_cell_backward",
         [ghy = maybe_describe(ghy), gcy = maybe_describe(gcy), c = describe(c),
          c_out = describe(c_out), ws = describe(ws), gg = describe(grad_gates),
          gcx = describe(grad_cx)] {
           kernels::lstm_cell_backward(ghy ? &*ghy : nullptr, gcy ? &*gcy : nullptr, c, c_out, ws,
                                       gg, gcx);
         });
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
  launch(hy, "gru_cell",
         [ig = describe(ig), hg = describe(hg), h = describe(h), ib = maybe_describe(ib),
          hb = maybe_describe(hb), hy = describe(hy), ws = describe(workspace)] {
           kernels::GruCell cell{ig, hg, h, ib ? &*ib : nullptr, hb ? &*hb : nullptr, hy, ws};
           kernels::gru_cell_forward(cell);
         });
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
  launch(
      grad_hx, "gru_cell_backward",
      [go = describe(go), ws = describe(ws), gi = describe(grad_input), gh = describe(grad_hidden),
       ghx = describe(grad_hx)] { kernels::gru_cell_backward(go, ws, gi, gh, ghx); });
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
