"""Native reductions (sum, nansum, mean, prod, amax/amin, aminmax, max/min, argmax/argmin, var/std,
norms, any/all, count_nonzero, logsumexp), cumsum, cumprod, sort and topk: results and gradients
match the CPU, nothing falls back."""

import math

import pytest
import torch

from op_helpers import native

FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INTS = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8]
GEN = torch.Generator().manual_seed(0)


def make(shape, dtype, low=-3, high=3):
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=GEN).bool()
    if not dtype.is_floating_point:
        low = 0 if dtype == torch.uint8 else low
        return torch.randint(low, high, shape, generator=GEN).to(dtype)
    return (torch.rand(shape, generator=GEN, dtype=torch.float64) * (high - low) + low).to(dtype)


def layouts(dtype, maker=make):
    """(name, cpu tensor): 0-d, empty, contiguous, transposed, sliced, channels_last, expanded."""
    return [
        ("scalar", maker((), dtype)),
        ("empty", maker((4, 0, 3), dtype)),
        ("vector", maker((37,), dtype)),
        ("matrix", maker((6, 9), dtype)),
        ("3d", maker((3, 5, 7), dtype)),
        ("transposed", maker((9, 6), dtype).t()),
        ("sliced", maker((5, 12), dtype)[1:, ::3]),
        ("channels_last", maker((2, 3, 4, 5), dtype).contiguous(memory_format=torch.channels_last)),
        ("expanded", maker((5, 1), dtype).expand(5, 6)),
    ]


def dim_choices(ndim):
    if ndim == 0:
        return [None, 0]
    choices = [None, 0, -1]
    if ndim >= 2:
        choices.append((0, ndim - 1))
    if ndim >= 3:
        choices.append((1, 2))
    return choices


def reduces_empty_dim(x, dim):
    dims = range(x.dim()) if dim is None else [dim] if isinstance(dim, int) else dim
    return x.dim() > 0 and any(x.shape[d] == 0 for d in dims)


def tolerance(dtype):
    if dtype == torch.float16:
        return dict(rtol=2e-3, atol=2e-3)
    if dtype == torch.bfloat16:
        return dict(rtol=2e-2, atol=2e-2)
    return {}


def check(fn, x, dtype=None, **kw):
    expected = fn(x)
    actual = fn(x.to("mlu"))
    if isinstance(expected, tuple):
        for a, e in zip(actual, expected):
            assert a.device.type == "mlu"
            torch.testing.assert_close(a.cpu(), e, **tolerance(dtype or x.dtype), **kw)
    else:
        assert actual.device.type == "mlu"
        torch.testing.assert_close(actual.cpu(), expected, **tolerance(dtype or x.dtype), **kw)


# ---- sum, mean, prod ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS + INTS + [torch.bool], ids=str)
def test_sum_over_dims_and_layouts(dtype):
    with native():
        for _, x in layouts(dtype):
            for dim in dim_choices(x.dim()):
                for keepdim in (False, True):
                    if dim is None:
                        check(lambda t: t.sum(), x)
                    else:
                        check(lambda t: t.sum(dim, keepdim=keepdim), x)


@pytest.mark.parametrize("shape,dim", [((3000,), 0), ((5, 700), 1), ((300, 40), 0), ((9, 300), 0)],
                         ids=["long run", "rows", "lanes", "wide lanes"])
