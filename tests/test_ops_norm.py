"""Native normalisations (batch norm, layer norm, group norm) against the CPU."""

import pytest
import torch
import torch.nn.functional as F

TOLERANCE = {
    torch.float32: dict(atol=1e-4, rtol=1e-4),
    torch.float64: dict(atol=1e-10, rtol=1e-10),
    torch.float16: dict(atol=1e-2, rtol=1e-2),
    torch.bfloat16: dict(atol=5e-2, rtol=5e-2),
}
NORM_OPS = ("aten::native_batch_norm", "aten::_native_batch_norm_legit", "aten::_batch_norm_with_update",
            "aten::batch_norm_backward", "aten::native_layer_norm", "aten::native_group_norm")


@pytest.fixture(autouse=True)
def _no_fallback():
    torch.mlu.reset_fallback_stats()
    yield
    used = [k for k in torch.mlu.fallback_stats() if k.startswith(NORM_OPS)]
    assert not used, f"normalisations ran on the CPU fallback: {used}"


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape) + 7), dtype=dtype)


def check(fn, inputs, dtype=torch.float32, memory_format=None):
    """Runs fn on CPU and mlu copies of inputs (floating ones require grad, only the first is in
    dtype: the parameters of 16-bit normalisations stay float32); compares outputs and grads."""
    def prepare(device):
        out = []
        for i, t in enumerate(inputs):
            t = t.to(dtype) if i == 0 else t
            t = t.detach().to(device)
            if i == 0 and memory_format is not None:
                t = t.contiguous(memory_format=memory_format)
            out.append(t.requires_grad_(t.is_floating_point()))
        return out

    cpu, mlu = prepare("cpu"), prepare("mlu")
    expected, actual = fn(*cpu), fn(*mlu)
    torch.testing.assert_close(actual.cpu(), expected, **TOLERANCE[dtype])
    grad = randn(*expected.shape, dtype=expected.dtype)
    expected.backward(grad)
    actual.backward(grad.to("mlu"))
    for c, m in zip(cpu, mlu):
        if c.grad is not None:
            torch.testing.assert_close(m.grad.cpu(), c.grad, **TOLERANCE[dtype])
    return actual


# Planes of 16 elements or more sum in lanes (with a tail: 30, 323), smaller ones channel by channel.
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 7), (2, 3, 5, 6), (2, 3, 2, 3, 4), (3, 4, 17, 19),
                                   (2, 3, 16, 16), (37, 70)])
def test_batch_norm_training(shape):
    c = shape[1]
    running = [torch.zeros(c), torch.ones(c)]
    running_mlu = [t.mlu() for t in running]
    fn = lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-3)
    x, w, b = randn(*shape) * 3 + 1, randn(c), randn(c)
    cpu_out = fn(x, w, b, *running)
    mlu_out = fn(x.mlu(), w.mlu(), b.mlu(), *running_mlu)
    torch.testing.assert_close(mlu_out.cpu(), cpu_out, atol=1e-4, rtol=1e-4)
    for r, m in zip(running, running_mlu):  # momentum update with the unbiased variance
        torch.testing.assert_close(m.cpu(), r, atol=1e-5, rtol=1e-5)
    check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])


def test_batch_norm_eval_and_without_affine():
    x, rm, rv, w, b = randn(3, 4, 5, 5), randn(4), randn(4).abs() + 0.5, randn(4), randn(4)
    check(lambda x, w, b: F.batch_norm(x, rm.to(x.device), rv.to(x.device), w, b, training=False), [x, w, b])
    check(lambda x: F.batch_norm(x, None, None, training=True), [x])
    check(lambda x: F.batch_norm(x, rm.to(x.device), rv.to(x.device), training=False), [x])


def test_batch_norm_module_training_steps():
    torch.manual_seed(0)
    cpu = torch.nn.BatchNorm2d(6)
    mlu = torch.nn.BatchNorm2d(6).mlu()
    mlu.load_state_dict(cpu.state_dict())
    for step in range(3):
        x = randn(4, 6, 5, 5) + step
        torch.testing.assert_close(mlu(x.mlu()).cpu(), cpu(x), atol=1e-4, rtol=1e-4)
    for name, value in cpu.state_dict().items():
        torch.testing.assert_close(mlu.state_dict()[name].cpu(), value, atol=1e-5, rtol=1e-5)
    cpu.eval(), mlu.eval()
    x = randn(2, 6, 3, 3)
    torch.testing.assert_close(mlu(x.mlu()).cpu(), cpu(x), atol=1e-4, rtol=1e-4)


def test_batch_norm_gradient_strided_unlike_the_input():
    x, w, b = randn(3, 4, 9, 20), randn(4), randn(4)
    grad = randn(3, 4, 20, 9).transpose(2, 3)
    outs = []
    for device in ("cpu", "mlu"):
        xd, wd, bd = (t.detach().to(device).requires_grad_() for t in (x, w, b))
        F.batch_norm(xd, None, None, wd, bd, training=True).backward(grad.to(device))
        outs.append([t.grad.cpu() for t in (xd, wd, bd)])
    for expected, actual in zip(*outs):
        torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fmt", [torch.channels_last, None])
