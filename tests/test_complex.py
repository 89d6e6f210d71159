"""Complex tensors on mlu: storage and copies (with pending conjugation), the interleaved views,
elementwise arithmetic, sums, random fills and autograd, against the CPU; operators without a
complex kernel run on the CPU fallback. Matrix products compose real ones."""

import warnings

import pytest
import torch
import torch_mlu  # noqa: F401
from op_helpers import native

COMPLEX = [torch.complex64, torch.complex128]


def crandn(*shape, dtype=torch.complex64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, dtype=dtype, generator=g)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_copies_round_trip_exactly(dtype):
    x = crandn(5, 7, dtype=dtype)
    with native():
        on_device = x.to("mlu")
        assert on_device.dtype == dtype and on_device.device.type == "mlu"
        assert torch.equal(on_device.cpu(), x)
        assert torch.equal(on_device.t().contiguous().cpu(), x.t().contiguous())
        assert torch.equal(on_device[:, ::2].cpu(), x[:, ::2])
        assert torch.equal(on_device.clone().cpu(), x)
        assert torch.equal(x.t().to("mlu").cpu(), x.t())  # a strided source
    other = torch.complex128 if dtype == torch.complex64 else torch.complex64
    torch.testing.assert_close(on_device.to(other).cpu(), x.to(other))


def test_conversions_between_real_and_complex_follow_the_cpu():
    real = torch.randn(4, 3)
    with native():
        as_complex = real.to("mlu").to(torch.complex64)
        assert torch.equal(as_complex.cpu(), real.to(torch.complex64))
        z = crandn(4, 3).to("mlu")
        assert torch.equal(z.real.cpu(), z.cpu().real) and torch.equal(z.imag.cpu(), z.cpu().imag)
    with warnings.catch_warnings():  # "discards the imaginary part", once per process
        warnings.simplefilter("ignore", UserWarning)
        assert torch.equal(z.to(torch.float32).cpu(), z.cpu().real)
        assert torch.equal(z.to(torch.float64).cpu(), z.cpu().real.double())


def test_pending_conjugation_is_resolved_by_copies_in_every_direction():
    x = crandn(3, 4)
    d = x.to("mlu")
    with native():
        assert d.conj().is_conj()
        assert torch.equal(d.conj().cpu().resolve_conj(), x.conj().resolve_conj())  # mlu -> cpu
        assert torch.equal(x.conj().to("mlu").cpu(), x.conj().resolve_conj())  # cpu -> mlu
        assert torch.equal(d.conj().resolve_conj().cpu(), x.conj().resolve_conj())  # on mlu
        assert torch.equal(torch.conj_physical(d).cpu(), torch.conj_physical(x))
        target = torch.empty_like(d)
        target.conj().copy_(d)  # into a conjugated view: its memory holds conj(d)
        assert torch.equal(target.cpu(), x.conj().resolve_conj())
        assert torch.equal(d.conj().imag.cpu(), x.conj().imag)  # a negated view
    assert torch.equal(torch.conj_physical(torch.arange(3.0, device="mlu")).cpu(),
                       torch.arange(3.0))


def test_interleaved_views_share_memory():
    d = crandn(2, 3).to("mlu")
    with native():
        parts = torch.view_as_real(d)
        assert parts.shape == (2, 3, 2) and parts.device == d.device
        parts[0, 0, 1] = 5.0
        assert d[0, 0].item() == complex(d[0, 0].real.item(), 5.0)
        back = torch.view_as_complex(parts)
        assert back.data_ptr() == d.data_ptr() and torch.equal(back.cpu(), d.cpu())
        d.imag.zero_()
        assert torch.count_nonzero(d.imag).item() == 0


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name,fn", [
    ("add", lambda a, b: a + b),
    ("sub alpha", lambda a, b: torch.sub(a, b, alpha=2)),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("mul real", lambda a, b: a * b.real),
    ("real div", lambda a, b: a.real / b),
    ("broadcast", lambda a, b: a[:, :1] * b),
    ("python complex", lambda a, b: a * (2 - 1j) + 0.5j),
    ("python real", lambda a, b: 3 * a - 1.5),
    ("complex scalar div", lambda a, b: a / (1 + 2j)),
])
def test_arithmetic_matches_cpu(name, fn, dtype):
    a, b = crandn(4, 5, dtype=dtype, seed=1), crandn(4, 5, dtype=dtype, seed=2)
    with native():
        got = fn(a.to("mlu"), b.to("mlu"))
    expected = fn(a, b)
    assert got.dtype == expected.dtype
    torch.testing.assert_close(got.cpu(), expected)