def test_float16_reductions_of_long_runs_and_wide_lanes(shape, dim):
    # Contiguous float16 is widened in blocks (F16C) before it is reduced: runs longer than a
    # block, lanes wider than one, with infinities, NaN and subnormals, as PyTorch CPU does them.
    x = make(shape, torch.float16)
    special = x.clone()
    flat = special.view(-1)
    flat[3], flat[257], flat[-2] = math.inf, -math.inf, math.nan
    tiny = make(shape, torch.float16, low=-6e-5, high=6e-5)  # mostly float16 subnormals
    with native():
        for t in (x, special, tiny):
            for fn in (lambda v: v.sum(dim), lambda v: v.mean(dim), lambda v: v.amax(dim),
                       lambda v: v.var(dim), lambda v: v.norm(dim=dim)):
                expected = fn(t)
                scale = expected.float().abs().nan_to_num(posinf=0).max().item()
                torch.testing.assert_close(fn(t.to("mlu")).cpu(), expected, rtol=2e-3,
                                           atol=2e-3 * scale, equal_nan=True)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_mean_over_dims_and_layouts(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in dim_choices(x.dim()):
                kw = dict(equal_nan=True) if name == "empty" else {}
                if dim is None:
                    check(lambda t: t.mean(), x, **kw)
                else:
                    check(lambda t: t.mean(dim, keepdim=True), x, **kw)


def test_sum_and_mean_dtypes_and_out():
    x = make((4, 6), torch.int32)
    with native("sum", "mean"):
        assert x.to("mlu").sum().dtype == torch.int64
        check(lambda t: t.sum(1, dtype=torch.float64), x, dtype=torch.float64)
        check(lambda t: t.sum(dtype=torch.int16), x)
        h = make((4, 6), torch.float16)
        check(lambda t: t.sum(0, dtype=torch.float32), h, dtype=torch.float32)
        check(lambda t: t.mean(0, dtype=torch.float64), h, dtype=torch.float64)
        out = torch.empty(4, device="mlu", dtype=torch.float64)
        torch.sum(x.to("mlu"), 1, out=out)
        torch.testing.assert_close(out.cpu(), x.sum(1).double())
        out = torch.empty(0, device="mlu")
        torch.mean(h.float().to("mlu"), (0, 1), keepdim=True, out=out)
        torch.testing.assert_close(out.cpu(), h.float().mean((0, 1), keepdim=True))
        assert torch.tensor([True, True], device="mlu").sum(dtype=torch.bool).item() is True


def test_float32_sums_are_accurate_in_every_layout():
    x = torch.rand(1 << 20, generator=GEN) + 100
    exact = x.double().sum()
    with native("sum"):
        assert abs(x.to("mlu").sum().item() - exact.item()) <= 1e-6 * exact.item()
        m = x.reshape(4096, 256)  # an outer reduction: rows accumulate into lanes
        torch.testing.assert_close(m.to("mlu").sum(0).cpu().double(), m.double().sum(0), rtol=1e-6, atol=0)
        torch.testing.assert_close(m.to("mlu").t().sum(1).cpu().double(), m.double().sum(0), rtol=1e-6, atol=0)
        c = x.reshape(64, 128, 128)  # a reduction over the outer and the inner dims
        torch.testing.assert_close(c.to("mlu").sum((0, 2)).cpu().double(), c.double().sum((0, 2)), rtol=1e-6, atol=0)


def test_nansum_and_count_nonzero():
    x = make((4, 6), torch.float32)
    x[1, 2] = x[3, 0] = float("nan")
    x[0, 1] = x[2, 2] = 0
    with native():
        check(lambda t: (t.nansum(), t.nansum(1), t.nansum(0, keepdim=True)), x)
        check(lambda t: torch.nansum(t, dtype=torch.float64), x, dtype=torch.float64)
        check(lambda t: torch.nansum(t), make((3, 4), torch.int32))
        check(lambda t: (torch.count_nonzero(t), torch.count_nonzero(t, 1), torch.count_nonzero(t, (0, 1))), x)


def test_large_reductions_split_across_threads_deterministically():
    x = make((1024, 300), torch.float32)
    ops = {
        "sum": lambda t: t.sum(1), "mean_outer": lambda t: t.t().mean(0), "amax": lambda t: t.amax(1),
        "var": lambda t: t.var(1), "norm": lambda t: torch.linalg.vector_norm(t, dim=1),
        "logsumexp": lambda t: torch.logsumexp(t, 1), "argmax": lambda t: t.argmax(1),
        "max_outer": lambda t: t.max(0).indices, "cumsum": lambda t: t.cumsum(1),
        "sort": lambda t: torch.sort(t, dim=1, stable=True).indices, "topk": lambda t: torch.topk(t, 3, 1).indices,
    }
    m = x.to("mlu")
    with native():
        for name, fn in ops.items():
            first, second = fn(m).cpu(), fn(m).cpu()
            assert torch.equal(first, second), name
            torch.testing.assert_close(first, fn(x), msg=name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32, torch.int64, torch.bool], ids=str)
def test_prod(dtype):
    x = make((3, 4, 5), dtype, low=-2, high=3) if dtype != torch.bool else make((3, 4, 5), dtype)
    if dtype.is_floating_point:
        x = x.clamp(-1.5, 1.5)
    with native("prod"):
        check(lambda t: t.prod(), x)
        check(lambda t: t.prod(1), x)
        check(lambda t: t.prod(-1, keepdim=True), x)
        check(lambda t: t.t().prod(0) if t.dim() == 2 else t.prod(0), x[0])
        check(lambda t: t.prod(0), make((0, 3), dtype))


