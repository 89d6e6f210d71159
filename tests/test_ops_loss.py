"""Native softmax/log_softmax and losses (nll_loss, cross_entropy, mse, smooth L1, Huber, binary
cross-entropy with and without logits): values and gradients match the CPU, nothing falls back,
and data-dependent errors surface at the next synchronisation."""

import math

import pytest
import torch
import torch.nn.functional as F

from op_helpers import native

FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
GEN = torch.Generator().manual_seed(0)


def randn(*shape, dtype=torch.float32):
    if len(shape) == 1 and isinstance(shape[0], tuple):
        shape = shape[0]
    return torch.randn(shape, generator=GEN, dtype=torch.float64).to(dtype)


def tolerance(dtype):
    if dtype == torch.float16:
        return dict(rtol=2e-3, atol=2e-3)
    if dtype == torch.bfloat16:
        return dict(rtol=2e-2, atol=2e-2)
    return {}


def assert_matches(actual, expected, **kw):
    assert actual.device.type == "mlu"
    torch.testing.assert_close(actual.cpu(), expected, **{**tolerance(expected.dtype), **kw})


def grads_match(fn, *inputs, grad_of=None, mlu_layout=None, **tol):
    """Runs fn(*inputs) forward and backward on both devices; compares outputs and the gradients
    of the floating inputs (or those listed in grad_of). mlu_layout(tensor) may give the mlu
    inputs another memory layout."""
    grad_of = grad_of if grad_of is not None else [i for i, t in enumerate(inputs) if t.is_floating_point()]
    results, upstream = [], None
    for device in ("cpu", "mlu"):
        args = [t.detach().to(device) for t in inputs]
        if device == "mlu" and mlu_layout is not None:
            args = [mlu_layout(t) for t in args]
        args = [t.requires_grad_(i in grad_of) for i, t in enumerate(args)]
        out = fn(*args)
        if upstream is None:
            upstream = randn(tuple(out.shape), dtype=out.dtype)
        out.backward(upstream.to(device))
        results.append((out, [args[i].grad for i in grad_of]))
    (cpu_out, cpu_grads), (mlu_out, mlu_grads) = results
    assert_matches(mlu_out.detach(), cpu_out.detach(), **tol)
    for g_mlu, g_cpu in zip(mlu_grads, cpu_grads):
        assert_matches(g_mlu, g_cpu, **tol)


# ---- softmax -------------------------------------------------------------------------------

def softmax_inputs(dtype):
    return [
        randn(dtype=dtype),
        randn(4, 0, 3, dtype=dtype),
        randn(7, dtype=dtype) * 10,
        randn(5, 33, dtype=dtype),
        randn(3, 1100, dtype=dtype),  # rows longer than the kernel's 512-element summing blocks
        randn(33, 5, dtype=dtype).t(),
        randn(3, 8, 10, dtype=dtype)[:, ::2, 1:],
        randn(2, 6, 4, 5, dtype=dtype).contiguous(memory_format=torch.channels_last),
        randn(4, 1, dtype=dtype).expand(4, 9),
    ]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_softmax_and_log_softmax_match_cpu(dtype):
    with native():
        for x in softmax_inputs(dtype):
            for dim in range(-x.dim(), max(x.dim(), 1)):
                for fn in (torch.softmax, torch.log_softmax):
                    assert_matches(fn(x.to("mlu"), dim), fn(x, dim))


def test_softmax_of_large_and_infinite_inputs():
    inf = math.inf
    x = torch.tensor([[1000.0, 1000.5, 999.0], [-inf, 0.0, 1.0], [-inf, -inf, -inf], [inf, 0.0, 1.0]])
    with native():
        for fn in (torch.softmax, torch.log_softmax):
            assert_matches(fn(x.to("mlu"), 1), fn(x, 1), equal_nan=True)


def test_softmax_half_to_float_and_dtype_argument():
    x = randn(4, 6, dtype=torch.float16)
    with native():
        out = torch._softmax(x.to("mlu"), 1, True)
        assert out.dtype == torch.float32
        assert_matches(out, torch.softmax(x.float(), 1), rtol=1e-5, atol=1e-6)
        assert_matches(torch.log_softmax(x.to("mlu"), 0, dtype=torch.float32), torch.log_softmax(x.float(), 0))
        grad = torch._softmax_backward_data(randn(4, 6).to("mlu"), out, 1, torch.float16)
        assert grad.dtype == torch.float16
    with pytest.raises(RuntimeError, match="\"softmax\" not implemented for 'Long'"):
        torch.softmax(torch.arange(3, device="mlu"), 0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16], ids=str)