def test_in_place_and_out_arithmetic():
    a, b = crandn(3, 4, seed=1), crandn(3, 4, seed=2)
    x = a.to("mlu")
    with native():
        x.mul_(b.to("mlu")).add_(1j).div_(2)
        out = torch.empty(3, 4, dtype=torch.complex64, device="mlu")
        torch.sub(a.to("mlu"), b.to("mlu"), out=out)
    torch.testing.assert_close(x.cpu(), (a * b + 1j) / 2)
    torch.testing.assert_close(out.cpu(), a - b)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.ones(2, device="mlu").mul_(torch.ones(2, dtype=torch.complex64, device="mlu"))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_unary_operators_match_cpu(dtype):
    z = crandn(6, 3, dtype=dtype)
    z[0, 0] = 0
    d = z.to("mlu")
    with native():
        results = {"neg": -d, "abs": d.abs(), "sgn": d.sgn(), "reciprocal": d[1:].reciprocal(),
                   "exp": d.exp(), "conj": d.conj().resolve_conj()}
    expected = {"neg": -z, "abs": z.abs(), "sgn": z.sgn(), "reciprocal": z[1:].reciprocal(),
                "exp": z.exp(), "conj": z.conj().resolve_conj()}
    for name, value in results.items():
        assert value.dtype == expected[name].dtype, name
        torch.testing.assert_close(value.cpu(), expected[name], msg=name)
    with pytest.raises(RuntimeError, match="In-place abs is not supported for complex tensors"):
        d.abs_()
    with pytest.raises(RuntimeError, match="torch.sgn"):
        d.sign()


def test_complex_and_polar_build_complex_tensors():
    re, im = torch.randn(3, 4), torch.randn(4)
    with native():
        c = torch.complex(re.to("mlu"), im.to("mlu"))
        p = torch.polar(re.abs().to("mlu"), im.to("mlu"))
    torch.testing.assert_close(c.cpu(), torch.complex(re, im))
    torch.testing.assert_close(p.cpu(), torch.polar(re.abs(), im))
    with pytest.raises(RuntimeError, match="Double"):
        torch.complex(re.to("mlu"), im.double().to("mlu"))


def test_sums_means_and_fills():
    z = crandn(4, 6, 5, dtype=torch.complex128)
    d = z.to("mlu")
    with native():
        sums = [d.sum(), d.sum(1), d.sum((0, 2), keepdim=True), d.mean(-1), d.mean()]
        filled = torch.full((2, 3), 1 - 2j, device="mlu")
        zeros = torch.zeros(3, dtype=torch.complex64, device="mlu")
    expected = [z.sum(), z.sum(1), z.sum((0, 2), keepdim=True), z.mean(-1), z.mean()]
    for got, want in zip(sums, expected):
        torch.testing.assert_close(got.cpu(), want)
    assert torch.equal(filled.cpu(), torch.full((2, 3), 1 - 2j))
    assert torch.equal(zeros.cpu(), torch.zeros(3, dtype=torch.complex64))


def test_random_complex_tensors_have_the_cpu_distribution():
    torch.manual_seed(0)
    with native():
        u = torch.rand(200_000, dtype=torch.complex64, device="mlu")
        n = torch.randn(200_000, dtype=torch.complex128, device="mlu")
    parts = torch.view_as_real(u).cpu()
    assert 0 <= parts.min() and parts.max() < 1 and abs(parts.mean().item() - 0.5) < 0.01
    # randn: each part has variance 1/2, so that |z|^2 has mean 1.
    assert abs(n.real.var().item() - 0.5) < 0.01 and abs(n.imag.var().item() - 0.5) < 0.01
    assert abs((n.abs() ** 2).mean().item() - 1) < 0.02


def test_gradients_through_complex_operations_match_cpu():
    def loss(x, w):
        z = torch.complex(x, x.flip(0)) * w
        return (z / (1 + 1j)).abs().sum() + (z.exp().real * 0.1).sum()

    x, w = torch.randn(5), crandn(5)
    grads = []
    for device in ("cpu", "mlu"):
        xs = x.clone().to(device).requires_grad_()
        ws = w.clone().to(device).requires_grad_()
        loss(xs, ws).backward()
        assert xs.grad.device.type == ws.grad.device.type == device
        grads.append((xs.grad.cpu(), ws.grad.cpu()))
    torch.testing.assert_close(grads[1][0], grads[0][0])
    torch.testing.assert_close(grads[1][1], grads[0][1])