@pytest.mark.parametrize("shape", [(2, 5, 4, 6), (3, 40, 5, 7)])
def test_batch_norm_layouts(fmt, shape):
    x, w, b = randn(*shape), randn(shape[1]), randn(shape[1])
    out = check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b], memory_format=fmt)
    if fmt is not None:
        assert out.is_contiguous(memory_format=fmt)
    x = randn(6, 5, 4, 3)
    check(lambda x, w, b: F.batch_norm(x.transpose(0, 1), None, None, w, b, training=True), [x, randn(6), randn(6)])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_batch_norm_dtypes(dtype):
    x, w, b = randn(3, 4, 5, 5), randn(4), randn(4)
    if dtype == torch.float64:
        w, b = w.double(), b.double()
    check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b], dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("training", [True, False])
def test_16_bit_batch_norm_is_float32_batch_norm_rounded(training, dtype):
    # The kernel computes 16-bit types in float32, and contiguous operands run through float32
    # copies: the results must be those of float32 on the widened values, bit for bit.
    gen = torch.Generator().manual_seed(11)
    x, dy = (torch.randn(4, 6, 9, 7, generator=gen).to(dtype).mlu() for _ in range(2))
    w, b = (torch.randn(6, generator=gen).mlu() for _ in range(2))
    rm, rv = torch.randn(6, generator=gen).mlu(), (torch.rand(6, generator=gen) + 0.5).mlu()
    results = []
    for x_, dy_ in ((x, dy), (x.float(), dy.float())):
        running = (rm.clone(), rv.clone())
        out, mean, invstd = torch.native_batch_norm(x_, w, b, *running, training, 0.1, 1e-5)
        grads = torch.ops.aten.native_batch_norm_backward(dy_, x_, w, *running, mean, invstd, training,
                                                          1e-5, [True, True, True])
        results.append((out, grads[0], mean, invstd, grads[1], grads[2], *running))
    half, wide = results
    assert half[0].dtype == half[1].dtype == dtype
    for h, f in zip(half, wide):  # the float32 results rounded by the CPU
        assert torch.equal(h.cpu(), f.cpu().to(h.dtype))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_channels_sum_alone_as_together(training):
    # The kernel sums several channels side by side; each channel's sums must keep their order, so
    # a channel normalised with its 12 neighbours gives the bits it gives alone.
    gen = torch.Generator().manual_seed(3)
    x, dy = (torch.randn(5, 13, 11, 9, generator=gen).mlu() * 4 + 1 for _ in range(2))
    w, b, rm = (torch.randn(13, generator=gen).mlu() for _ in range(3))
    rv = (torch.rand(13, generator=gen) + 0.5).mlu()

    def run(x, dy, w, b, rm, rv):
        running = (rm.clone(), rv.clone())
        out, mean, invstd = torch.native_batch_norm(x, w, b, *running, training, 0.1, 1e-5)
        grads = torch.ops.aten.native_batch_norm_backward(dy, x, w, *running, mean, invstd, training, 1e-5,
                                                          [True, True, True])
        return out, mean, invstd, *grads, *running

    together = run(x, dy, w, b, rm, rv)
    for c in range(13):
        alone = run(*(t[:, c:c + 1].contiguous() if t.dim() == 4 else t[c:c + 1] for t in (x, dy, w, b, rm, rv)))
        for t, a in zip(together, alone):
            if t.numel():
                assert torch.equal(t[:, c:c + 1].cpu() if t.dim() == 4 else t[c:c + 1].cpu(), a.cpu())


def test_batch_norm_statistics_dtype_and_export_variants():
    x, w, b = randn(3, 4, 5), randn(4), randn(4)
    rm, rv = torch.zeros(4), torch.ones(4)
    for device in ("cpu", "mlu"):
        args = [t.to(device) for t in (x.bfloat16(), w, b, rm.clone(), rv.clone())]
        out, mean, invstd = torch.ops.aten._native_batch_norm_legit(*args, True, 0.1, 1e-5)
        assert mean.dtype == torch.float32 and out.dtype == torch.bfloat16
        out, mean, invstd, reserve = torch.ops.aten._batch_norm_with_update(*args, 0.1, 1e-5)
        grads = torch.ops.aten.batch_norm_backward(out, args[0], w.to(device), args[3], args[4], mean, invstd, True,
                                                   1e-5, [True, True, True], reserve)
        if device == "cpu":
            expected = (out, mean, invstd, *grads)
        else:
            for e, a in zip(expected, (out, mean, invstd, *grads)):
                torch.testing.assert_close(a.cpu(), e, **TOLERANCE[torch.bfloat16])
    _, mean, _ = torch.native_batch_norm(x.mlu(), None, None, rm.mlu(), rv.mlu(), False, 0.1, 1e-5)
    assert mean.shape == (0,)


