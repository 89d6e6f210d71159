"""Native pooling (max, average, adaptive) against the CPU."""

import pytest
import torch
import torch.nn.functional as F

TOLERANCE = {
    torch.float32: dict(atol=1e-5, rtol=1e-5),
    torch.float64: dict(atol=1e-12, rtol=1e-12),
    torch.float16: dict(atol=1e-2, rtol=1e-2),
    torch.bfloat16: dict(atol=5e-2, rtol=5e-2),
}
OPS = ("aten::max_pool", "aten::avg_pool", "aten::_adaptive", "aten::adaptive")


@pytest.fixture(autouse=True)
def _no_fallback():
    torch.mlu.reset_fallback_stats()
    yield
    used = [k for k in torch.mlu.fallback_stats() if k.startswith(OPS)]
    assert not used, f"operators ran on the CPU fallback: {used}"


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape) + 3), dtype=dtype)


def check(fn, x, dtype=torch.float32, memory_format=None, grad=True):
    """Compares fn(x) and, with grad, d(fn(x))/dx on mlu with the CPU; tuple results compare
    every element and differentiate the first."""
    cpu = x.to(dtype).detach().requires_grad_(grad)
    mlu = x.to(dtype).to("mlu")
    if memory_format is not None:
        mlu = mlu.contiguous(memory_format=memory_format)
    mlu = mlu.detach().requires_grad_(grad)
    expected, actual = fn(cpu), fn(mlu)
    expected_all = expected if isinstance(expected, tuple) else (expected,)
    actual_all = actual if isinstance(actual, tuple) else (actual,)
    for e, a in zip(expected_all, actual_all):
        torch.testing.assert_close(a.cpu(), e, equal_nan=True, **TOLERANCE.get(dtype, {}))
    if grad:
        g = randn(*expected_all[0].shape, dtype=dtype)
        expected_all[0].backward(g)
        actual_all[0].backward(g.to("mlu"))
        torch.testing.assert_close(mlu.grad.cpu(), cpu.grad, **TOLERANCE[dtype])
    return actual_all[0]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), ((2, 3), (1, 2), (1, 1), (2, 1), False),
    (3, 3, 0, 1, True),
])
def test_max_pool2d(kernel, stride, padding, dilation, ceil_mode):
    fn = lambda x: F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    check(fn, randn(2, 3, 11, 10))
    check(fn, randn(3, 9, 8))  # unbatched


def test_max_pool2d_channels_last_and_ties():
    out = check(lambda x: F.max_pool2d(x, 3, 2, 1), randn(2, 8, 9, 9), memory_format=torch.channels_last)
    assert out.is_contiguous(memory_format=torch.channels_last)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = float("nan")
    check(lambda x: F.max_pool2d(x, 2, return_indices=True), x, grad=False)
    check(lambda x: F.max_pool2d(x, 2, return_indices=True), torch.ones(1, 2, 4, 4))


@pytest.mark.parametrize("layout", ["rows", "channels_last", "dilated"])
def test_max_pool_nan_infinity_and_tie_positions_match_the_cpu(layout):
    # Several NaNs in a window (the last one's position wins), negative NaN, -inf everywhere, ties.
    x = torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(5)).round()
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = float("nan")
    x[0, 1, 3, 3] = -float("nan")
    x[1, 0] = -float("inf")
    x[1, 1, 4:7, 4:7] = 2.0
    kwargs = dict(dilation=2) if layout == "dilated" else {}
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    results = []
    for device in ("cpu", "mlu"):
        xs = x.to(device).contiguous(memory_format=fmt)
        out, idx = F.max_pool2d(xs, 3, 2, 1, return_indices=True, **kwargs)
        results.append((out.cpu(), idx.cpu()))
    (cpu_out, cpu_idx), (mlu_out, mlu_idx) = results
    assert torch.equal(mlu_idx, cpu_idx)
    assert torch.equal(mlu_out.isnan(), cpu_out.isnan())
    assert torch.equal(mlu_out.nan_to_num(), cpu_out.nan_to_num())
    assert torch.equal(mlu_out.isnan() & mlu_out.signbit(), cpu_out.isnan() & cpu_out.signbit())


@pytest.mark.parametrize("kernel,stride,padding", [(3, 2, 1), (3, 1, 1), (2, 2, 0), (2, 1, 0), (3, 2, 0)])
def test_max_pool_rows_wider_than_a_vector_match_the_cpu_exactly(kernel, stride, padding):
    # Rows of full windows are computed 16 outputs at once (8 in rows of at most 8): rows of 70
    # have several chunks and a partial one. Ties (rounded values, +0 and -0), NaNs in the first
    # and in a later chunk, and -inf rows.
    x = torch.randn(2, 3, 9, 70, generator=torch.Generator().manual_seed(7)).round()
    x[0, 0, 2, 5] = float("nan")
    x[0, 0, 4, 50] = float("nan")
    x[0, 1, 3, 40] = -float("nan")
    x[0, 2, :, 20:40] = -0.0
    x[0, 2, :, 30:34] = 0.0
    x[1, 0, 5] = -float("inf")
    results = []
    for device in ("cpu", "mlu"):
        out, idx = F.max_pool2d(x.to(device), kernel, stride, padding, return_indices=True)
        adaptive, adaptive_idx = F.adaptive_max_pool2d(x.to(device), (3, 35), return_indices=True)
        results.append([t.cpu() for t in (out, idx, adaptive, adaptive_idx)])
    for cpu, mlu in zip(*results):
        assert torch.equal(mlu.isnan(), cpu.isnan())
        assert torch.equal(mlu.nan_to_num(), cpu.nan_to_num())
        if cpu.is_floating_point():
            assert torch.equal(mlu.signbit(), cpu.signbit())