def test_operators_without_complex_kernels_run_on_the_cpu_fallback():
    z = crandn(3, 3)
    z[0, 0] = 0
    d = z.to("mlu")
    cases = {
        "sqrt": lambda t: t.sqrt(), "pow": lambda t: torch.pow(t[1:], t[1]),
        "prod": lambda t: t.prod(), "cumsum": lambda t: t.cumsum(0), "tril": lambda t: t.tril(),
        "masked_fill": lambda t: t.masked_fill(t.abs() > 1, 2j), "eq": lambda t: t == t.conj(),
        "var": lambda t: t.var(0), "norm": lambda t: torch.linalg.vector_norm(t, dim=1),
        # a conjugate view reaches the CPU kernel as one (backward formulas pass x.mH)
        "sin of a conjugate": lambda t: torch.sin(t.conj()),
        "solve with an adjoint": lambda t: torch.linalg.solve_triangular(
            (t + 4 * torch.eye(3, device=t.device)).triu().mH, t, upper=False),
        # the CPU kernel returns its out= argument as a conjugate view
        "lu_solve from the right": lambda t: torch.linalg.lu_solve(
            *torch.linalg.lu_factor(t + 4 * torch.eye(3, device=t.device)), t, left=False),
    }
    torch.mlu.reset_fallback_stats()
    with warnings.catch_warnings():  # "ran on the CPU fallback", once per operator
        warnings.simplefilter("ignore", UserWarning)
        for name, fn in cases.items():
            torch.testing.assert_close(fn(d).cpu(), fn(z), msg=name)
    assert {"aten::sqrt", "aten::prod", "aten::cumsum", "aten::sin"} <= set(
        torch.mlu.fallback_stats()), torch.mlu.fallback_stats()
    with native():  # and the complex kernels stay native
        torch.testing.assert_close((d * 2 + d.conj()).cpu(), z * 2 + z.conj())


def test_vector_norms_of_complex_tensors_are_real_and_native():
    z = crandn(4, 5, dtype=torch.complex64)
    z[0] = 0
    d = z.to("mlu")
    with native():
        for ord in (2, 1, float("inf"), float("-inf")):
            got = torch.linalg.vector_norm(d, ord, dim=1)
            assert got.dtype == torch.float32
            torch.testing.assert_close(got.cpu(), torch.linalg.vector_norm(z, ord, dim=1))
        wide = torch.linalg.vector_norm(d, dtype=torch.complex128)
    assert wide.dtype == torch.float64
    torch.testing.assert_close(wide.cpu(), torch.linalg.vector_norm(z, dtype=torch.complex128))
    with pytest.raises(RuntimeError, match="dtype should be complex for a complex input, but got Float"):
        torch.linalg.vector_norm(d, dtype=torch.float32)


def test_operators_without_complex_kernels_raise_when_the_fallback_is_disabled(run_py):
    result = run_py("""
        import torch
        d = torch.ones(3, dtype=torch.complex64, device="mlu")
        try:
            d.sqrt()
        except RuntimeError as e:
            print("error:", e)
        print("still", (d * 2).cpu().tolist())
    """, ENABLE_FALLBACK_TO_CPU="0")
    assert result.returncode == 0, result
    assert "error:" in result.stdout and "'aten::sqrt'" in result.stdout, result
    assert "still [(2+0j), (2+0j), (2+0j)]" in result.stdout, result


