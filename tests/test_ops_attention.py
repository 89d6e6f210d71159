"""scaled_dot_product_attention: the tiled mlu kernel (masks and 16-bit inputs included) matches
the CPU, forward and backward; what it cannot do takes PyTorch's math path."""

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


MASKS = {
    # a query (row 5) that may attend to nothing: zeros, as the CPU gives
    "bool": lambda lq, lk: (torch.rand(lq, lk, generator=torch.Generator().manual_seed(1)) > 0.5)
    .index_fill_(0, torch.tensor([5]), False),
    "additive": lambda lq, lk: torch.randn(2, 1, lq, lk, generator=torch.Generator().manual_seed(2)),
    "key_padding": lambda lq, lk: (torch.arange(lk) < lk - 7).view(1, 1, 1, lk),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mask", sorted(MASKS))
def test_masked_attention_in_the_tiled_kernel_matches_cpu(mask, dtype):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 70, 16), torch.randn(2, 3, 130, 16), torch.randn(2, 3, 130, 24)
    attn_mask = MASKS[mask](70, 130)
    overrideable = int(torch.nn.attention.SDPBackend.OVERRIDEABLE)
    mlu = [t.to(dtype).to("mlu") for t in (q, k, v)]
    assert torch.ops.aten._fused_sdp_choice(*mlu, attn_mask.to("mlu")) == overrideable
    torch.mlu.reset_fallback_stats()
    got = run("mlu", *(t.to(dtype) for t in (q, k, v)), attn_mask=attn_mask.to("mlu"))
    assert not torch.mlu.fallback_stats()
    # 16-bit inputs compute in float32: compared with the CPU's float32 result of the same values.
    expected = run("cpu", *(t.to(dtype).float() for t in (q, k, v)), attn_mask=attn_mask)
    tolerance = {torch.float32: 1e-4, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    for g, e_ in zip(got, expected):
        assert g.dtype == dtype
        torch.testing.assert_close(g.float(), e_, rtol=tolerance, atol=tolerance)
    if mask == "bool":
        assert torch.equal(got[0][:, :, 5].float(), torch.zeros(2, 3, 24))


def test_transposed_head_layout_and_what_takes_the_math_path():
    torch.manual_seed(0)
    x = torch.randn(2, 9, 4, 8)  # [B, L, H, E] as a GPT block produces it
    q = k = v = x.transpose(1, 2)
    mask = torch.rand(9, 9) > 0.3
    mask.fill_diagonal_(True)
    math = int(torch.nn.attention.SDPBackend.MATH)
    qm = q.to("mlu")
    learned = torch.zeros(9, 9, device="mlu", requires_grad=True)  # its gradient needs the math path
    assert torch.ops.aten._fused_sdp_choice(qm, qm, qm, learned) == math
    assert torch.ops.aten._fused_sdp_choice(qm, qm, qm, dropout_p=0.1) == math
    assert torch.ops.aten._fused_sdp_choice(qm.double(), qm.double(), qm.double()) == math
    assert torch.ops.aten._fused_sdp_choice(qm, qm, qm, torch.ones(3, 9, dtype=torch.bool, device="mlu")) == math
    assert torch.ops.aten._fused_sdp_choice(qm, qm, qm, mask) == math  # a mask on another device
    for kwargs in ({"is_causal": True}, {"attn_mask": mask}):
        got = F.scaled_dot_product_attention(q.to("mlu"), k.to("mlu"), v.to("mlu"),
                                             **{n: t.to("mlu") if torch.is_tensor(t) else t for n, t in kwargs.items()})
        torch.testing.assert_close(got.cpu(), F.scaled_dot_product_attention(q, k, v, **kwargs), rtol=1e-4, atol=1e-5)
    # A learned additive bias gets its gradient from the math path.
    bias = torch.randn(9, 9, requires_grad=True)
    grads = []
    for device in ("cpu", "mlu"):
        b = bias.detach().to(device).requires_grad_()
        F.scaled_dot_product_attention(q.to(device), k.to(device), v.to(device), attn_mask=b).sum().backward()
        grads.append(b.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-5)


def test_direct_call_with_dropout_or_float64_names_the_limit():
    q = torch.randn(1, 1, 4, 8, device="mlu")
    with pytest.raises(RuntimeError, match="no dropout"):
        torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q, q, q, dropout_p=0.1)
    q64 = q.double()
    with pytest.raises(RuntimeError, match="float32, float16 or bfloat16"):
        torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q64, q64, q64)


class OperatorLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(func.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("case", ["causal", "bool_mask", "additive_mask", "dropout"])
def test_functional_attention_takes_the_tiled_kernel_when_it_can(case):
    # F.scaled_dot_product_attention picks its implementation through a dispatch stub, separate
    # from the _fused_sdp_choice operator: without dropout it must reach the tiled kernel in both
    # directions; dropout takes the math path.
    q = torch.randn(2, 4, 16, 8, device="mlu", requires_grad=True)
    kwargs = {"causal": {"is_causal": True},
              "bool_mask": {"attn_mask": torch.ones(16, 16, dtype=torch.bool, device="mlu").tril()},
              "additive_mask": {"attn_mask": torch.randn(16, 16, device="mlu")},
              "dropout": {"dropout_p": 0.2}}[case]
    with OperatorLog() as log:
        F.scaled_dot_product_attention(q, q, q, **kwargs).sum().backward()
    tiled = {"_scaled_dot_product_fused_attention_overrideable.default",
             "_scaled_dot_product_fused_attention_overrideable_backward.default"}
    math = "bmm.default"  # the math composition multiplies with bmm; the tiled kernel does not
    if case == "dropout":
        assert not tiled & log.names and math in log.names
    else:
        assert tiled <= log.names and math not in log.names
