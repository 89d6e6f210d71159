"""Shapes of the fused operators for tracing (fake tensors): torch_mlu::linear_act and
torch_mlu::conv_relu, whose kernels, derivatives and autocast rule are C++ (csrc/ops/fused.cpp).
"""

import torch


@torch.library.register_fake("torch_mlu::linear_act")
def _linear_act(input, weight, bias, activation, keep_pre_activation=False):
    out = input.new_empty((*input.shape[:-1], weight.shape[0]))
    keep = keep_pre_activation or (activation in ("gelu", "gelu_tanh", "silu")
                                   and torch.is_grad_enabled()
                                   and any(t is not None and t.requires_grad
                                           for t in (input, weight, bias)))
    return out, (torch.empty_like(out) if keep else out.new_empty(0))


@torch.library.register_fake("torch_mlu::conv_relu")
def _conv_relu(input, weight, bias, stride, padding, dilation, groups):
    return torch.ops.aten.convolution(input, weight, bias, stride, padding, dilation, False,
                                      [0] * (weight.dim() - 2), groups)
