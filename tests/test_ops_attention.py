"""scaled_dot_product_attention: the tiled mlu kernel (masks and 16-bit inputs included) matches
the CPU, forward and backward; what it cannot do takes PyTorch's math path."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import torch_mlu  # noqa: F401
from conftest import run_python


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


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("operand, row", [("q", 0), ("q", 37), ("k", 3), ("k", 50), ("v", 7)])
def test_nan_inputs_make_nan_the_rows_that_see_them(causal, operand, row):
    # As the math: a NaN query's row is NaN, a NaN key or value makes NaN every row that sees it
    # (under a causal mask, not the rows before it).
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 2, 70, 16), torch.randn(2, 2, 70, 16), torch.randn(2, 2, 70, 16)
    {"q": q, "k": k, "v": v}[operand][1, 0, row] = float("nan")
    scores = (q.double() @ k.double().transpose(-1, -2)) / 4
    if causal:
        scores = scores.masked_fill(torch.ones(70, 70, dtype=torch.bool).triu(1), float("-inf"))
    expected = (torch.softmax(scores, -1) @ v.double()).float()
    got = F.scaled_dot_product_attention(q.to("mlu"), k.to("mlu"), v.to("mlu"), is_causal=causal)
    nan_rows = expected.isnan().any(-1)
    assert nan_rows.any() and not nan_rows.all()  # the case has rows of both kinds
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-4, equal_nan=True)


MASKS = {
    # a query (row 5) that may attend to nothing: zeros, as the CPU gives
    "bool": lambda lq, lk: (torch.rand(lq, lk, generator=torch.Generator().manual_seed(1)) > 0.5)
    .index_fill_(0, torch.tensor([5]), False),
    "additive": lambda lq, lk: torch.randn(2, 1, lq, lk, generator=torch.Generator().manual_seed(2)),
    "key_padding": lambda lq, lk: (torch.arange(lk) < lk - 7).view(1, 1, 1, lk),
}


# On AMX, 300 keys run tile by tile, 50 whole slices with products batched over slices.
@pytest.mark.parametrize("keys", [300, 50])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mask", sorted(MASKS))
def test_masked_attention_in_the_tiled_kernel_matches_cpu(mask, dtype, keys):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 70, 16), torch.randn(2, 3, keys, 16), torch.randn(2, 3, keys, 24)
    attn_mask = MASKS[mask](70, keys)
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
    assert torch.ops.aten._fused_sdp_choice(qm, qm, qm, dropout_p=1.0) == math  # drops everything
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


def test_direct_call_with_dropout_one_or_float64_names_the_limit():
    q = torch.randn(1, 1, 4, 8, device="mlu")
    with pytest.raises(RuntimeError, match=r"dropout probability in \[0, 1\), got 1"):
        torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q, q, q, dropout_p=1.0)
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
    # from the _fused_sdp_choice operator: it must reach the tiled kernel in both directions.
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
    assert tiled <= log.names and math not in log.names


DROPOUT = 0.3


def dropout_mask(shape, seed, dtype=torch.float32):
    """The kept (True) attention weights of SDPA's dropout on mlu after manual_seed(seed), for
    [B, H, Lq, Lk]: with zero queries and keys every weight is 1 / Lk, and with the identity as
    values the output is the weights after dropout."""
    b, h, lq, lk = shape
    q = torch.zeros(b, h, lq, 8, device="mlu", dtype=dtype)
    k = torch.zeros(b, h, lk, 8, device="mlu", dtype=dtype)
    v = torch.eye(lk, device="mlu", dtype=dtype).expand(b, h, lk, lk)
    torch.mlu.manual_seed(seed)
    scaled = F.scaled_dot_product_attention(q, k, v, dropout_p=DROPOUT).float().cpu()
    scaled *= lk * (1 - DROPOUT)
    kept = scaled > 0.5
    assert torch.allclose(scaled[kept], torch.ones(()), atol=1e-2)  # kept weights are rescaled
    return kept


def test_dropout_keeps_its_share_of_the_weights_and_a_seed_repeats_it():
    shape = (2, 3, 70, 67)
    kept = dropout_mask(shape, seed=5)
    assert abs(kept.float().mean().item() - (1 - DROPOUT)) < 0.02  # 28140 draws
    assert torch.equal(dropout_mask(shape, seed=5), kept)
    assert not torch.equal(dropout_mask(shape, seed=6), kept)
    # The mask depends on the position only, not on the dtype.
    assert torch.equal(dropout_mask(shape, seed=5, dtype=torch.bfloat16), kept)


@pytest.mark.parametrize("lk", [270, 40])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", ["plain", "causal", "bool_mask"])
def test_dropout_in_the_tiled_kernel_matches_the_math_with_the_same_mask(case, dtype, lk):
    b, h, lq, e = 2, 3, 70, 16
    torch.manual_seed(0)
    q, k, v = torch.randn(b, h, lq, e), torch.randn(b, h, lk, e), torch.randn(b, h, lk, e)
    grad = torch.randn(b, h, lq, e)
    allowed = torch.ones(lq, lk, dtype=torch.bool)
    if case == "causal":
        allowed = allowed.tril()
    elif case == "bool_mask":
        allowed = torch.rand(lq, lk) > 0.3
        allowed[:, 0] = True
    kwargs = {"causal": {"is_causal": True}, "bool_mask": {"attn_mask": allowed.to("mlu")},
              "plain": {}}[case]
    mlu = [t.to("mlu", dtype).requires_grad_() for t in (q, k, v)]
    torch.mlu.manual_seed(11)
    with OperatorLog() as log:
        out = F.scaled_dot_product_attention(*mlu, dropout_p=DROPOUT, **kwargs)
        out.backward(grad.to("mlu", dtype))
    assert "_scaled_dot_product_fused_attention_overrideable_backward.default" in log.names
    kept = dropout_mask((b, h, lq, lk), seed=11)
    # The reference in float64 on the CPU: softmax over the allowed keys, then the same dropout.
    cpu = [t.double().requires_grad_() for t in (q, k, v)]
    scores = (cpu[0] @ cpu[1].transpose(-1, -2)) / e ** 0.5
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1)
    expected = (weights * kept / (1 - DROPOUT)) @ cpu[2]
    expected.backward(grad.double())
    tolerance = {torch.float32: 1e-4, torch.float16: 5e-3, torch.bfloat16: 3e-2}[dtype]
    torch.testing.assert_close(out.detach().cpu().double(), expected.detach(), rtol=tolerance,
                               atol=tolerance)
    for got, ref in zip(mlu, cpu):
        torch.testing.assert_close(got.grad.cpu().double(), ref.grad, rtol=tolerance,
                                   atol=tolerance)


def test_a_captured_attention_with_dropout_draws_anew_at_each_replay():
    # Zero queries and keys, the identity as values: the output is the weights after dropout.
    q = torch.zeros(1, 2, 32, 8, device="mlu")
    v = torch.eye(32, device="mlu").expand(1, 2, 32, 32)
    F.scaled_dot_product_attention(q, q, v, dropout_p=DROPOUT)  # warm-up outside the capture
    graph = torch.mlu.MLUGraph()
    with torch.mlu.graph(graph):
        out = F.scaled_dot_product_attention(q, q, v, dropout_p=DROPOUT)
    masks = []
    for _ in range(2):
        graph.replay()
        masks.append(out.cpu() > 0)
    assert not torch.equal(masks[0], masks[1])
    for kept in masks:
        assert abs(kept.float().mean().item() - (1 - DROPOUT)) < 0.05  # 2048 draws


def test_sdpa_kernel_chooses_between_the_tiled_kernel_and_the_math_path():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    q = torch.randn(1, 2, 8, 4, device="mlu", requires_grad=True)
    expected = {SDPBackend.MATH: "bmm.default",
                SDPBackend.OVERRIDEABLE: "_scaled_dot_product_fused_attention_overrideable.default"}
    for backend, operator in expected.items():
        with sdpa_kernel(backend), OperatorLog() as log:
            F.scaled_dot_product_attention(q, q, q, dropout_p=0.1)
        assert operator in log.names
    with sdpa_kernel(SDPBackend.OVERRIDEABLE), pytest.raises(RuntimeError, match="the math path is disabled"):
        F.scaled_dot_product_attention(q.double(), q.double(), q.double())


def test_backward_with_dropout_names_a_missing_or_misplaced_random_state():
    q = torch.randn(1, 1, 4, 8, device="mlu")
    out, lse, *_ = torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q, q, q)
    backward = torch.ops.aten._scaled_dot_product_fused_attention_overrideable_backward
    args = (out, q, q, q, None, [True, True, True, False], out, lse, torch.empty(0), torch.empty(0),
            4, 4)
    cpu_state = torch.zeros((), dtype=torch.long)
    with pytest.raises(RuntimeError, match="needs the forward's philox_seed and philox_offset"):
        backward(*args, 0.1, False, cpu_state, cpu_state)
    with pytest.raises(RuntimeError, match=r"dropout probability in \[0, 1\), got 1.5"):
        backward(*args, 1.5, False, cpu_state, cpu_state)
    grads = backward(*args, 0.0, False, cpu_state, cpu_state)  # no dropout: no state needed
    assert grads[0].shape == q.shape


# Without AMX the kernel widens 16-bit operands a slice at a time and rounds its results once:
# forward and gradients must be those of float32 operands holding the same values, bit for bit.
# On AMX its products read the 16-bit operands and the softmax weights rounded to their dtype:
# the results are those of the float32 kernel within the dtype's rounding. (A strided key, 300
# tokens, which AMX takes tile by tile, not a multiple of the 64-row tiles, causal masking; then 64
# tokens, whole slices batched on AMX, without.)
WIDENED_OPERANDS = """
import torch
import torch_mlu

