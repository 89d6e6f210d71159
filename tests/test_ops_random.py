"""Native random numbers on mlu: the device generator's Philox streams for uniform_, normal_,
random_, bernoulli, exponential_, randperm, dropout and multinomial. Same seed, same numbers; different seeds,
different numbers; distributions within statistical tolerances; no CPU fallback."""

import math

import pytest
import torch
import torch.nn.functional as F

from op_helpers import native

N = 100_000


DRAWS = {
    "rand": lambda: torch.rand(1000, device="mlu"),
    "randn": lambda: torch.randn(1000, device="mlu"),
    "randn_double": lambda: torch.randn(1000, dtype=torch.float64, device="mlu"),
    "randint": lambda: torch.randint(-5, 1000, (1000,), device="mlu"),
    "random_": lambda: torch.empty(1000, dtype=torch.int32, device="mlu").random_(),
    "bernoulli": lambda: torch.bernoulli(torch.full((1000,), 0.3, device="mlu")),
    "bernoulli_p": lambda: torch.empty(1000, device="mlu").bernoulli_(0.7),
    "exponential": lambda: torch.empty(1000, device="mlu").exponential_(2.0),
    "randperm": lambda: torch.randperm(1000, device="mlu"),
    "dropout": lambda: F.dropout(torch.ones(1000, device="mlu"), 0.4),
    "normal_half": lambda: torch.empty(1000, dtype=torch.float16, device="mlu").normal_(1.0, 2.0),
    "uniform_bf16": lambda: torch.empty(1000, dtype=torch.bfloat16, device="mlu").uniform_(-3, 3),
}


@pytest.mark.parametrize("name", list(DRAWS))
def test_seed_reproduces_and_differs(name):
    draw = DRAWS[name]
    with native():
        torch.mlu.manual_seed(123)
        a = draw().cpu()
        b = draw().cpu()                      # the generator moved on
        torch.mlu.manual_seed(123)
        c = draw().cpu()
        torch.mlu.manual_seed(124)
        d = draw().cpu()
    assert torch.equal(a, c)
    assert not torch.equal(a, b)
    assert not torch.equal(a, d)


def test_torch_manual_seed_seeds_mlu_and_state_round_trips():
    torch.manual_seed(5)
    a = torch.randn(64, device="mlu").cpu()
    torch.manual_seed(5)
    assert torch.equal(torch.randn(64, device="mlu").cpu(), a)
    state = torch.mlu.get_rng_state()
    b = torch.rand(64, device="mlu").cpu()
    torch.mlu.set_rng_state(state)
    assert torch.equal(torch.rand(64, device="mlu").cpu(), b)


def test_explicit_generator():
    g = torch.Generator(device="mlu").manual_seed(42)
    with native():
        a = torch.rand(100, generator=g, device="mlu").cpu()
        p = torch.randperm(50, generator=g, device="mlu").cpu()
        g.manual_seed(42)
        b = torch.rand(100, generator=g, device="mlu").cpu()
        q = torch.randperm(50, generator=g, device="mlu").cpu()
    assert torch.equal(a, b) and torch.equal(p, q)
    with pytest.raises(RuntimeError, match="generator"):
        torch.rand(3, generator=torch.Generator(), device="mlu")


def test_numbers_do_not_depend_on_the_layout():
    torch.mlu.manual_seed(7)
    contiguous = torch.empty(30, 40, device="mlu").normal_()
    torch.mlu.manual_seed(7)
    transposed = torch.empty(40, 30, device="mlu").t().normal_()
    assert torch.equal(contiguous.cpu(), transposed.cpu())


def assert_moments(x, mean, std, tolerance=0.02):
    x = x.double().cpu()
    assert abs(x.mean().item() - mean) < tolerance * max(1.0, abs(std)), x.mean()
    assert abs(x.std().item() - std) < tolerance * max(1.0, abs(std)), x.std()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_uniform_and_normal_statistics(dtype):
    torch.mlu.manual_seed(0)
    with native():
        u = torch.empty(N, dtype=dtype, device="mlu").uniform_(-2, 4)
        n = torch.empty(N, dtype=dtype, device="mlu").normal_(3, 0.5)
        r = torch.rand(N, dtype=dtype, device="mlu")
    assert u.cpu().min() >= -2 and u.cpu().max() < 4
    assert r.cpu().min() >= 0 and r.cpu().max() < 1
    assert_moments(u, 1.0, 6 / math.sqrt(12))
    assert_moments(n, 3.0, 0.5)
    assert_moments(r, 0.5, 1 / math.sqrt(12))


