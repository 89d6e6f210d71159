"""Native tensor assembly and factories on mlu: cat/stack, split/chunk/repeat, flip, roll,
tril/triu, arange, linspace, full/zeros/ones and eye, compared with CPU, without the fallback."""


import pytest
import torch

from op_helpers import native, sample

ALL_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int16,
              torch.int32, torch.int64, torch.uint8, torch.bool]


def check(mlu_result, cpu_result, **tolerances):
    torch.testing.assert_close(mlu_result.cpu(), cpu_result, **tolerances)


# ---- cat and its compositions ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_cat_dims_and_dtypes(dtype):
    a, b = sample((2, 3, 4), dtype), sample((2, 5, 4), dtype, seed=1)
    with native():
        r1 = torch.cat([a.mlu(), b.mlu()], dim=1)
        r0 = torch.cat([a.mlu(), a.mlu(), a.mlu()])
        r2 = torch.cat([a.mlu(), b.mlu()[:, :3]], dim=-1)
        s = torch.stack([a.mlu(), a.mlu()], dim=2)
    check(r1, torch.cat([a, b], dim=1))
    check(r0, torch.cat([a, a, a]))
    check(r2, torch.cat([a, b[:, :3]], dim=-1))
    check(s, torch.stack([a, a], dim=2))


def test_cat_layouts_promotion_and_out():
    a = sample((2, 3, 4, 5), torch.float32)
    b = sample((2, 3, 4, 5), torch.float16, seed=1)
    legacy_empty = torch.empty(0)
    out = torch.empty(0, device="mlu", dtype=torch.float64)
    with native():
        t = torch.cat([a.mlu().transpose(1, 3), b.mlu().transpose(1, 3)], dim=2)          # non-contiguous, promotes
        cl = torch.cat([a.mlu().to(memory_format=torch.channels_last)] * 2, dim=1)
        e = torch.cat([a.mlu(), legacy_empty.mlu(), a.mlu()], dim=0)
        torch.cat([a.mlu(), b.mlu()], dim=3, out=out)
    check(t, torch.cat([a.transpose(1, 3), b.transpose(1, 3)], dim=2))
    assert t.dtype == torch.float32
    assert cl.is_contiguous(memory_format=torch.channels_last)
    check(cl, torch.cat([a, a], dim=1))
    check(e, torch.cat([a, legacy_empty, a]))
    check(out, torch.cat([a, b], dim=3).double())


def test_cat_gradient_and_errors():
    a, b = sample((2, 3), torch.float32), sample((4, 3), torch.float32, seed=1)
    am, bm = a.mlu().requires_grad_(), b.mlu().requires_grad_()
    g = sample((6, 3), torch.float32, seed=2)
    with native():
        torch.cat([am, bm]).backward(g.mlu())
    check(am.grad, g[:2])
    check(bm.grad, g[2:])
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        torch.cat([a.mlu(), torch.zeros(2, 4, device="mlu")])
    with pytest.raises((RuntimeError, ValueError), match="non-empty list"):  # ValueError since 2.7
        torch.cat([], dim=0)
    with pytest.raises(RuntimeError, match="same device"):
        torch.cat([a.mlu(), a])


def test_views_and_repeat_need_no_kernel():
    x = sample((6, 4), torch.float32)
    with native():
        parts = x.mlu().split([2, 4])
        chunks = x.mlu().chunk(3, dim=0)
        r = x.mlu().repeat(2, 1, 3)
        u = x.mlu().unbind(1)
    for got, want in zip(parts + chunks + u, x.split([2, 4]) + x.chunk(3, dim=0) + x.unbind(1)):
        check(got, want)
    check(r, x.repeat(2, 1, 3))


# ---- flip, roll, tril, triu -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool])
def test_flip(dtype):
    x = sample((3, 4, 5), dtype)
    with native():
        results = [x.mlu().flip(d) for d in ([0], [2], [0, -1], [0, 1, 2], [])]
        t = x.mlu().transpose(0, 2).flip(1)
        z = torch.tensor(1, dtype=dtype).mlu().flip(0)
    for got, d in zip(results, ([0], [2], [0, -1], [0, 1, 2], [])):
        check(got, x.flip(d))
    check(t, x.transpose(0, 2).flip(1))
    check(z, torch.tensor(1, dtype=dtype).flip(0))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.mlu().flip([0, 0])


@pytest.mark.parametrize("shifts,dims", [(2, 0), (-1, 1), (7, None), ((1, 2), (0, 2)), ((1, -3), (1, 1)), (0, 1)])
def test_roll(shifts, dims):
    x = sample((3, 4, 5), torch.float32)
    with native():
        r = x.mlu().roll(shifts, dims) if dims is not None else x.mlu().roll(shifts)
        t = x.mlu().transpose(0, 1).roll(shifts, dims) if dims is not None else None
    check(r, x.roll(shifts, dims) if dims is not None else x.roll(shifts))
    if t is not None:
        check(t, x.transpose(0, 1).roll(shifts, dims))