dtype = getattr(torch, "{dtype}")
gen = torch.Generator().manual_seed(3)
q, k, v, grad = (torch.randn(2, 3, 300, 16, generator=gen).to(dtype).to("mlu") for _ in range(4))
k = k.transpose(1, 2).contiguous().transpose(1, 2)
forward = torch.ops.aten._scaled_dot_product_fused_attention_overrideable
backward = torch.ops.aten._scaled_dot_product_fused_attention_overrideable_backward
narrow = forward(q, k, v, is_causal=True)
wide = forward(q.float(), k.float(), v.float(), is_causal=True)
assert narrow[0].dtype == dtype and narrow[1].dtype == torch.float32
path = torch.mlu.kernel_isa()["attention16"]["{dtype}"]
if path == "float32":
    def same(got, want):
        assert torch.equal(got.cpu(), want.cpu().to(got.dtype))
else:
    def same(got, want):
        torch.testing.assert_close(got.cpu().float(), want.cpu().to(got.dtype).float(), rtol=2e-2,
                                   atol=2e-2)
same(narrow[0], wide[0])
same(narrow[1], wide[1])

# A zero mask stands for none (an undefined tensor cannot be passed from Python).
zero_bias = torch.zeros(1, 1, 1, 1, device="mlu")

def gradients(cast, out):
    return backward(cast(grad), cast(q), cast(k), cast(v), zero_bias,
                    [True, True, True, False], cast(out), narrow[1], narrow[2], narrow[3],
                    300, 300, 0.0, True, narrow[6], narrow[7])[:3]

