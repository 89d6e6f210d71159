"""Native elementwise operators against the CPU: dtypes, broadcasting, layouts, scalars,
gradients of the activations, and that none of them falls back."""

import pytest
import torch
import torch.nn.functional as F

import torch_mlu  # noqa: F401
from op_helpers import native

FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INTS = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8]


def tol(dtype):
    return dict(rtol=1e-2, atol=1e-2) if dtype in (torch.float16, torch.bfloat16) else {}


def check(fn, *tensors, dtype=torch.float32, **kwargs):
    torch.mlu.reset_fallback_stats()
    got = fn(*(t.to("mlu") if torch.is_tensor(t) else t for t in tensors))
    assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
    torch.testing.assert_close(got.cpu(), fn(*tensors), **tol(dtype), **kwargs)


def sample(shape, dtype):
    if dtype == torch.bool:
        return torch.rand(shape) > 0.5
    if dtype.is_floating_point:
        return torch.randn(shape).to(dtype)
    low = 0 if dtype == torch.uint8 else -20
    return torch.randint(low, 20, shape).to(dtype)


@pytest.mark.parametrize("dtype", FLOATS + INTS, ids=str)
def test_binary_arithmetic_with_broadcasting(dtype):
    a, b = sample((3, 1, 5), dtype), sample((4, 1), dtype)
    for op in (torch.add, torch.sub, torch.mul, torch.maximum, torch.minimum):
        check(op, a, b, dtype=dtype)
    check(lambda x, y: torch.add(x, y, alpha=2), a, b, dtype=dtype)
    check(torch.div, a, b.abs() + 1 if not dtype.is_floating_point else b, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS + INTS, ids=str)
@pytest.mark.parametrize("value", ["0-d mlu", "0-d cpu", "expanded row"])
def test_binary_operators_with_one_value_along_the_rows_match_cpu(dtype, value):
    # A zero-stride input on either side (a 0-d tensor, a [1] row expanded), rows long enough
    # for the vectorised loops, and a strided output that must keep the general loop.
    a = sample((3, 1000), dtype)
    one = sample((), dtype) if value != "expanded row" else sample((3, 1), dtype)
    if not dtype.is_floating_point:
        one = one.abs() + 1  # a divisor
    place = (lambda t: t.to("mlu")) if value != "0-d cpu" else (lambda t: t)
    ops = [torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum]
    for op in ops:
        torch.mlu.reset_fallback_stats()
        for x, y in ((a, one), (one.expand_as(a) if value == "expanded row" else one, a)):
            if op in (torch.maximum, torch.minimum) and value == "0-d cpu":
                continue  # a CPU 0-d tensor is a scalar only to arithmetic operators
            got = op(x.to("mlu"), place(y)) if x is a else op(place(x), y.to("mlu"))
            torch.testing.assert_close(got.cpu(), op(x, y), **tol(dtype))
        assert not torch.mlu.fallback_stats(), (op, torch.mlu.fallback_stats())
    out = torch.empty(1000, 3, dtype=torch.float64 if dtype.is_floating_point else torch.int64,
                      device="mlu").t()
    torch.mul(a.to("mlu"), place(one), out=out)
    torch.testing.assert_close(out.cpu(), torch.mul(a, one).to(out.dtype), **tol(dtype))


@pytest.mark.parametrize("shape", [(3, 1000), (700, 3)], ids=["long rows", "short rows"])
def test_float16_rows_with_a_broadcast_value_round_like_the_cpu(shape):
    # Float16 rows with an expanded or 0-d input run in blocks, the value filling its block
    # buffer once; each result is float32's on the widened operands rounded once, as on the CPU.
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(*shape, generator=gen).half()
    column, scalar = torch.randn(shape[0], 1, generator=gen).half(), torch.randn((), generator=gen).half()
    for op in (torch.add, torch.sub, torch.mul, torch.div):
        for value in (column.expand(shape), scalar):
            for x, y in ((a, value), (value, a)):
                got = op(x.to("mlu"), y.to("mlu"))
                assert torch.equal(got.cpu(), op(x, y)), (op, tuple(value.shape), x is a)
    got = torch.addcmul(a.mlu(), column.expand(shape).mlu(), scalar.mlu(), value=0.5)
    assert torch.equal(got.cpu(), torch.addcmul(a, column.expand(shape), scalar, value=0.5))