def test_normal_with_tensor_parameters():
    mean = torch.linspace(-5, 5, N, device="mlu")
    std = torch.full((N,), 0.5, device="mlu")
    with native():
        torch.mlu.manual_seed(3)
        a = torch.normal(mean, 2.0)
        torch.mlu.manual_seed(3)
        b = torch.normal(mean, 2.0)
    assert torch.equal(a.cpu(), b.cpu())
    assert_moments(a - mean, 0.0, 2.0)
    assert_moments(torch.normal(1.0, std) - 1.0, 0.0, 0.5)        # a tensor std is checked (synchronises)
    assert_moments(torch.normal(mean, std) - mean, 0.0, 0.5)
    out = torch.empty(N, device="mlu")
    with native():
        torch.mlu.manual_seed(3)
        torch.normal(mean, 2.0, out=out)
    assert torch.equal(out.cpu(), a.cpu())


def test_exponential_bernoulli_and_integer_statistics():
    torch.mlu.manual_seed(1)
    p = torch.linspace(0, 1, N, device="mlu")
    with native():
        e = torch.empty(N, device="mlu").exponential_(4.0)
        b = torch.empty(N, dtype=torch.bool, device="mlu").bernoulli_(0.25)
        bt = torch.bernoulli(p)
        ri = torch.randint(3, 13, (N,), device="mlu")
        r8 = torch.empty(N, dtype=torch.uint8, device="mlu").random_()
        rb = torch.empty(N, dtype=torch.bool, device="mlu").random_()
        rf = torch.empty(N, device="mlu").random_(0, 5)
    assert e.cpu().min() >= 0
    assert_moments(e, 0.25, 0.25)
    assert abs(b.float().mean().item() - 0.25) < 0.01
    assert abs(bt.mean().item() - 0.5) < 0.01
    assert bt.cpu()[0] == 0 and bt.cpu()[-1] == 1              # p = 0 and p = 1 exactly
    assert torch.equal(torch.unique(ri.cpu()), torch.arange(3, 13))
    assert_moments(ri, 7.5, math.sqrt((10 ** 2 - 1) / 12), tolerance=0.01 * 3)
    assert r8.cpu().min() == 0 and r8.cpu().max() == 255
    assert abs(rb.float().mean().item() - 0.5) < 0.01
    assert set(rf.cpu().unique().tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0}


def test_random_full_int64_range_and_bounds():
    with native():
        full = torch.empty(1000, dtype=torch.int64, device="mlu").random_(-2 ** 63, None)
        high = torch.empty(1000, dtype=torch.int64, device="mlu").random_(2 ** 62, 2 ** 63 - 1)
    full, high = full.cpu(), high.cpu()
    assert (full < 0).any() and (full > 0).any()
    assert high.min() >= 2 ** 62
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        torch.empty(3, device="mlu").random_(5, 5)
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds"):
        torch.empty(3, dtype=torch.uint8, device="mlu").random_(0, 1000)


def test_randperm():
    with native():
        p = torch.randperm(N, device="mlu")
        h = torch.randperm(100, dtype=torch.float16, device="mlu")
        e = torch.randperm(0, device="mlu")
    assert torch.equal(p.cpu().sort().values, torch.arange(N))
    assert not torch.equal(p.cpu(), torch.arange(N))
    assert torch.equal(h.cpu().sort().values, torch.arange(100, dtype=torch.float16))
    assert e.numel() == 0 and p.dtype == torch.int64
    with pytest.raises(RuntimeError, match="n cannot be greater than 2049 for Half type"):
        torch.randperm(3000, dtype=torch.float16, device="mlu")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_statistics_and_gradient(p):
    x = torch.randn(N, device="mlu").requires_grad_()
    with native():
        y = F.dropout(x, p)
        y.backward(torch.ones(N, device="mlu"))
    kept = y.detach().cpu() != 0
    assert abs(1 - kept.float().mean().item() - p) < 0.01
    torch.testing.assert_close(y.detach().cpu()[kept], x.detach().cpu()[kept] / (1 - p))
    torch.testing.assert_close(x.grad.cpu(), kept.float() / (1 - p))
    with native():
        out, mask = torch.native_dropout(x.detach(), p, False)
    assert torch.equal(out.cpu(), x.detach().cpu()) and mask.cpu().all()


def test_dropout_keeps_nan_and_infinity_as_cpu_does():
    # input * mask * scale: a NaN stays NaN and a dropped infinity becomes NaN, kept or not.
    x = torch.tensor([float("nan"), float("inf"), 1.0] * 100000, device="mlu")
    with native():
        out, mask = torch.native_dropout(x, 0.5, True)
    out, mask = out.cpu(), mask.cpu()
    assert 0 < mask.sum() < mask.numel()
    torch.testing.assert_close(out, x.cpu() * mask * 2.0, equal_nan=True)