for n, w in zip(gradients(lambda t: t, narrow[0]), gradients(lambda t: t.float(), narrow[0])):
    assert n.dtype == dtype
    same(n, w)

short = [t[:, :, :64] for t in (q, k, v)]
narrow_short = forward(*short)
wide_short = forward(*(t.float() for t in short))
same(narrow_short[0], wide_short[0])
same(narrow_short[1], wide_short[1])
for n, w in zip(backward(grad[:, :, :64], *short, zero_bias, [True, True, True, False],
                         narrow_short[0], narrow_short[1], *narrow_short[2:4], 64, 64, 0.0, False,
                         *narrow_short[6:8])[:3],
                backward(grad[:, :, :64].float(), *(t.float() for t in short), zero_bias,
                         [True, True, True, False], narrow_short[0].float(), narrow_short[1],
                         *narrow_short[2:4], 64, 64, 0.0, False, *narrow_short[6:8])[:3]):
    same(n, w)
print(path)
"""


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("onednn", ["as installed", "capped below AMX"])
def test_16_bit_attention_computes_as_the_float32_kernel_on_its_operands(dtype, onednn):
    cap = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"} if onednn != "as installed" else {}
    result = run_python(WIDENED_OPERANDS.replace("{dtype}", dtype), timeout=120, **cap)
    assert result.returncode == 0, result
    expected = torch.mlu.kernel_isa()["attention16"][dtype] if not cap else "float32"
    assert result.stdout.split() == [expected], result


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(2, 0, 8, 16), (0, 2, 8, 16), (2, 0, 300, 16)])
def test_attention_without_slices_returns_empty_results(shape, dtype):
    # No heads (or no batch): nothing to compute, and the gradient of the sum arrives expanded
    # (all strides 0), which the kernel must not refuse as a strided operand.
    q = torch.randn(*shape, device="mlu", dtype=dtype, requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    out.sum().backward()
    torch.mlu.synchronize()  # raises what the queued kernels raised
    assert out.shape == shape and q.grad.shape == shape
    assert torch.equal((torch.ones(3, device="mlu") + 1).cpu(), torch.full((3,), 2.0))


def test_backward_with_operands_of_different_dtypes_is_refused():
    q = torch.randn(1, 2, 8, 4, device="mlu", dtype=torch.bfloat16)
    forward = torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q, q, q)
    backward = torch.ops.aten._scaled_dot_product_fused_attention_overrideable_backward
    zero_bias = torch.zeros(1, 1, 1, 1, device="mlu")
    rest = (forward[2], forward[3], 8, 8, 0.0, False, forward[6], forward[7])
    for grad_out, lse in ((forward[0].float(), forward[1]), (forward[0], forward[1].bfloat16())):
        with pytest.raises(RuntimeError, match="of one dtype .* and a float32 logsumexp, got"):
            backward(grad_out, q, q, q, zero_bias, [True, True, True, False], forward[0], lse, *rest)
    assert torch.equal((q + 1).cpu(), q.cpu() + 1)  # the device is still usable