# ---- amax, amin, max, min, argmax, argmin ---------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS + INTS + [torch.bool], ids=str)
def test_extrema_over_dims_and_layouts(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in dim_choices(x.dim()):
                if reduces_empty_dim(x, dim):
                    continue
                d = () if dim is None else dim
                check(lambda t: t.amax(d), x)
                check(lambda t: t.amin(d, keepdim=True), x)
                if dim is None:
                    check(lambda t: (t.max(), t.min()), x)
                elif isinstance(dim, int):
                    check(lambda t: tuple(t.max(dim)) + tuple(t.min(dim, keepdim=True)), x)
                if dtype == torch.bool:  # the CPU has no argmax for bool
                    continue
                if dim is None:
                    check(lambda t: (t.argmax(), t.argmin(keepdim=True)), x)
                elif isinstance(dim, int):
                    check(lambda t: (t.argmax(dim), t.argmin(dim, keepdim=True)), x)


def test_extrema_propagate_nan_and_take_the_first_position():
    x = torch.tensor([[1.0, 3.0, 3.0, 2.0], [0.0, float("nan"), 5.0, float("nan")], [-1.0, -1.0, -2.0, -2.0]])
    with native():
        check(lambda t: (t.amax(1), t.amin(1), t.max(), t.min()), x, equal_nan=True)
        check(lambda t: tuple(t.max(1)) + tuple(t.min(1)), x, equal_nan=True)
        check(lambda t: (t.argmax(1), t.argmin(1), t.argmax(), t.argmin(0)), x)
        check(lambda t: tuple(t.t().max(0)) + tuple(t.t().min(0)), x, equal_nan=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool], ids=str)
def test_aminmax(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in [None] + list(range(x.dim())):
                if not reduces_empty_dim(x, dim):
                    check(lambda t: tuple(torch.aminmax(t, dim=dim)), x)
                    check(lambda t: tuple(torch.aminmax(t, dim=dim, keepdim=True)), x)
    with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
        torch.aminmax(torch.empty(0, device="mlu"))


def test_extrema_out_variants():
    x = make((4, 6), torch.float32)
    m = x.to("mlu")
    with native():
        values, indices = torch.empty(0, device="mlu"), torch.empty(0, device="mlu", dtype=torch.long)
        torch.max(m, 1, keepdim=True, out=(values, indices))
        expected = x.max(1, keepdim=True)
        torch.testing.assert_close(values.cpu(), expected.values)
        torch.testing.assert_close(indices.cpu(), expected.indices)
        torch.min(m, 0, out=(values.resize_(0), indices.resize_(0)))
        torch.testing.assert_close(indices.cpu(), x.min(0).indices)
        out = torch.empty(0, device="mlu", dtype=torch.long)
        torch.argmax(m, 1, out=out)
        torch.testing.assert_close(out.cpu(), x.argmax(1))
        torch.amax(m, (0, 1), out=values.resize_(0))
        torch.testing.assert_close(values.cpu(), x.amax((0, 1)))
        torch.max(m, out=values.resize_(0))
        torch.testing.assert_close(values.cpu(), x.max())


def test_extrema_of_empty_inputs_raise_like_cpu():
    e = torch.empty(0, 3, device="mlu")
    with pytest.raises(RuntimeError, match=r"amax\(\): Expected reduction dim to be specified"):
        e.amax()
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 0 to have non-zero size"):
        e.amax(0)
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        e.max()
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero size"):
        e.max(0)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        e.argmax()
    assert e.amax(1).shape == (0,) and e.max(1).indices.shape == (0,)
    with pytest.raises(RuntimeError, match="Expected the dtype for input and out to match"):
        torch.amax(e, 1, out=torch.empty(0, device="mlu", dtype=torch.float64))


# ---- var, std ------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_var_std_over_dims_and_corrections(dtype):
    with native():
        for name, x in layouts(dtype):
            if name in ("empty", "scalar"):
                continue
            for dim in dim_choices(x.dim()):
                for correction in (0, 1, 2):  # 0/0 when equal values meet a correction of 2
                    check(lambda t: torch.var(t, dim, correction=correction), x, equal_nan=True)
                    check(lambda t: torch.std(t, dim, correction=correction, keepdim=True), x, equal_nan=True)
                check(lambda t: torch.var_mean(t, dim), x)
                check(lambda t: torch.std_mean(t, dim, keepdim=True), x)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
def test_var_edge_cases():
    with native(), pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        assert math.isnan(torch.ones(1, device="mlu").var().item())
    with native():
        var, mean = torch.var_mean(torch.empty(0, device="mlu"), correction=0)
        assert math.isnan(var.item()) and math.isnan(mean.item())
        big = torch.randn(1000, generator=GEN, dtype=torch.float64) * 1e-3 + 1e4  # Welford keeps digits
        check(lambda t: t.float().var(), big, dtype=torch.float32)
        out = torch.empty(0, device="mlu")
        torch.std(big.float().to("mlu"), 0, out=out)
        torch.testing.assert_close(out.cpu(), big.float().std(0))
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        torch.arange(3, device="mlu").var()


# ---- norms, any/all, logsumexp ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_vector_norms(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in dim_choices(x.dim()):
                for ord in (2, 1, 0, 3, 0.5, -1, math.inf, -math.inf):
                    if (ord < 0 or ord == math.inf) and reduces_empty_dim(x, dim):
                        continue
                    check(lambda t: torch.linalg.vector_norm(t, ord, dim), x)
        x = make((3, 4), dtype)
        check(lambda t: torch.linalg.vector_norm(t, dtype=torch.float64), x, dtype=torch.float64)
        check(lambda t: (t.norm(), t.norm(dim=1), t.norm(p=1, dim=0, keepdim=True)), x)


def test_vector_norm_errors():
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        torch.linalg.vector_norm(torch.arange(3, device="mlu"))
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        torch.linalg.vector_norm(torch.empty(0, device="mlu"), math.inf)


def mostly_nonzero(shape, dtype):
    return (torch.rand(shape, generator=GEN) < 0.85).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32, torch.uint8, torch.bool], ids=str)