def test_softmax_gradients(dtype):
    with native("_softmax", "_log_softmax", "_softmax_backward_data", "_log_softmax_backward_data"):
        for x in softmax_inputs(dtype)[2:]:
            for dim in (0, -1):
                grads_match(lambda t: torch.softmax(t, dim), x)
                grads_match(lambda t: torch.log_softmax(t, dim), x)


# ---- nll_loss, cross_entropy ----------------------------------------------------------------

def classification(n=6, c=5, spatial=(), dtype=torch.float64):
    logits = randn(n, c, *spatial, dtype=dtype)
    target = torch.randint(0, c, (n, *spatial), generator=GEN)
    return logits, target


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss_matches_cpu(reduction):
    logits, target = classification()
    target[0] = 1  # the unbatched sample is never ignored: its mean would be 0 / 0 on both sides
    weight = torch.rand(5, generator=GEN, dtype=torch.float64) + 0.5
    with native():
        for w in (None, weight):
            for ignore_index in (-100, 2):
                target[1] = ignore_index

                def loss(x, batch=True):
                    t = target.to(x.device) if batch else target[0].to(x.device)
                    return F.nll_loss(x if batch else x[0], t, weight=None if w is None else w.to(x.device),
                                      reduction=reduction, ignore_index=ignore_index)
                grads_match(loss, logits)
                grads_match(lambda x: loss(x, batch=False), logits)
        grads_match(lambda x: F.nll_loss(x, target.to(x.device).to(torch.uint8), reduction=reduction), logits.clamp(0))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_cross_entropy_forward_and_backward_without_fallbacks(dtype):
    logits, target = classification(n=8, c=7, dtype=dtype)
    tol = dict(rtol=1e-2, atol=1e-2) if dtype in (torch.float16, torch.bfloat16) else {}
    with native():
        grads_match(lambda x: F.cross_entropy(x, target.to(x.device)), logits, **tol)
        grads_match(lambda x: F.cross_entropy(x.t().contiguous().t(), target.to(x.device), reduction="sum"), logits,
                    **tol)
        weight = torch.rand(7, generator=GEN).to(dtype)
        grads_match(lambda x: F.cross_entropy(x, target.to(x.device), weight=weight.to(x.device)), logits, **tol)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_spatial_nll_loss_and_cross_entropy(reduction):
    logits, target = classification(n=2, c=4, spatial=(3, 5))
    target[0, 1, 2] = -100
    weight = torch.rand(4, generator=GEN, dtype=torch.float64)
    with native():
        grads_match(lambda x: F.cross_entropy(x, target.to(x.device), reduction=reduction), logits)
        grads_match(lambda x: F.nll_loss(x, target.to(x.device), weight.to(x.device), reduction=reduction), logits,
                    mlu_layout=lambda t: t.contiguous(memory_format=torch.channels_last))


def test_large_losses_split_across_threads_deterministically():
    logits, target = classification(n=40000, c=4, dtype=torch.float32)
    x, y = randn(400, 500), randn(400, 500)
    with native():
        for fn, args in ((lambda a, t: F.cross_entropy(a, t), (logits, target)),
                         (lambda a, b: F.mse_loss(a, b), (x, y)),
                         (lambda a, b: F.softmax(a, 0), (x, y)),
                         (lambda a, b: F.log_softmax(a, 1), (x, y))):
            m = [t.to("mlu") for t in args]
            first, second = fn(*m).cpu(), fn(*m).cpu()
            assert torch.equal(first, second)
            assert_matches(fn(*m), fn(*args))


def test_nll_loss_total_weight_and_empty_batches():
    logits, target = classification()
    m = logits.to("mlu")
    with native():
        for reduction in (0, 1, 2):
            out, total = torch.ops.aten.nll_loss_forward(m, target.to("mlu"), None, reduction, -100)
            expected = torch.ops.aten.nll_loss_forward(logits, target, None, reduction, -100)
            assert_matches(out, expected[0])
            assert_matches(total, expected[1])
        all_ignored = torch.full((6,), -100)
        assert math.isnan(F.nll_loss(m, all_ignored.to("mlu")).item())
        empty = F.cross_entropy(torch.empty(0, 5, device="mlu"), torch.empty(0, dtype=torch.long, device="mlu"),
                                reduction="sum")
        assert empty.item() == 0