@pytest.mark.parametrize("op, a, b, out_dtype", [
    # int8 products wrap before they widen; float16 sums round to float16 first; integer division
    # computes in float32
    (torch.mul, torch.tensor([100, -100, 50], dtype=torch.int8), torch.tensor(3, dtype=torch.int8),
     torch.int64),
    (torch.add, torch.tensor([1.0, 2.0**-12]).half(), torch.tensor([2.0**-11, 1.0]).half(),
     torch.float32),
    (torch.div, torch.tensor([1, 2, 7]), torch.tensor([3]), torch.float64),
])
def test_an_out_of_another_dtype_gets_the_result_converted_as_on_cpu(op, a, b, out_dtype):
    expected = op(a, b, out=torch.empty(0, dtype=out_dtype))
    got = op(a.to("mlu"), b.to("mlu"), out=torch.empty(0, dtype=out_dtype, device="mlu"))
    torch.testing.assert_close(got.cpu(), expected, rtol=0, atol=0)


def test_true_division_into_an_integer_out_is_refused_as_on_cpu():
    a, b = torch.tensor([1, 2, 7], device="mlu"), torch.tensor([3], device="mlu")
    out = torch.zeros(3, dtype=torch.int64, device="mlu")
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        torch.div(a, b, out=out)
    assert out.cpu().tolist() == [0, 0, 0]  # untouched, and the device still works
    torch.testing.assert_close(torch.div(a, b, rounding_mode="floor", out=out).cpu(), torch.tensor([0, 0, 2]))