def test_dropout_backward_of_non_finite_gradients_matches_cpu():
    # grad * mask * scale, as PyTorch CPU computes it: a dropped NaN or infinity gives NaN.
    grad = torch.tensor([float("nan"), float("inf"), -2.0, float("-inf"), 3.0] * 40000)
    mask = torch.arange(grad.numel()) % 3 != 0
    with native():
        got = torch.ops.aten.native_dropout_backward(grad.to("mlu"), mask.to("mlu"), 1.25)
    torch.testing.assert_close(got.cpu(), torch.ops.aten.native_dropout_backward(grad, mask, 1.25),
                               equal_nan=True)


def test_dropout_half_and_channels_last():
    x = torch.randn(2, 3, 4, 5, device="mlu").half().to(memory_format=torch.channels_last)
    with native():
        out, mask = torch.native_dropout(x, 0.5, True)
        grad = torch.ops.aten.native_dropout_backward(torch.ones_like(x), mask, 2.0)
    assert mask.dtype == torch.bool and out.dtype == torch.float16
    torch.testing.assert_close(out.cpu(), x.cpu() * mask.cpu() * 2)
    torch.testing.assert_close(grad.cpu(), mask.cpu().half() * 2)


def test_argument_errors():
    x = torch.empty(4, device="mlu")
    with pytest.raises(RuntimeError, match="from=3 > to=1"):
        x.uniform_(3, 1)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        x.normal_(0, -1)
    with pytest.raises(RuntimeError, match="bernoulli_ expects p to be in \\[0, 1\\]"):
        x.bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="exponential_ expects lambda > 0.0"):
        x.exponential_(0)
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        torch.empty(3, dtype=torch.long, device="mlu").normal_()
    with pytest.raises(RuntimeError, match="p must be in \\[0, 1\\], got 2"):
        torch.bernoulli(torch.full((3,), 2.0, device="mlu")).cpu()     # found by the kernel
    assert torch.rand(2, device="mlu").cpu().shape == (2,)            # the device is still usable


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_frequencies_follow_the_weights(replacement):
    weights = torch.tensor([[1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 5.0, 0.0]], device="mlu")
    with native():
        torch.mlu.manual_seed(3)
        first = torch.multinomial(weights, 1, replacement=replacement)
        torch.mlu.manual_seed(3)
        again = torch.multinomial(weights, 1, replacement=replacement)
        many = torch.multinomial(weights[0], 20000, replacement=True) if replacement else None
        distinct = torch.multinomial(weights[0].expand(500, 4), 3, replacement=False)
    assert torch.equal(first.cpu(), again.cpu())  # the device generator reproduces it
    assert first.shape == (2, 1) and first[1].item() == 2
    if replacement:
        counts = torch.bincount(many.cpu(), minlength=4).double() / 20000
        assert counts[1] == 0  # zero weight: never drawn
        torch.testing.assert_close(counts, torch.tensor([0.125, 0.0, 0.375, 0.5], dtype=torch.float64),
                                   atol=0.02, rtol=0)
    rows = distinct.cpu()
    assert all(len(set(r.tolist())) == 3 and 1 not in r.tolist() for r in rows)


def test_multinomial_rejects_invalid_distributions():
    with pytest.raises(RuntimeError, match="inf`, `nan` or element < 0"):
        torch.multinomial(torch.tensor([1.0, -1.0], device="mlu"), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        torch.multinomial(torch.zeros(3, device="mlu"), 1)
    with pytest.raises(RuntimeError, match="without replacement"):
        torch.multinomial(torch.ones(3, device="mlu"), 4)
    # With replacement the values are checked on the device: the error comes at synchronisation.
    drawn = torch.multinomial(torch.tensor([1.0, float("nan")], device="mlu"), 3, replacement=True)
    with pytest.raises(RuntimeError, match="infinity or NaN"):
        torch.mlu.synchronize()
    del drawn
    assert torch.multinomial(torch.ones(3, device="mlu"), 2).shape == (2,)  # still usable


def test_multinomial_rejects_bad_shapes_and_dtypes():
    with pytest.raises(RuntimeError, match="prob_dist must be 1 or 2 dim"):
        torch.multinomial(torch.ones(2, 2, 2, device="mlu"), 1)
    with pytest.raises(RuntimeError, match="floating-point dtypes"):
        torch.multinomial(torch.ones(3, dtype=torch.long, device="mlu"), 1)
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        torch.multinomial(torch.ones(3, device="mlu"), 0)
