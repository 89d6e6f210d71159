"""Fused operators: linear + activation and convolution + relu, with their derivatives.

``torch.ops.torch_mlu.linear_act`` runs one GEMM whose epilogue adds the bias and applies the
activation to each block of the product while it is in cache; ``torch.ops.torch_mlu.conv_relu``
is a convolution with oneDNN's relu post-op (csrc/ops/linear_algebra.cpp, csrc/ops/conv.cpp).
The torch.compile backend (torch_mlu/_compile.py) puts the functions below in place of a
``linear`` or ``conv*d`` followed by its activation. They follow autocast as ``linear`` and
``conv*d`` do, and keep the value before the activation only when a gradient will need it.
"""

import torch
from torch.utils.weak import WeakIdKeyDictionary

_ops = torch.ops.torch_mlu

# The gradient of each activation from the result (relu) or the value before it.
_ACTIVATION_GRADIENT = {
    "none": lambda grad, out, pre: grad,
    "relu": lambda grad, out, pre: torch.ops.aten.threshold_backward(grad, out, 0),
    "gelu": lambda grad, out, pre: torch.ops.aten.gelu_backward(grad, pre),
    "gelu_tanh": lambda grad, out, pre: torch.ops.aten.gelu_backward(grad, pre, approximate="tanh"),
    "silu": lambda grad, out, pre: torch.ops.aten.silu_backward(grad, pre),
}
_NEEDS_PRE_ACTIVATION = frozenset({"gelu", "gelu_tanh", "silu"})


def _autocast(*tensors):
    """The operands as autocast would give them to linear or conv*d on mlu."""
    if not torch.is_autocast_enabled("mlu"):
        return tensors
    dtype = torch.get_autocast_dtype("mlu")
    return tuple(t.to(dtype) if t is not None and t.is_floating_point() else t for t in tensors)


def _needs_grad(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def linear_act(input, weight, bias, activation):
    """activation(F.linear(input, weight, bias)) in one kernel."""
    input, weight, bias = _autocast(input, weight, bias)
    keep = activation in _NEEDS_PRE_ACTIVATION and _needs_grad(input, weight, bias)
    return _ops.linear_act(input, weight, bias, activation, keep)[0]


def conv_relu(input, weight, bias, stride, padding, dilation, groups):
    """F.relu(F.conv*d(input, weight, bias, stride, padding, dilation, groups)) in one kernel."""
    input, weight, bias = _autocast(input, weight, bias)
    return _ops.conv_relu(input, weight, bias, stride, padding, dilation, groups)


# Folded weights per convolution weight, for as long as that weight lives (inference reuses them).
_folded = WeakIdKeyDictionary()


def fold_batch_norm(weight, bias, mean, var, gamma, beta, eps):
    """A convolution's weight and bias with the eval-mode batch norm that follows it folded in.

    Without gradients the result is kept until one of the tensors changes (its version)."""
    tensors = (weight, bias, mean, var, gamma, beta)
    key = tuple(None if t is None else (id(t), t._version) for t in tensors) + (eps,)
    reusable = not _needs_grad(*tensors)
    if reusable and weight in _folded and _folded[weight][0] == key:
        return _folded[weight][1]
    scale = torch.rsqrt(var + eps)
    if gamma is not None:
        scale = scale * gamma
    shift = -mean if bias is None else bias - mean
    shift = shift * scale if beta is None else torch.addcmul(beta, shift, scale)
    folded = weight * scale.reshape(-1, *[1] * (weight.dim() - 1)), shift
    if reusable:
        _folded[weight] = (key, folded)
    return folded


def _linear_setup(ctx, inputs, output):
    input, weight, bias, activation, keep = inputs
    if activation in _NEEDS_PRE_ACTIVATION and not keep:
        raise RuntimeError(f"torch_mlu::linear_act: the gradient of '{activation}' needs "
                           "keep_pre_activation=True")
    out, pre = output
    ctx.save_for_backward(input, weight, out, pre)
    ctx.activation = activation
    ctx.has_bias = bias is not None
    ctx.set_materialize_grads(False)


def _linear_backward(ctx, grad_out, grad_pre):
    input, weight, out, pre = ctx.saved_tensors
    grad = grad_pre
    if grad_out is not None:
        grad = _ACTIVATION_GRADIENT[ctx.activation](grad_out, out, pre)
        if grad_pre is not None:
            grad = grad + grad_pre
    if grad is None:
        return None, None, None, None, None
    rows = grad.reshape(-1, weight.shape[0])
    grad_input = grad_weight = grad_bias = None
    if ctx.needs_input_grad[0]:
        grad_input = (rows @ weight).reshape(input.shape)
    if ctx.needs_input_grad[1]:
        grad_weight = rows.t() @ input.reshape(-1, weight.shape[1])
    if ctx.has_bias and ctx.needs_input_grad[2]:
        grad_bias = rows.sum(0)
    return grad_input, grad_weight, grad_bias, None, None


def _conv_setup(ctx, inputs, output):
    input, weight, bias, stride, padding, dilation, groups = inputs
    ctx.save_for_backward(input, weight, output)
    ctx.conv = (stride, padding, dilation, groups)
    ctx.has_bias = bias is not None


def _conv_backward(ctx, grad_out):
    input, weight, out = ctx.saved_tensors
    stride, padding, dilation, groups = ctx.conv
    grad = torch.ops.aten.threshold_backward(grad_out, out, 0)
    needs = ctx.needs_input_grad
    mask = [needs[0], needs[1], ctx.has_bias and needs[2]]
    grad_input, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
        grad, input, weight, [weight.shape[0]] if ctx.has_bias else None, stride, padding,
        dilation, False, [0] * (weight.dim() - 2), groups, mask)
    return grad_input, grad_weight, grad_bias, None, None, None, None


def _linear_fake(input, weight, bias, activation, keep_pre_activation):
    out = input.new_empty((*input.shape[:-1], weight.shape[0]))
    return out, (torch.empty_like(out) if keep_pre_activation else out.new_empty(0, out.shape[-1]))


def _conv_fake(input, weight, bias, stride, padding, dilation, groups):
    return torch.ops.aten.convolution(input, weight, bias, stride, padding, dilation, False,
                                      [0] * (weight.dim() - 2), groups)


torch.library.register_autograd("torch_mlu::linear_act", _linear_backward,
                                setup_context=_linear_setup)
torch.library.register_autograd("torch_mlu::conv_relu", _conv_backward, setup_context=_conv_setup)
torch.library.register_fake("torch_mlu::linear_act", _linear_fake)
torch.library.register_fake("torch_mlu::conv_relu", _conv_fake)