def test_any_all(dtype):
    with native():
        for name, x in layouts(dtype, mostly_nonzero):
            for dim in dim_choices(x.dim()):
                if dim is None:
                    check(lambda t: (t.any(), t.all()), x)
                elif isinstance(dim, int):
                    check(lambda t: (t.any(dim), t.all(dim, keepdim=True)), x)
                else:
                    check(lambda t: (torch.any(t, dim), torch.all(t, dim)), x)
        assert torch.tensor([0, 3], dtype=torch.uint8, device="mlu").any().dtype == torch.uint8
        out = torch.empty(0, device="mlu", dtype=torch.bool)
        torch.any(torch.tensor([[0.0, float("nan")]], device="mlu"), 1, out=out)
        assert out.cpu().tolist() == [True]
        torch.all(torch.zeros(2, 0, device="mlu"), out=out.resize_(0))
        assert out.item() is True
    with pytest.raises(RuntimeError, match="any only supports bool tensor for result, got: Float"):
        torch.any(torch.ones(2, device="mlu"), out=torch.empty(0, device="mlu"))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_logsumexp(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in dim_choices(x.dim()):
                if dim is not None:
                    check(lambda t: torch.logsumexp(t, dim), x)
        inf = math.inf
        special = torch.tensor([[-inf, -inf], [inf, 1.0], [inf, inf], [-inf, 2.0], [float("nan"), 0.0]], dtype=dtype)
        check(lambda t: torch.logsumexp(t, 1), special, equal_nan=True)
        check(lambda t: torch.logsumexp(t, 0, keepdim=True), make((50, 3), dtype, -80, 80))
    check(lambda t: torch.logsumexp(t, 0), torch.arange(5))


# ---- cumsum, sort, topk -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int32, torch.int64, torch.bool],
                         ids=str)
def test_cumsum_and_cumprod(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in range(-x.dim(), max(x.dim(), 1)):
                check(lambda t: torch.cumsum(t, dim), x)
                check(lambda t: torch.cumprod(t.clamp(-2, 2) if dtype.is_floating_point else t, dim), x)
        x = make((4, 5), dtype)
        check(lambda t: torch.cumsum(t, 1, dtype=torch.float64), x, dtype=torch.float64)
        if dtype.is_floating_point:
            m = x.to("mlu")
            m.cumsum_(0)
            torch.testing.assert_close(m.cpu(), x.cumsum(0), **tolerance(dtype))
            m.cumprod_(1)
            torch.testing.assert_close(m.cpu(), x.cumsum(0).cumprod(1), **tolerance(dtype))
    if dtype == torch.int32:
        assert torch.ones(3, dtype=dtype, device="mlu").cumsum(0).dtype == torch.int64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                                   torch.uint8, torch.bool], ids=str)