def test_cat_stack_flip_and_roll_move_complex_numbers():
    a, b = crandn(2, 3, seed=1), crandn(2, 3, dtype=torch.complex128, seed=2)
    real = torch.randn(2, 3)
    with native():
        results = [torch.cat([a.to("mlu"), b.to("mlu"), real.to("mlu")], 1),
                   torch.stack([a.to("mlu"), a.to("mlu").conj()]),
                   a.to("mlu").flip(-1), a.to("mlu").roll(1, 0), a.to("mlu").roll(2)]
    expected = [torch.cat([a, b, real], 1), torch.stack([a, a.conj()]), a.flip(-1), a.roll(1, 0),
                a.roll(2)]
    for got, want in zip(results, expected):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.cpu(), want)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_matrix_products_match_cpu(dtype):
    a, b, c = crandn(5, 7, dtype=dtype, seed=1), crandn(7, 3, dtype=dtype, seed=2), crandn(5, 3, dtype=dtype, seed=3)
    A, B, C = a.to("mlu"), b.to("mlu"), c.to("mlu")
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.complex64 else {}
    cases = {
        "matmul": (lambda x, y, z: x @ y),
        "conjugated operand": (lambda x, y, z: x.conj() @ y.conj()),
        "addmm": (lambda x, y, z: torch.addmm(z, x, y, beta=0.5, alpha=2)),
        "bmm": (lambda x, y, z: torch.bmm(x.expand(2, 5, 7), y.expand(2, 7, 3))),
        "mv": (lambda x, y, z: x @ y[:, 0]),
    }
    for name, fn in cases.items():
        torch.testing.assert_close(fn(A, B, C).cpu(), fn(a, b, c), **tol, msg=name)
    # Against the definition: Debian's PyTorch 2.6 CPU gives 0 for complex dot and vdot.
    x, y = a[0], b[:, 0]
    torch.testing.assert_close(torch.dot(A[0], B[:, 0]).cpu(), (x * y).sum(), **tol)
    torch.testing.assert_close(torch.vdot(A[0], B[:, 0]).cpu(), (x.conj() * y).sum(), **tol)


def test_matrix_product_gradients_match_cpu():
    a, b = crandn(4, 6, seed=4), crandn(6, 2, seed=5)
    grads = []
    for device in ("cpu", "mlu"):
        x, y = (t.to(device).detach().requires_grad_() for t in (a, b))
        (x @ y).abs().sum().backward()
        grads.append((x.grad.cpu(), y.grad.cpu()))
    for actual, expected in zip(grads[1], grads[0]):
        torch.testing.assert_close(actual, expected)


def test_gathering_operators_move_complex_numbers():
    x = crandn(4, 5, seed=6)
    m = x.to("mlu")
    index = torch.tensor([3, 0, 0, 2])
    torch.testing.assert_close(m.index_select(0, index.to("mlu")).cpu(), x.index_select(0, index))
    torch.testing.assert_close(m.conj().index_select(1, index.to("mlu")).cpu(), x.conj().index_select(1, index))
    g = torch.tensor([[0, 4, 1], [2, 2, 3], [4, 0, 0], [1, 1, 1]])
    torch.testing.assert_close(torch.gather(m, 1, g.to("mlu")).cpu(), torch.gather(x, 1, g))
    torch.testing.assert_close(m[index.to("mlu"), 1:].cpu(), x[index, 1:])
    mask = x.real > 0
    torch.testing.assert_close(m[mask.to("mlu")].cpu(), x[mask])


def test_phase_vocoder_time_stretch():
    torchaudio = pytest.importorskip("torchaudio", reason="torchaudio is not installed")
    wave = torch.randn(2, 4000, generator=torch.Generator().manual_seed(7))
    window = torch.hann_window(256)
    spec = torch.stft(wave, 256, 64, window=window, return_complex=True)
    stretch = torchaudio.transforms.TimeStretch(hop_length=64, n_freq=129, fixed_rate=1.3)
    expected = stretch(spec)
    torch.mlu.reset_fallback_stats()
    actual = stretch.to("mlu")(spec.to("mlu"))
    assert not torch.mlu.fallback_stats()
    # Phases accumulate over frames (a cumsum of angles), so float32 ulp differences in atan2
    # grow along time: a few of 12642 values differ by ~5e-3 (of magnitudes up to ~10).
    torch.testing.assert_close(actual.cpu(), expected, atol=1e-2, rtol=1e-3)


@pytest.mark.parametrize("dtype", COMPLEX + [torch.float32, torch.int64])
def test_angle_matches_cpu(dtype):
    x = crandn(3, 4, seed=8, dtype=torch.complex128).to(dtype) if dtype.is_complex else \
        torch.tensor([-2.0, -0.0, 0.0, 3.0, float("nan")]).to(dtype) if dtype.is_floating_point else \
        torch.tensor([-2, 0, 5])
    torch.mlu.reset_fallback_stats()
    actual = torch.angle(x.to("mlu")).cpu()
    assert not torch.mlu.fallback_stats()
    torch.testing.assert_close(actual, torch.angle(x), equal_nan=True)
