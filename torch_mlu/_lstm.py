"""nn.LSTM on mlu: whole-sequence layers instead of PyTorch's per-step composite.

aten::lstm is a composite operator: on a device without cuDNN or oneDNN it launches a cell and two
matrix products per time step and direction, and autograd records each of them. Here it is built
from ``torch.ops.torch_mlu.lstm_layer`` (csrc/ops/lstm.cpp: one kernel per layer and direction,
with its own backward), registered for mlu on the autograd key and the backend key (for
inference mode). Configurations the layer kernel does not cover (projections, 16-bit weights,
mixed dtypes outside autocast, empty sequences) take PyTorch's composite path unchanged.

Under autocast a 16-bit input (from a convolutional front end, say) is widened once and the LSTM
runs in float32: per-step casts made the composite path slower in float16 than in float32.
"""

import torch

_lib = torch.library.Library("aten", "IMPL")


def _setup_context(ctx, inputs, output):
    input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse = inputs
    out, _hy, _cy, gates, cells = output
    ctx.save_for_backward(input, h0, c0, w_ih, w_hh, out, gates, cells)
    ctx.reverse = reverse
    ctx.has_bias = (b_ih is not None, b_hh is not None)
    ctx.set_materialize_grads(False)  # unused outputs pass None, not zeros


def _backward(ctx, grad_output, grad_hy, grad_cy, _grad_gates, _grad_cells):
    input, h0, c0, w_ih, w_hh, out, gates, cells = ctx.saved_tensors
    grad_input, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_bias = (
        torch.ops.torch_mlu.lstm_layer_backward(grad_output, grad_hy, grad_cy, input, h0, c0, w_ih,
                                                w_hh, ctx.reverse, out, gates, cells))
    has_ih, has_hh = ctx.has_bias
    # Both biases get the same gradient; each its own tensor, as .grad accumulates in place.
    return (grad_input, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_bias if has_ih else None,
            grad_bias.clone() if has_hh else None, None)


torch.library.register_autograd("torch_mlu::lstm_layer", _backward, setup_context=_setup_context)


def _layer_dtype(input, hx, params):
    """The dtype the layer kernel runs in, or None when it does not apply."""
    dtype = params[0].dtype
    if dtype not in (torch.float32, torch.float64):
        return None
    if any(t.dtype != dtype or t.device.type != "mlu" for t in params):
        return None
    # Under autocast a 16-bit input (and the zero state nn.LSTM makes in its dtype) is widened.
    widen = (torch.is_autocast_enabled("mlu") and dtype == torch.float32
             and input.dtype in (torch.float16, torch.bfloat16))
    allowed = (dtype, input.dtype) if widen else (dtype,)
    if input.dtype not in allowed or any(t.dtype not in allowed or t.device.type != "mlu" for t in hx):
        return None
    return dtype


def _lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    directions = 2 if bidirectional else 1
    per_layer = 4 if has_biases else 2
    dtype = None
    if (input.dim() == 3 and input.device.type == "mlu" and input.numel() > 0 and len(hx) == 2
            and len(params) == num_layers * directions * per_layer):  # projections add weights
        dtype = _layer_dtype(input, hx, params)
    if dtype is None:
        return torch.ops.aten.lstm.input.decompose(input, hx, params, has_biases, num_layers,
                                                   dropout, train, bidirectional, batch_first)
    x = (input.transpose(0, 1) if batch_first else input).to(dtype).contiguous()
    h0, c0 = (state.to(dtype) for state in hx)
    hy, cy = [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            weights = params[index * per_layer:(index + 1) * per_layer]
            biases = weights[2:] if has_biases else (None, None)
            out, h, c, _, _ = torch.ops.torch_mlu.lstm_layer(
                x, h0[index].contiguous(), c0[index].contiguous(), weights[0].contiguous(),
                weights[1].contiguous(), *biases, direction == 1)
            outputs.append(out)
            hy.append(h)
            cy.append(c)
        x = outputs[0] if directions == 1 else torch.cat(outputs, dim=2)
        if dropout > 0 and train and layer < num_layers - 1:
            x = torch.nn.functional.dropout(x, dropout, training=True)
    output = x.transpose(0, 1) if batch_first else x
    return output, torch.stack(hy), torch.stack(cy)


_lib.impl("lstm.input", _lstm, "AutogradPrivateUse1")
_lib.impl("lstm.input", _lstm, "PrivateUse1")
