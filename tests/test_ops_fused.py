"""Fused operators (csrc/ops/fused.cpp): linear + activation and convolution + relu against the
same computation on the CPU, forward and gradients; their errors; the bias epilogue of addmm."""

import pytest
import torch
import torch.nn.functional as F

import torch_mlu  # noqa: F401
from op_helpers import native, sample

ops = torch.ops.torch_mlu


def linear_act(input, weight, bias, activation):
    return ops.linear_act(input, weight, bias, activation)[0]

CPU_ACTIVATIONS = {
    "none": lambda x: x,
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}
TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-9, atol=1e-9),
             torch.bfloat16: dict(rtol=2e-2, atol=2e-2), torch.float16: dict(rtol=2e-3, atol=2e-3)}


def leaves(*tensors, device):
    return [t.detach().to(device).requires_grad_() if t is not None else None for t in tensors]


@pytest.mark.parametrize("activation", sorted(CPU_ACTIVATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("shape", [(5, 12), (2, 3, 12), (12,), (0, 12)], ids=str)
def test_linear_act_matches_cpu_with_gradients(activation, dtype, shape):
    x, w, b = sample(shape, dtype), sample((7, 12), dtype, 1), sample((7,), dtype, 2)
    cx, cw, cb = leaves(x, w, b, device="cpu")
    expected = CPU_ACTIVATIONS[activation](F.linear(cx, cw, cb))
    mx, mw, mb = leaves(x, w, b, device="mlu")
    with native():
        got = linear_act(mx, mw, mb, activation)
        grad = sample(expected.shape, dtype, 3)
        expected.backward(grad)
        got.backward(grad.to("mlu"))
    torch.testing.assert_close(got.cpu(), expected.detach(), **TOLERANCE[dtype])
    for m, c in [(mx, cx), (mw, cw), (mb, cb)]:
        torch.testing.assert_close(m.grad.cpu(), c.grad, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_linear_act_16_bit_rounds_once(dtype):
    # The activation is applied to the float32 product before rounding to 16 bits.
    x, w = sample((64, 32), dtype), sample((48, 32), dtype, 1)
    expected = F.gelu(F.linear(x.float(), w.float())).to(dtype)
    with native():
        got = linear_act(x.to("mlu"), w.to("mlu"), None, "gelu")
    torch.testing.assert_close(got.cpu(), expected, **TOLERANCE[dtype])


def test_linear_act_without_bias_non_contiguous_and_inference_mode():
    x = sample((12, 6), torch.float32).t()  # [6, 12], not contiguous
    w = sample((5, 12), torch.float32, 1)
    with torch.inference_mode(), native():
        got = linear_act(x.to("mlu"), w.to("mlu"), None, "silu")
    torch.testing.assert_close(got.cpu(), F.silu(F.linear(x, w)))


def test_linear_act_keeps_the_pre_activation_when_asked_or_for_gradients():
    x, w = sample((4, 8), torch.float32).to("mlu"), sample((3, 8), torch.float32, 1).to("mlu")
    out, pre = ops.linear_act(x, w, None, "gelu", True)
    torch.testing.assert_close(pre.cpu(), F.linear(x.cpu(), w.cpu()))
    assert ops.linear_act(x, w, None, "gelu")[1].numel() == 0
    assert ops.linear_act(x, w.requires_grad_(), None, "relu")[1].numel() == 0  # from the result
    out, pre = ops.linear_act(x, w, None, "silu")
    assert pre.shape == out.shape
    # A gradient reaching the pre-activation output adds to the activation's.
    (out.sum() + pre.sum()).backward()
    cw = w.detach().cpu().requires_grad_()
    cpre = F.linear(x.cpu(), cw)
    (F.silu(cpre).sum() + cpre.sum()).backward()
    torch.testing.assert_close(w.grad.cpu(), cw.grad)


def test_linear_act_errors_leave_the_device_usable():
    x, w = torch.randn(4, 8, device="mlu"), torch.randn(3, 8, device="mlu")
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        linear_act(x, w, None, "tanh")
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        linear_act(x, torch.randn(3, 7, device="mlu"), None, "relu")
    with pytest.raises(RuntimeError, match="bias of shape \\[3\\]"):
        linear_act(x, w, torch.randn(4, device="mlu"), "relu")
    with pytest.raises(RuntimeError, match="share a dtype"):
        linear_act(x, w.double(), None, "relu")
    with pytest.raises(RuntimeError, match="floating-point input"):
        linear_act(x.long(), w.long(), None, "relu")
    with pytest.raises(RuntimeError, match="same device|cpu"):
        linear_act(x, w.cpu(), None, "relu")
    torch.testing.assert_close(linear_act(x, w, None, "relu").cpu(),
                               F.relu(F.linear(x.cpu(), w.cpu())))


def test_linear_act_follows_autocast():
    x, w, b = (torch.randn(s, device="mlu") for s in [(4, 8), (3, 8), (3,)])
    with torch.autocast("mlu", dtype=torch.bfloat16):
        got = linear_act(x, w, b, "relu")
        expected = F.relu(F.linear(x, w, b))
    assert got.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(got, expected, **TOLERANCE[torch.bfloat16])


CONVS = [
    # (input shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 9), (4, 3, 3), [2], [1], [1], 1),
    ((2, 4, 7, 6), (6, 2, 3, 3), [1, 2], [1, 0], [2, 1], 2),
    ((1, 2, 4, 5, 5), (3, 2, 2, 3, 3), [1, 1, 1], [0, 1, 1], [1, 1, 1], 1),
]


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("conv", CONVS, ids=lambda c: f"{len(c[0]) - 2}d")
def test_conv_relu_matches_cpu_with_gradients(conv, dtype, with_bias):
    in_shape, w_shape, stride, padding, dilation, groups = conv
    x, w = sample(in_shape, dtype), sample(w_shape, dtype, 1)
    b = sample((w_shape[0],), dtype, 2) if with_bias else None
    conv_fn = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(in_shape)]
    cx, cw, cb = leaves(x, w, b, device="cpu")
    expected = F.relu(conv_fn(cx, cw, cb, stride, padding, dilation, groups))
    mx, mw, mb = leaves(x, w, b, device="mlu")
    with native():
        got = ops.conv_relu(mx, mw, mb, stride, padding, dilation, groups)
        grad = sample(expected.shape, dtype, 3)
        expected.backward(grad)
        got.backward(grad.to("mlu"))
    assert (expected == 0).any()  # the relu clipped something
    torch.testing.assert_close(got.cpu(), expected.detach(), **TOLERANCE[dtype])
    for m, c in [(mx, cx), (mw, cw)] + ([(mb, cb)] if with_bias else []):
        torch.testing.assert_close(m.grad.cpu(), c.grad, **TOLERANCE[dtype])


def test_conv_relu_channels_last_bfloat16_and_errors():
    x = sample((2, 3, 8, 8), torch.bfloat16).to(memory_format=torch.channels_last)
    w = sample((4, 3, 3, 3), torch.bfloat16, 1)
    with native():
        got = ops.conv_relu(x.to("mlu"), w.to("mlu"), None, [1, 1], [1, 1], [1, 1], 1)
    expected = F.relu(F.conv2d(x.float(), w.float(), padding=1)).to(torch.bfloat16)
    torch.testing.assert_close(got.cpu(), expected, **TOLERANCE[torch.bfloat16])
    with pytest.raises(RuntimeError, match="Expected 4-dimensional input"):
        ops.conv_relu(torch.randn(3, 8, 8, device="mlu"), w.to("mlu").float(), None, [1, 1],
                         [0, 0], [1, 1], 1)


def test_addmm_adds_a_bias_row_in_the_epilogue():
    # beta scales the bias; 16-bit products add it in float before rounding.
    for dtype in (torch.float32, torch.bfloat16):
        bias, a, b = sample((6,), dtype), sample((5, 4), dtype, 1), sample((4, 6), dtype, 2)
        expected = torch.addmm(bias.float(), a.float(), b.float(), beta=0.5, alpha=2).to(dtype)
        with native("addmm"):
            got = torch.addmm(bias.to("mlu"), a.to("mlu"), b.to("mlu"), beta=0.5, alpha=2)
        torch.testing.assert_close(got.cpu(), expected, **TOLERANCE[dtype])