def test_out_of_range_target_fails_at_the_next_synchronisation():
    logits, _ = classification()
    target = torch.tensor([0, 7, 1, 2, 3, 4], device="mlu")
    loss = F.cross_entropy(logits.to("mlu"), target)  # launched: the kernel reports later
    with pytest.raises(RuntimeError, match="Target 7 is out of bounds."):
        torch.mlu.synchronize()
    del loss
    with pytest.raises(RuntimeError, match="Target -3 is out of bounds."):
        F.nll_loss(logits.to("mlu"), torch.tensor([0, 1, -3, 2, 3, 4], device="mlu"), reduction="none").cpu()
    assert F.nll_loss(logits.to("mlu"), torch.tensor([0, 1, 2, 3, 4, 0], device="mlu")).isfinite().item()


def test_nll_loss_argument_errors():
    x = torch.randn(3, 4, device="mlu")
    t = torch.tensor([0, 1, 2], device="mlu")
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Int"):
        F.nll_loss(x, t.int())
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        F.nll_loss(x, t, weight=torch.ones(3, device="mlu"))
    with pytest.raises(RuntimeError, match="size mismatch"):
        torch.ops.aten.nll_loss_forward(x, t[:2], None, 1, -100)
    with pytest.raises(RuntimeError, match="input tensor should be 1D or 2D"):
        torch.ops.aten.nll_loss_forward(x[None], t, None, 1, -100)
    with pytest.raises(RuntimeError, match="only batches of spatial targets supported"):
        torch.ops.aten.nll_loss2d_forward(x[None, :, :, None], t, None, 1, -100)


# ---- pointwise losses -------------------------------------------------------------------------

POINTWISE = {
    "mse": lambda x, y, r: F.mse_loss(x, y, reduction=r),
    "l1": lambda x, y, r: F.l1_loss(x, y, reduction=r),
    "smooth_l1": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
    "smooth_l1_beta0": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
    "huber": lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.7),
    "bce": lambda x, y, r: F.binary_cross_entropy(torch.sigmoid(x), torch.sigmoid(y), reduction=r),
    "bce_logits": lambda x, y, r: F.binary_cross_entropy_with_logits(x, torch.sigmoid(y), reduction=r),
}
POINTWISE_OPS = ("mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits")


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("loss", POINTWISE, ids=str)
def test_pointwise_losses_and_gradients(loss, reduction):
    fn = POINTWISE[loss]
    x, y = randn(4, 7), randn(4, 7)
    with native(*POINTWISE_OPS):
        grads_match(lambda a, b: fn(a, b, reduction), x, y)
        grads_match(lambda a, b: fn(a.t(), b[:, ::2].t(), reduction), x, randn(4, 14))  # strided operands
        grads_match(lambda a, b: fn(a, b, reduction), randn(()), randn(()))
        if not loss.startswith("bce"):  # the Python API of binary cross-entropy rejects broadcasting
            grads_match(lambda a, b: fn(a, b, reduction), randn(3, 1, 5), randn(3, 5))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_pointwise_losses_in_every_dtype(dtype):
    x, y = randn(5, 6, dtype=dtype), randn(5, 6, dtype=dtype)
    with native(*POINTWISE_OPS):
        for name, fn in POINTWISE.items():
            for reduction in ("none", "mean"):
                assert_matches(fn(x.to("mlu"), y.to("mlu"), reduction), fn(x, y, reduction))


def test_binary_cross_entropy_weights():
    x, y = torch.rand(4, 3, generator=GEN, dtype=torch.float64), torch.rand(4, 3, generator=GEN, dtype=torch.float64)
    w, pos = torch.rand(3, generator=GEN, dtype=torch.float64), torch.rand(3, generator=GEN, dtype=torch.float64) * 3
    with native(*POINTWISE_OPS):
        for reduction in ("none", "mean", "sum"):
            grads_match(lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction=reduction), x, y, w, grad_of=[0])
            grads_match(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, c, reduction=reduction,
                                                                               pos_weight=d), x * 8 - 4, y, w, pos,
                        grad_of=[0, 1])
        zeros = torch.tensor([0.0, 1.0, 1.0, 0.0])  # log(0) clamps at -100
        assert_matches(F.binary_cross_entropy(zeros.to("mlu"), torch.tensor([1.0, 0.0, 1.0, 0.0], device="mlu")),
                       F.binary_cross_entropy(zeros, torch.tensor([1.0, 0.0, 1.0, 0.0])))