@pytest.mark.parametrize("diagonal", [0, 1, -2, 5, -5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.bool])
def test_tril_triu(diagonal, dtype):
    x = sample((2, 4, 6), dtype)
    with native():
        lo, up = x.mlu().tril(diagonal), x.mlu().triu(diagonal)
        t = x.mlu().transpose(1, 2).triu(diagonal)
        inplace = x.mlu()
        inplace.tril_(diagonal)
    check(lo, x.tril(diagonal))
    check(up, x.triu(diagonal))
    check(t, x.transpose(1, 2).triu(diagonal))
    check(inplace, x.tril(diagonal))


def test_tril_gradient_and_errors():
    x = sample((4, 4), torch.float32)
    xm = x.mlu().requires_grad_()
    g = sample((4, 4), torch.float32, seed=3)
    with native():
        xm.tril(-1).backward(g.mlu())
    check(xm.grad, g.tril(-1))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        torch.ones(3, device="mlu").tril()


# ---- factories --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,dtype", [
    ((10,), None), ((2, 11, 3), None), ((5, -3, -2), None), ((0.5, 3.0, 0.25), None),
    ((0, 1, 0.1), torch.float64), ((1, 20, 3), torch.int32), ((0, 8), torch.float16),
    ((-2, 3), torch.bfloat16), ((0, 0), None), ((3, 250, 7), torch.uint8),
])
def test_arange(args, dtype):
    with native():
        r = torch.arange(*args, dtype=dtype, device="mlu")
    check(r, torch.arange(*args, dtype=dtype))


def test_arange_out_and_errors():
    out = torch.empty(3, dtype=torch.int64, device="mlu")
    with native(), pytest.warns(UserWarning, match="does not match the computed number of elements 5"):
        torch.arange(4, 9, out=out)
    check(out, torch.arange(4, 9))
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        torch.arange(0, 3, 0, device="mlu")
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent"):
        torch.arange(0, 3, -1, device="mlu")


@pytest.mark.parametrize("start,end,steps,dtype", [
    (0, 1, 11, torch.float32), (-3.5, 2, 7, torch.float64), (0, 10, 4, torch.int64), (5, -5, 6, torch.float16),
    (1, 2, 1, torch.float32), (1, 2, 0, torch.float32), (0, 1, 1000, torch.float32),
])
def test_linspace(start, end, steps, dtype):
    with native():
        r = torch.linspace(start, end, steps, dtype=dtype, device="mlu")
    check(r, torch.linspace(start, end, steps, dtype=dtype))


@pytest.mark.parametrize("start,end,steps,base,dtype", [
    (0, 2, 5, 10.0, torch.float32), (-1, 3, 9, 2.0, torch.float64), (0, 3, 4, 2.0, torch.int64),
    (1, 0, 6, 10.0, torch.bfloat16), (2, 2, 1, 3.0, torch.float32),
])
def test_logspace(start, end, steps, base, dtype):
    with native():
        r = torch.logspace(start, end, steps, base, dtype=dtype, device="mlu")
    check(r, torch.logspace(start, end, steps, base, dtype=dtype))


@pytest.mark.parametrize("row,col,offset", [(4, 4, 0), (3, 5, 1), (5, 3, -2), (4, 6, 10), (4, 4, -10), (0, 3, 0)])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_triangle_indices(row, col, offset, dtype):
    with native():
        lo = torch.tril_indices(row, col, offset, dtype=dtype, device="mlu")
        up = torch.triu_indices(row, col, offset, dtype=dtype, device="mlu")
    check(lo, torch.tril_indices(row, col, offset, dtype=dtype))
    check(up, torch.triu_indices(row, col, offset, dtype=dtype))


def test_full_zeros_ones_eye():
    with native():
        f = torch.full((2, 3), 7.5, device="mlu")
        z = torch.zeros(4, dtype=torch.int16, device="mlu")
        o = torch.ones(2, 2, dtype=torch.bool, device="mlu")
        fl = torch.full_like(f, -1)
        e = torch.eye(3, device="mlu")
        em = torch.eye(2, 5, dtype=torch.int64, device="mlu")
        e0 = torch.eye(0, 3, device="mlu")
    check(f, torch.full((2, 3), 7.5))
    check(z, torch.zeros(4, dtype=torch.int16))
    check(o, torch.ones(2, 2, dtype=torch.bool))
    check(fl, torch.full((2, 3), -1.0))
    check(e, torch.eye(3))
    check(em, torch.eye(2, 5, dtype=torch.int64))
    assert e0.shape == (0, 3)
    with pytest.raises(RuntimeError, match="n must be greater or equal to 0"):
        torch.eye(-1, device="mlu")