def test_in_place_with_a_wider_operand_computes_in_its_type():
    a, b = torch.tensor([1 / 3, 2 / 3]), torch.tensor([3.0], dtype=torch.float64)
    got = a.to("mlu").mul_(b.to("mlu"))
    torch.testing.assert_close(got.cpu(), a.clone().mul_(b), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_unary_math_and_activations(dtype):
    x = sample((6, 7), dtype)
    pos = x.abs() + 0.1
    for op in (torch.neg, torch.abs, torch.exp, torch.tanh, torch.sigmoid, torch.sin, torch.cos,
               torch.erf, torch.floor, torch.ceil, torch.round, torch.trunc, torch.sign, torch.relu,
               F.silu, F.mish, F.hardswish, F.hardsigmoid, F.gelu,
               lambda t: F.gelu(t, approximate="tanh"), lambda t: F.leaky_relu(t, 0.1)):
        check(op, x, dtype=dtype)
    for op in (torch.log, torch.sqrt, torch.rsqrt, torch.reciprocal, torch.log1p):
        check(op, pos, dtype=dtype)


def test_layouts_scalars_and_zero_dim():
    x = torch.randn(5, 6)
    check(lambda t: t.t() * 3 + 1, x)
    check(lambda t: t[::2, 1::2] - t[1::2, ::2], torch.randn(6, 6))
    check(lambda t: 2 - t, x)
    check(lambda t: t ** 2, x)
    check(lambda t: torch.tensor(3.0) * t, x)
    check(lambda t: t.sum() * 0 + t[0, 0] * 2, x)
    check(lambda t: t[:0] + 1, x)
    check(lambda t: t.contiguous(memory_format=torch.channels_last) + 1,
          torch.randn(2, 3, 4, 5))


def test_integer_semantics():
    a = torch.tensor([7, -7, 9, -9, 0])
    b = torch.tensor([2, 2, -4, -4, 3])
    check(torch.floor_divide, a, b)
    check(torch.remainder, a, b)
    check(lambda x: x ** 3, a)
    check(lambda x, y: x & y, a, b)
    check(lambda x, y: x ^ y, a, b)
    check(lambda x: ~x, a)
    check(torch.true_divide, a, b)


def test_integer_division_by_zero_raises_at_synchronisation():
    x = torch.ones(3, dtype=torch.int64, device="mlu")
    with pytest.raises(RuntimeError, match="division by zero"):
        (x // torch.zeros(3, dtype=torch.int64, device="mlu")).cpu()
    assert (x + 1).cpu().tolist() == [2, 2, 2]


@pytest.mark.parametrize("dtype", FLOATS + [torch.int32, torch.bool], ids=str)
def test_comparisons_where_and_clamp(dtype):
    a, b = sample((4, 5), dtype), sample((5,), dtype)
    for op in (torch.eq, torch.ne, torch.lt, torch.le, torch.gt, torch.ge):
        check(op, a, b)
    check(lambda x, y: torch.where(x > y, x, y), a, b, dtype=dtype)
    if dtype != torch.bool:
        check(lambda x: x.clamp(-0.5, 0.5) if dtype.is_floating_point else x.clamp(0, 1), a, dtype=dtype)
        check(lambda x: x > 0, a)


def test_special_values():
    x = torch.tensor([1.0, float("-inf"), float("inf"), float("nan"), -0.0])
    for op in (torch.isneginf, torch.isposinf, torch.isnan, torch.isinf, torch.isfinite):
        check(op, x)
    check(lambda t: torch.maximum(t, torch.zeros_like(t)), x, equal_nan=True)
    check(lambda t: t.clamp(min=0.5), x, equal_nan=True)
    check(torch.relu, x, equal_nan=True)  # NaN stays NaN


@pytest.mark.parametrize("act", [torch.relu, torch.sigmoid, torch.tanh, F.gelu, F.silu, F.mish,
                                 F.hardswish, F.hardsigmoid, lambda t: F.gelu(t, approximate="tanh"),
                                 lambda t: F.leaky_relu(t, 0.2)])
def test_activation_gradients(act):
    x = torch.randn(4, 9, requires_grad=True)
    xm = x.detach().to("mlu").requires_grad_()
    torch.mlu.reset_fallback_stats()
    (act(xm) * torch.arange(9.0, device="mlu")).sum().backward()
    assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
    (act(x) * torch.arange(9.0)).sum().backward()
    torch.testing.assert_close(xm.grad.cpu(), x.grad, rtol=1e-5, atol=1e-6)


def test_in_place_and_out_variants():
    a, b = torch.randn(3, 4), torch.randn(4)
    am, bm = a.to("mlu"), b.to("mlu")
    am.mul_(bm).add_(1).sigmoid_()
    torch.testing.assert_close(am.cpu(), a.mul(b).add(1).sigmoid())
    out = torch.empty(0, device="mlu", dtype=torch.float64)
    torch.add(am, bm, out=out)
    assert out.dtype == torch.float64 and out.shape == (3, 4)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.ones(2, dtype=torch.int64, device="mlu").add_(torch.ones(2, device="mlu"))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.ones(2, device="mlu").add_(torch.ones(3, 2, device="mlu"))


def test_mismatched_devices_are_rejected():
    with pytest.raises(RuntimeError, match="same device"):
        torch.ones(2, device="mlu:0") + torch.ones(2, device="mlu:1")
    with pytest.raises(RuntimeError, match="same device"):
        torch.ones(2, device="mlu") + torch.ones(2)


def test_comparison_with_a_python_number_uses_the_tensor_dtype_even_for_0d_tensors():
    # uint8 == -1 compares in uint8 (-1 wraps to 255), also when the tensor has no dimensions.
    for shape in ((), (3,)):
        t = torch.full(shape, 255, dtype=torch.uint8)
        torch.testing.assert_close((t.to("mlu") == -1).cpu(), t == -1)
        assert bool((t.to("mlu") == -1).all())


def test_python_number_operands_are_rounded_to_float16_exactly_when_cpu_rounds_them():
    # PyTorch CPU multiplies and divides by the exact number, but rounds it to float16 first for
    # add and sub; mlu must give the same bits either way.
    x = torch.randn(4096).half()
    for value in (0.1, 0.7, 3.3):
        for op in (torch.mul, torch.div, torch.add, torch.sub):
            torch.testing.assert_close(op(x.to("mlu"), value).cpu(), op(x, value), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool])
def test_logical_operators_give_bool_in_every_form(dtype):
    a, b = sample((4, 5), dtype), sample((5,), dtype)
    a[0] = 0
    for name in ("logical_and", "logical_or", "logical_xor"):
        fn = getattr(torch, name)
        with native():
            got = fn(a.mlu(), b.mlu())
            out = torch.empty(0, dtype=torch.float32, device="mlu")
            fn(a.mlu(), b.mlu(), out=out)
            inplace = a.mlu()
            getattr(inplace, name + "_")(b.mlu())
        assert got.dtype == torch.bool and out.dtype == torch.float32
        torch.testing.assert_close(got.cpu(), fn(a, b))
        torch.testing.assert_close(out.cpu(), fn(a, b).float())
        torch.testing.assert_close(inplace.cpu(), getattr(a.clone(), name + "_")(b))


def test_sgn_clamp_bounds_pow_out_and_rsub_match_cpu():
    x = sample((6, 7), torch.float32)
    i = sample((6, 7), torch.int64)
    with native():
        results = [
            torch.sgn(x.mlu()),
            torch.clamp_min(x.mlu(), -0.5), torch.clamp_max(x.mlu(), 0.25),
            torch.clamp_min(i.mlu(), 40), x.mlu().clamp_max_(0.0),
            torch.pow(x.mlu(), 2, out=torch.empty(0, device="mlu")), x.mlu().abs().pow_(0.5),
            torch.pow(i.mlu(), 2, out=torch.empty(0, dtype=torch.long, device="mlu")),
            torch.rsub(x.mlu(), x.mlu().t().contiguous().t(), alpha=2), 1 - x.mlu(),
            torch.pow(0.9, x.mlu()), torch.pow(2, i.mlu().clamp(0, 10)),
            torch.pow(0.5, i.mlu().clamp(0, 10)),
        ]
    expected = [torch.sgn(x), torch.clamp_min(x, -0.5), torch.clamp_max(x, 0.25),
                torch.clamp_min(i, 40), x.clone().clamp_max_(0.0), torch.pow(x, 2),
                x.abs().pow_(0.5), torch.pow(i, 2), torch.rsub(x, x, alpha=2), 1 - x,
                torch.pow(0.9, x), torch.pow(2, i.clamp(0, 10)), torch.pow(0.5, i.clamp(0, 10))]
    for got, want in zip(results, expected):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.cpu(), want)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.pow(i.mlu(), 0.5, out=torch.empty(0, dtype=torch.long, device="mlu"))
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mlu().sqrt_()