def test_sort_is_stable_like_cpu(dtype):
    with native():
        for name, x in layouts(dtype):
            for dim in range(-x.dim(), max(x.dim(), 1)):
                for descending in (False, True):
                    check(lambda t: tuple(torch.sort(t, dim=dim, descending=descending, stable=True)), x)
        nan = float("nan")
        if dtype.is_floating_point:
            x = torch.tensor([3.0, nan, 1.0, 3.0, -nan, 1.0], dtype=dtype)
            check(lambda t: tuple(torch.sort(t, stable=True)) + tuple(torch.sort(t, descending=True, stable=True)), x,
                  equal_nan=True)
        values = torch.empty(0, dtype=dtype, device="mlu")
        indices = torch.empty(0, dtype=torch.long, device="mlu")
        x = make((3, 6), dtype)
        torch.sort(x.to("mlu"), dim=1, stable=True, out=(values, indices))
        torch.testing.assert_close(indices.cpu(), torch.sort(x, dim=1, stable=True).indices)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32], ids=str)
def test_topk(dtype):
    x = torch.randperm(60, generator=GEN).reshape(3, 4, 5).to(dtype)  # distinct values: unique answers
    with native():
        for y in (x, x.transpose(0, 2)):
            for dim in (0, 1, -1):
                n = y.shape[dim]
                for k in (0, 1, n // 2, n):
                    for largest in (True, False):
                        check(lambda t: tuple(torch.topk(t, k, dim, largest=largest)), y)
        check(lambda t: tuple(torch.topk(t, 1)), torch.tensor(5.0))
        values = torch.empty(0, dtype=dtype, device="mlu")
        indices = torch.empty(0, dtype=torch.long, device="mlu")
        torch.topk(x.to("mlu"), 2, 1, out=(values, indices))
        torch.testing.assert_close(values.cpu(), x.topk(2, 1).values)
    if dtype == torch.float32:
        nan = float("nan")
        check(lambda t: tuple(torch.topk(t, 2)), torch.tensor([1.0, nan, 3.0]), equal_nan=True)
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            torch.topk(x.to("mlu"), 6)


# ---- argument errors ----------------------------------------------------------------------

def test_dim_and_dtype_errors_match_cpu():
    x = torch.ones(2, 3, device="mlu")
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times in the list of dims"):
        x.sum((0, 0))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        x.sum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.max(5)
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype. Input dtype must be"):
        torch.arange(3, device="mlu").mean()
    with pytest.raises(RuntimeError, match="Optional dtype must be either a floating point"):
        x.mean(dtype=torch.int64)
    with pytest.raises(RuntimeError, match="Bad in-place call"):
        x.cumsum_(0, dtype=torch.float64)


# ---- gradients ----------------------------------------------------------------------------

GRADIENT_CASES = {
    "sum": lambda t: t.sum(),
    "sum_dims": lambda t: t.sum((0, 2)),
    "mean": lambda t: t.mean(1, keepdim=True),
    "prod": lambda t: t.prod(1),
    "amax": lambda t: t.amax(1),
    "max_dim": lambda t: t.max(2).values,
    "var": lambda t: t.var(1),
    "std": lambda t: t.std(0, correction=0),
    "var_mean": lambda t: sum(torch.var_mean(t, (1, 2))),
    "norm2": lambda t: torch.linalg.vector_norm(t, dim=1),
    "norm1": lambda t: torch.linalg.vector_norm(t, 1),
    "norm3": lambda t: torch.linalg.vector_norm(t, 3, dim=(0, 1)),
    "logsumexp": lambda t: torch.logsumexp(t, 2),
    "cumsum": lambda t: t.cumsum(1),
    "cumprod": lambda t: t.cumprod(2),
    "nansum": lambda t: t.nansum(0),
    "sort": lambda t: torch.sort(t, dim=1, stable=True).values,
    "topk": lambda t: torch.topk(t, 2, 2).values,
}


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=str)
def test_gradients_match_cpu(case):
    fn = GRADIENT_CASES[case]
    x = torch.randn(3, 4, 5, generator=GEN, dtype=torch.float64) + 0.5
    weights = torch.randn(fn(x).shape, generator=GEN, dtype=torch.float64)
    cpu = x.clone().requires_grad_()
    (fn(cpu) * weights).sum().backward()
    mlu = x.to("mlu").requires_grad_()
    with native("sum", "mean", "prod", "amax", "max", "var", "std", "var_mean", "linalg_vector_norm",
                "logsumexp", "cumsum", "cumprod", "nansum", "sort", "topk"):
        (fn(mlu) * weights.to("mlu")).sum().backward()
    torch.testing.assert_close(mlu.grad.cpu(), cpu.grad)