def test_max_pool1d_and_3d():
    check(lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True), randn(2, 4, 15))
    check(lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), return_indices=True), randn(2, 2, 5, 7, 6))
    check(lambda x: F.max_pool3d(x, 2, ceil_mode=True), randn(3, 5, 5, 5))
    check(lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), return_indices=True),
          randn(2, 4, 5, 7, 6), memory_format=torch.channels_last_3d)
    # A depth-1 input padded to an output depth of 2, and its adaptive form.
    check(lambda x: F.max_pool3d(x, 2, 1, 1, return_indices=True), randn(2, 3, 1, 6, 6))
    check(lambda x: F.adaptive_max_pool3d(x, (2, 3, 3), return_indices=True), randn(2, 3, 1, 6, 6))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_max_pool_dtypes(dtype):
    check(lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True), randn(2, 3, 8, 8), dtype=dtype)


def test_max_pool_integers_and_non_contiguous():
    x = torch.randint(-100, 100, (2, 3, 7, 7))
    for dtype in (torch.int64, torch.int32, torch.uint8):
        check(lambda x: F.max_pool2d(x, 2, return_indices=True), x.to(dtype), dtype=dtype, grad=False)
    check(lambda x: F.max_pool2d(x.transpose(2, 3)[:, :, 1:], 2, return_indices=True), randn(2, 3, 9, 8))


def test_max_pool_errors():
    x = torch.randn(1, 2, 4, 4, device="mlu")
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(x, 5, padding=0)
    with pytest.raises(RuntimeError, match="kernel_size must either be a single int, or a tuple of 2 ints"):
        torch.ops.aten.max_pool2d_with_indices(x, [2, 2, 2])
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.max_pool2d(torch.randn(2, 3, 0, 4, device="mlu"), 2)


def test_max_pool_backward_bad_index_is_reported():
    x = torch.randn(1, 1, 4, 4, device="mlu")
    indices = torch.full((1, 1, 2, 2), 99, dtype=torch.long, device="mlu")
    grad = torch.ops.aten.max_pool2d_with_indices_backward(torch.ones(1, 1, 2, 2, device="mlu"), x, [2, 2], [2, 2],
                                                           [0, 0], [1, 1], False, indices)
    with pytest.raises(RuntimeError, match="index 99 is out of bounds"):
        grad.cpu()


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad,divisor", [
    (2, None, 0, False, True, None), (3, 2, 1, False, True, None), (3, 2, 1, True, False, None),
    ((3, 2), (2, 1), (1, 1), True, True, None), (3, 2, 1, False, True, 5),
])
def test_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad, divisor):
    fn = lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    check(fn, randn(2, 3, 9, 10))
    check(fn, randn(2, 8, 7, 7), memory_format=torch.channels_last)


def test_avg_pool1d_3d_and_dtypes():
    check(lambda x: F.avg_pool1d(x, 3, 2, 1), randn(2, 3, 11))
    check(lambda x: F.avg_pool3d(x, 2, 2, 1, True, False), randn(2, 3, 5, 6, 7))
    check(lambda x: F.avg_pool2d(x, 2), randn(2, 3, 6, 6), dtype=torch.bfloat16)
    check(lambda x: F.avg_pool2d(x, 3, 1, 1), randn(2, 3, 6, 6), dtype=torch.float64)
    x = torch.randint(-50, 50, (2, 2, 6, 6))
    torch.testing.assert_close(F.avg_pool2d(x.mlu(), 3, 2, 1).cpu(), F.avg_pool2d(x, 3, 2, 1))


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (4, 5), (7, 2)])
def test_adaptive_avg_pool2d(size):
    check(lambda x: torch.ops.aten._adaptive_avg_pool2d(x, size), randn(2, 3, 9, 10))
    check(lambda x: F.adaptive_avg_pool2d(x, size), randn(3, 7, 6))


def test_adaptive_avg_pool_layouts_1d_3d():
    check(lambda x: F.adaptive_avg_pool2d(x, 3), randn(2, 8, 7, 7), memory_format=torch.channels_last)
    check(lambda x: F.adaptive_avg_pool1d(x, 4), randn(2, 3, 10))
    check(lambda x: F.adaptive_avg_pool3d(x, (2, 3, 4)), randn(2, 2, 5, 6, 7))
    check(lambda x: F.adaptive_avg_pool2d(x, 3), randn(1, 2, 8, 8), dtype=torch.float16)


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (4, 5)])
def test_adaptive_max_pool(size):
    check(lambda x: F.adaptive_max_pool2d(x, size, return_indices=True), randn(2, 3, 9, 10))
    check(lambda x: F.adaptive_max_pool3d(x, (2,) + size, return_indices=True), randn(1, 2, 5, 9, 10))
    check(lambda x: F.adaptive_max_pool1d(x, 4, return_indices=True), randn(2, 3, 11))


def test_empty_batch():
    check(lambda x: F.max_pool2d(x, 2), torch.randn(0, 3, 4, 4))
    check(lambda x: F.avg_pool2d(x, 2), torch.randn(0, 3, 4, 4))