EDGES = torch.tensor([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-30, -1e30, float("inf"), float("-inf"),
                      float("nan")])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -0.5, -1, -2, 1.7, 0])
def test_pow_of_a_scalar_exponent_matches_cpu_at_the_edges(exponent, dtype):
    # 2, 3, 0.5, -0.5, -1 and -2 are products, square roots and divisions, as on CPU.
    x = torch.cat([EDGES, sample((40,), torch.float32)]).to(dtype)
    with native():
        got = x.mlu().pow(exponent)
    torch.testing.assert_close(got.cpu(), x.pow(exponent), equal_nan=True, **tol(dtype))


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.5), (-0.5, None), (1.0, -1.0),
                                    (float("-inf"), float("inf"))])
def test_clamp_bounds_at_the_edges(bounds):
    x = torch.cat([EDGES, sample((40,), torch.float32)])
    i = torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8)
    lo, hi = bounds
    with native():
        got = x.mlu().clamp(lo, hi)
        got_int = i.mlu().clamp(None if lo is None else -3, None if hi is None else 3)
    torch.testing.assert_close(got.cpu(), x.clamp(lo, hi), equal_nan=True)
    assert torch.equal(got_int.cpu(), i.clamp(None if lo is None else -3, None if hi is None else 3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.int8])