# ---- order statistics ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8])
def test_median_nanmedian_and_kthvalue_match_cpu(dtype):
    g = torch.Generator().manual_seed(4)
    x = torch.randperm(6 * 7, generator=g).reshape(6, 7).to(dtype)  # no ties: indices are defined
    if dtype.is_floating_point:
        x[1, 3] = float("nan")
        x[2, :] = float("nan")
    cases = {
        "median": lambda t: t.median(),
        "nanmedian": lambda t: t.nanmedian(),
        "median_dim": lambda t: t.median(dim=1),
        "median_dim0_keepdim": lambda t: t.median(dim=0, keepdim=True),
        "nanmedian_dim": lambda t: t.nanmedian(dim=-1),
        "kthvalue": lambda t: t.kthvalue(3, dim=1),
        "kthvalue_dim0": lambda t: t.kthvalue(6, dim=0, keepdim=True),
        "median_0d": lambda t: t[0, 0].median(dim=0),
    }
    for name, fn in cases.items():
        with native():
            got = fn(x.mlu())
        expected = fn(x)
        got = got if isinstance(got, tuple) else (got,)
        expected = expected if isinstance(expected, tuple) else (expected,)
        if name in ("nanmedian_dim", "kthvalue") and dtype.is_floating_point:
            # CPU's index for an all-NaN row is whatever its partition leaves first (here 5); mlu
            # reports the first NaN. Values, and the other rows' indices, must agree.
            keep = torch.tensor([r != 2 for r in range(6)])
            got, expected = (got[0], got[1][keep.mlu()]), (expected[0], expected[1][keep])
        for g_, e in zip(got, expected):
            assert g_.shape == e.shape and g_.dtype == e.dtype, name
            torch.testing.assert_close(g_.cpu(), e, equal_nan=True, msg=name)


def test_median_gradient_and_errors():
    x = torch.randn(4, 5, requires_grad=True)
    xm = x.detach().mlu().requires_grad_()
    with native():
        xm.median(dim=1).values.sum().backward()
    x.median(dim=1).values.sum().backward()
    torch.testing.assert_close(xm.grad.cpu(), x.grad)
    with pytest.raises(RuntimeError, match="out of range"):
        xm.detach().kthvalue(6, dim=1)
    with pytest.raises(IndexError, match="non-zero size"):
        torch.empty(3, 0, device="mlu").median(dim=1)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        torch.empty(0, device="mlu").median()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.uint8, torch.bool])
def test_unique_with_inverse_and_counts_matches_cpu(dtype):
    g = torch.Generator().manual_seed(5)
    x = torch.randint(0, 6, (4, 9), generator=g).to(dtype)
    if dtype.is_floating_point:
        x[0, 0] = float("nan")
    for kwargs in (dict(), dict(return_inverse=True), dict(return_counts=True),
                   dict(return_inverse=True, return_counts=True)):
        with native():
            got = torch.unique(x.mlu(), **kwargs)
        expected = torch.unique(x, **kwargs)
        got = got if isinstance(got, tuple) else (got,)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for g_, e in zip(got, expected):
            assert g_.shape == e.shape and g_.dtype == e.dtype
            torch.testing.assert_close(g_.cpu(), e, equal_nan=True)
    empty = torch.unique(torch.empty(0, 3, device="mlu"), return_inverse=True, return_counts=True)
    assert [t.shape for t in empty] == [(0,), (0, 3), (0,)]


@pytest.mark.parametrize("length", [15, 16, 100, 5000])
def test_extrema_propagate_nan_from_any_position_of_long_rows(length):
    # Rows run in 16 vector lanes: a NaN must win from any lane and from the tail.
    x = torch.randn(4, length)
    x[0, length // 2] = float("nan")
    x[1, length - 1] = float("nan")
    x[2, 0] = float("-inf")
    with native():
        got = [x.mlu().amax(1), x.mlu().amin(1), x.mlu().max(), x.mlu()[2:].amax(), x.mlu().max(1).values]
    want = [x.amax(1), x.amin(1), x.max(), x[2:].amax(), x.max(1).values]
    for g, w in zip(got, want):
        torch.testing.assert_close(g.cpu(), w, equal_nan=True)
