"""scaled_dot_product_attention: the tiled mlu kernel matches the CPU, forward and backward."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import torch_mlu  # noqa: F401


def run(device, q, k, v, **kwargs):
    q, k, v = (t.detach().to(device).requires_grad_() for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    (out * torch.linspace(-1, 1, out.shape[-1], device=device)).sum().backward()
    return [t.cpu() for t in (out, q.grad, k.grad, v.grad)]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 70, 130, 16, 24), (1, 2, 5, 5, 8, 8), (1, 1, 129, 64, 32, 32)])
def test_attention_forward_and_backward_match_cpu(causal, shape):
    b, h, lq, lk, e, ev = shape
    if causal and lq > lk:
        lq = lk
    torch.manual_seed(0)
    q, k, v = torch.randn(b, h, lq, e), torch.randn(b, h, lk, e), torch.randn(b, h, lk, ev)
    overrideable = int(torch.nn.attention.SDPBackend.OVERRIDEABLE)
    assert torch.ops.aten._fused_sdp_choice(q.to("mlu"), k.to("mlu"), v.to("mlu"), is_causal=causal) == overrideable
    torch.mlu.reset_fallback_stats()
    got = run("mlu", q, k, v, is_causal=causal, scale=0.3)
    assert not torch.mlu.fallback_stats()
    expected = run("cpu", q, k, v, is_causal=causal, scale=0.3)
    for g, e_ in zip(got, expected):
        torch.testing.assert_close(g, e_, rtol=1e-4, atol=1e-4)


def test_transposed_head_layout_and_masked_fallback_to_math():
    torch.manual_seed(0)
    x = torch.randn(2, 9, 4, 8)  # [B, L, H, E] as a GPT block produces it
    q = k = v = x.transpose(1, 2)
    mask = torch.rand(9, 9) > 0.3
    mask.fill_diagonal_(True)
    math = int(torch.nn.attention.SDPBackend.MATH)
    assert torch.ops.aten._fused_sdp_choice(q.to("mlu"), k.to("mlu"), v.to("mlu"), mask.to("mlu")) == math
    for kwargs in ({"is_causal": True}, {"attn_mask": mask}):
        got = F.scaled_dot_product_attention(q.to("mlu"), k.to("mlu"), v.to("mlu"),
                                             **{n: t.to("mlu") if torch.is_tensor(t) else t for n, t in kwargs.items()})
        torch.testing.assert_close(got.cpu(), F.scaled_dot_product_attention(q, k, v, **kwargs), rtol=1e-4, atol=1e-5)


def test_direct_call_with_dropout_or_float64_names_the_limit():
    q = torch.randn(1, 1, 4, 8, device="mlu")
    with pytest.raises(RuntimeError, match="no mask and no dropout"):
        torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q, q, q, dropout_p=0.1)
    q64 = q.double()
    with pytest.raises(RuntimeError, match="float32"):
        torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q64, q64, q64)


class OperatorLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(func.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("with_mask", [False, True])
def test_functional_attention_takes_the_tiled_kernel_when_it_can(with_mask):
    # F.scaled_dot_product_attention picks its implementation through a dispatch stub, separate
    # from the _fused_sdp_choice operator: float32 without a mask must reach the tiled kernel in
    # both directions, a mask must take the math path.
    q = torch.randn(2, 4, 16, 8, device="mlu", requires_grad=True)
    mask = torch.ones(16, 16, dtype=torch.bool, device="mlu").tril() if with_mask else None
    with OperatorLog() as log:
        F.scaled_dot_product_attention(q, q, q, attn_mask=mask, is_causal=not with_mask).sum().backward()
    tiled = {"_scaled_dot_product_fused_attention_overrideable.default",
             "_scaled_dot_product_fused_attention_overrideable_backward.default"}
    math = "bmm.default"  # the math composition multiplies with bmm; the tiled kernel does not
    if with_mask:
        assert not tiled & log.names and math in log.names
    else:
        assert tiled <= log.names and math not in log.names