@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_division_rounding_modes_match_cpu(dtype, mode):
    a = torch.tensor([7, -7, 7, -7, 0, 5, -5, 3, 100, -100]).to(dtype)
    b = torch.tensor([2, 2, -2, -2, 3, 3, 3, -7, 7, 9]).to(dtype)
    if dtype.is_floating_point:
        a, b = a * 0.3, b * 0.7
        a = torch.cat([a, torch.tensor([1.0, -1.0, 0.0, 4.5]).to(dtype)])
        b = torch.cat([b, torch.tensor([0.0, 0.0, -3.0, 1.5]).to(dtype)])
    with native():
        got = torch.div(a.mlu(), b.mlu(), rounding_mode=mode)
        inplace = a.mlu().clone()
        if mode is not None or dtype.is_floating_point:
            inplace.div_(b.mlu(), rounding_mode=mode)
        floor_div = a.mlu() // b.mlu()
    expected = torch.div(a, b, rounding_mode=mode)
    assert got.dtype == expected.dtype
    torch.testing.assert_close(got.cpu(), expected, equal_nan=True)
    if mode is not None or dtype.is_floating_point:
        torch.testing.assert_close(inplace.cpu(), expected, equal_nan=True)
    torch.testing.assert_close(floor_div.cpu(), a // b, equal_nan=True)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        torch.div(a.mlu(), b.mlu(), rounding_mode="round")


PARAMETERISED = {
    "elu": lambda x: F.elu(x, alpha=0.7),
    "celu": lambda x: F.celu(x, alpha=1.5),
    "selu": lambda x: F.selu(x),
    "elu_inplace_result_gradient": lambda x: F.elu(x * 1, alpha=0.5, inplace=True),
    "softplus": lambda x: F.softplus(x, beta=2, threshold=3),
    "softplus_default": lambda x: F.softplus(x * 30),
    "hardtanh": lambda x: F.hardtanh(x, -0.5, 0.7),
    "relu6": lambda x: F.relu6(x * 4),
    "glu_last": lambda x: F.glu(x[:, :6]),
    "glu_first": lambda x: F.glu(x[:4], dim=0),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("name", PARAMETERISED)
def test_parameterised_activations_and_gradients_match_cpu(name, dtype):
    fn = PARAMETERISED[name]
    x = torch.randn(5, 7).to(dtype)
    x[0, :3] = torch.tensor([-0.5, 0.7, 0.0])  # the hardtanh bounds and zero exactly
    results = []
    for device in ("cpu", "mlu"):
        leaf = x.to(device).detach().requires_grad_()
        torch.mlu.reset_fallback_stats()
        y = fn(leaf)
        y.backward(torch.ones_like(y))
        if device == "mlu":
            assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
        results.append((y.detach().cpu(), leaf.grad.cpu()))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, **tol(dtype))
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.softplus(torch.ones(2, dtype=torch.long, device="mlu"))


def test_parameterised_activation_and_lerp_errors():
    x = torch.randn(4, device="mlu", requires_grad=True)
    y = F.elu(x * 1, alpha=-0.5, inplace=True)
    with pytest.raises(RuntimeError, match="negative slope which is not supported"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 7"):
        F.glu(torch.ones(2, 7, device="mlu"))
    with pytest.raises(RuntimeError, match="grad_output of shape"):
        torch.ops.aten.softplus_backward(torch.ones(3, device="mlu"), torch.ones(4, device="mlu"), 1, 20)
    with pytest.raises(RuntimeError, match="expected dtype Float for `end`"):
        torch.lerp(torch.ones(2, device="mlu"), torch.ones(2, dtype=torch.float64, device="mlu"), 0.5)
    with pytest.raises(RuntimeError, match="expected a floating-point tensor"):
        torch.lerp(torch.ones(2, dtype=torch.long, device="mlu"), torch.ones(2, dtype=torch.long, device="mlu"), 1)
    assert torch.lerp(torch.zeros(2, device="mlu"), torch.ones(2, device="mlu"), 0.25).cpu().tolist() == [0.25] * 2


@pytest.mark.parametrize("channels", [1, 4])
def test_prelu_and_its_weight_gradient_match_cpu(channels):
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5)
    x[0, 0, :2] = torch.tensor([0.0, -0.0])
    results = []
    for device in ("cpu", "mlu"):
        layer = torch.nn.PReLU(channels, init=0.3).to(device)
        leaf = x.to(device).detach().requires_grad_()
        torch.mlu.reset_fallback_stats()
        y = layer(leaf)
        (y * torch.linspace(-1, 1, 5, device=device)).sum().backward()
        if device == "mlu":
            assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
        results.append((y.detach().cpu(), leaf.grad.cpu(), layer.weight.grad.cpu()))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want)


def gelu_of_x(x, y):
    return F.gelu(x)


@pytest.mark.parametrize("fn", [torch.add, torch.mul, lambda x, y: torch.addcmul(x, x, y, value=0.5),
                                gelu_of_x, lambda x, y: x.mul_(3.0)],
                         ids=["add", "mul", "addcmul", "gelu", "mul_"])
def test_contiguous_float16_rows_round_as_cpu_does(fn):
    # Contiguous float16 rows are computed in blocks of float32 widened by conversion
    # instructions: the rounding of every element, the blocks' tails (1000 = 3 * 256 + 232),
    # subnormals, overflow to infinity and NaN must be CPU's, bit for bit (gelu's: see below).
    gen = torch.Generator().manual_seed(5)
    x = (torch.randn(1000, generator=gen) * 4).half()
    y = torch.randn(1000, generator=gen).half()
    x[:6] = torch.tensor([6e-8, -3e-5, 65504.0, float("inf"), float("nan"), -0.0]).half()
    y[:6] = torch.tensor([0.5, 1.5, 2.0, -1.0, 1.0, 0.0]).half()
    got = fn(x.to("mlu"), y.to("mlu")).cpu()
    if fn is gelu_of_x:
        # PyTorch CPU's gelu differs by version and host in the last bits (on a Xeon with
        # AVX-512, 2.14's float16 gelu(inf) is NaN, and 2.6's float32 gelu rounds 43 of these
        # elements a float16 step away from its float16 gelu), so the bits are checked against
        # the device's float32 gelu rounded, the values against CPU's.
        torch.testing.assert_close(got[6:], F.gelu(x[6:]))
        want = F.gelu(x.float().to("mlu")).cpu().half()
    else:
        want = fn(x.clone(), y)
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got[~want.isnan()], want[~want.isnan()])