def test_batch_norm_errors():
    x = torch.randn(2, 3, 4, device="mlu")
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        torch.native_batch_norm(x, None, None, torch.zeros(4, device="mlu"), None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match="at least one element"):
        torch.native_batch_norm(x[:0], None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.native_batch_norm(x.long(), None, None, None, None, True, 0.1, 1e-5)


@pytest.mark.parametrize("shape,normalized", [((4, 10), (10,)), ((2, 3, 8), (8,)), ((2, 3, 4, 5), (4, 5)), ((7,), (7,))])
def test_layer_norm(shape, normalized):
    check(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-4), [randn(*shape) * 2 + 3,
                                                                        randn(*normalized), randn(*normalized)])
    check(lambda x: F.layer_norm(x, normalized), [randn(*shape)])


def test_layer_norm_non_contiguous_and_statistics():
    x = randn(6, 4, 5)
    check(lambda x, w: F.layer_norm(x.transpose(0, 2), (6,), w), [x, randn(6)])
    out, mean, rstd = torch.native_layer_norm(x.mlu(), [5], None, None, 1e-5)
    ref = torch.native_layer_norm(x, [5], None, None, 1e-5)
    assert mean.shape == ref[1].shape == (6, 4, 1)
    torch.testing.assert_close(rstd.cpu(), ref[2])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_layer_norm_dtypes(dtype):
    w, b = randn(16), randn(16)
    if dtype == torch.float64:
        w, b = w.double(), b.double()
    check(lambda x, w, b: F.layer_norm(x, (16,), w, b), [randn(3, 5, 16), w, b], dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("norm", ["layer", "group"])
@pytest.mark.parametrize("input_grad", [True, False])
def test_16_bit_row_norms_are_float32_row_norms_rounded(input_grad, norm, dtype):
    # 16-bit rows are widened to float32 once and the results rounded once: the outputs and
    # gradients must be float32's on the widened values, bit for bit (rows of 37 and 70 elements
    # leave tails after the 8- and 16-wide conversions).
    gen = torch.Generator().manual_seed(5)
    shape = (6, 37) if norm == "layer" else (4, 6, 5, 7)
    x, dy = (torch.randn(*shape, generator=gen).mul(3).add(1).to(dtype) for _ in range(2))
    w, b = (torch.randn(shape[1] if norm == "group" else 37, generator=gen) for _ in range(2))
    fn = ((lambda x, w, b: F.layer_norm(x, (37,), w, b, eps=1e-5)) if norm == "layer"
          else (lambda x, w, b: F.group_norm(x, 3, w, b, eps=1e-5)))
    results = []
    for x_, dy_ in ((x, dy), (x.float(), dy.float())):
        inputs = [t.mlu().requires_grad_(input_grad or i > 0) for i, t in enumerate((x_, w, b))]
        out = fn(*inputs)
        out.backward(dy_.mlu())
        results.append([out] + [t.grad for t in inputs if t.grad is not None])
    half, wide = results
    assert half[0].dtype == dtype and len(half) == (4 if input_grad else 3)
    if input_grad:
        assert half[1].dtype == dtype
    for h, f in zip(half, wide):
        assert torch.equal(h.cpu(), f.cpu().to(h.dtype))


def test_layer_norm_errors():
    x = torch.randn(2, 3, 4, device="mlu")
    with pytest.raises(RuntimeError, match="expected input with shape \\[\\*, 5\\]"):
        F.layer_norm(x, (5,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(x, (4,), torch.ones(3, device="mlu"))


@pytest.mark.parametrize("shape,groups", [((2, 6, 4, 4), 3), ((3, 4, 5), 2), ((2, 8), 4), ((1, 6, 2, 2, 3), 6)])
def test_group_norm(shape, groups):
    c = shape[1]
    check(lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-4), [randn(*shape) * 2 - 1, randn(c), randn(c)])
    check(lambda x: F.group_norm(x, groups), [randn(*shape)])


def test_group_norm_channels_last_and_dtypes():
    x, w, b = randn(2, 6, 3, 4), randn(6), randn(6)
    check(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b], memory_format=torch.channels_last)
    check(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b], dtype=torch.bfloat16)
    check(lambda x, w, b: F.group_norm(x, 3, w, b), [x, w.double(), b.double()], dtype=torch.float64)


def test_group_norm_errors():
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(torch.randn(2, 6, 4, device="mlu"), 4)


@pytest.mark.parametrize("dim", [0, 2, None])
def test_weight_norm_forward_and_gradients_match_cpu(dim):
    # dim 0 and the last dim take the fused _weight_norm_interface, None the composite.
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10)
    results = []
    for device in ("cpu", "mlu"):
        torch.manual_seed(1)
        conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(3, 4, 3), dim=dim).to(device)
        torch.mlu.reset_fallback_stats()
        out = conv(x.to(device))
        out.square().sum().backward()
        if device == "mlu":
            assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
        p = conv.parametrizations.weight
        results.append((out.detach().cpu(), p.original0.grad.cpu(), p.original1.grad.cpu()))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