def test_pointwise_loss_errors():
    x = torch.rand(4, device="mlu")
    loss = F.binary_cross_entropy(x + 1.5, x)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        loss.item()
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(RuntimeError, match="\"mse_loss\" not implemented for 'Long'"):
        torch.ops.aten.mse_loss(torch.arange(3, device="mlu"), torch.arange(3, device="mlu"), 1)
    assert F.mse_loss(x, x).item() == 0


# ---- CTC -------------------------------------------------------------------------------------------

def ctc_case(dtype=torch.float32, concatenated=False, tensor_lengths=False, target_dtype=torch.long):
    g = torch.Generator().manual_seed(3)
    steps, batch, classes = 12, 4, 6
    log_probs = torch.randn(steps, batch, classes, generator=g, dtype=dtype).log_softmax(2)
    input_lengths = [12, 9, 5, 3]
    target_lengths = [4, 0, 3, 5]  # sample 3 cannot be aligned: 5 labels in 3 steps
    targets = torch.randint(1, classes, (batch, 5), generator=g, dtype=target_dtype)
    targets[0, :2] = 2  # a repeated label needs a blank between
    if concatenated:
        targets = torch.cat([targets[n, :length] for n, length in enumerate(target_lengths)])
    if tensor_lengths:
        input_lengths, target_lengths = torch.tensor(input_lengths), torch.tensor(target_lengths)
    return log_probs, targets, input_lengths, target_lengths


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("layout", ["padded", "concatenated", "tensor_lengths", "int32", "float64"])
def test_ctc_loss_and_gradient_match_cpu(reduction, layout):
    log_probs, targets, input_lengths, target_lengths = ctc_case(
        dtype=torch.float64 if layout == "float64" else torch.float32,
        concatenated=layout == "concatenated", tensor_lengths=layout == "tensor_lengths",
        target_dtype=torch.int32 if layout == "int32" else torch.long)
    results = []
    for device in ("cpu", "mlu"):
        lp = log_probs.to(device).detach().requires_grad_()
        lengths = [t.to(device) if torch.is_tensor(t) else t for t in (input_lengths, target_lengths)]
        torch.mlu.reset_fallback_stats()
        loss = F.ctc_loss(lp, targets.to(device), *lengths, reduction=reduction, zero_infinity=True)
        loss.sum().backward()
        if device == "mlu":
            assert not any("ctc" in k for k in torch.mlu.fallback_stats()), torch.mlu.fallback_stats()
        results.append((loss.detach().cpu(), lp.grad.cpu()))
    (cpu_loss, cpu_grad), (mlu_loss, mlu_grad) = results
    torch.testing.assert_close(mlu_loss, cpu_loss)
    torch.testing.assert_close(mlu_grad, cpu_grad)


def test_ctc_loss_infinite_without_zero_infinity_and_bad_lengths():
    log_probs, targets, input_lengths, target_lengths = ctc_case()
    loss = F.ctc_loss(log_probs.mlu(), targets.mlu(), input_lengths, target_lengths, reduction="none")
    expected = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    torch.testing.assert_close(loss.cpu(), expected)
    assert loss[3].item() == float("inf")
    with pytest.raises(RuntimeError, match=r"input_lengths to be in \[0, 12\]"):
        F.ctc_loss(log_probs.mlu(), targets.mlu(), [13, 9, 5, 3], target_lengths)
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(log_probs.mlu(), targets.mlu(), input_lengths, target_lengths, blank=6)


def test_ctc_loss_rejects_inconsistent_targets():
    log_probs, targets, input_lengths, target_lengths = ctc_case()
    lp, tg = log_probs.mlu(), targets.mlu()
    with pytest.raises(RuntimeError, match="longer than the padded targets"):
        F.ctc_loss(lp, tg, input_lengths, [4, 0, 3, 6])
    with pytest.raises(RuntimeError, match="negative target length"):
        F.ctc_loss(lp, tg, input_lengths, [4, -1, 3, 5])
    with pytest.raises(RuntimeError, match="int32 or int64 targets"):  # F.ctc_loss converts them
        torch.ops.aten._ctc_loss(lp, tg.float(), input_lengths, target_lengths)
    with pytest.raises(RuntimeError, match="concatenated targets"):
        F.ctc_loss(lp, tg.flatten()[:5], input_lengths, target_lengths)
