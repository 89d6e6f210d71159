"""The CPU fallback: operators without a native kernel compute on the host, match the CPU, are
accounted in the ledger, warn once, respect ENABLE_FALLBACK_TO_CPU and check devices."""

import contextlib
import textwrap

import pytest
import torch
import torch.nn.functional as F


def both(*tensors):
    """The CPU tensors and their mlu copies."""
    return tensors, tuple(t.to("mlu") for t in tensors)


def assert_same(dev, cpu):
    """Equal to the CPU result: exactly for integers, to rounding for floats (native kernels may
    sum in another order)."""
    assert dev.device.type == "mlu", dev.device
    torch.testing.assert_close(dev.cpu(), cpu)


def test_binary_and_matmul_match_cpu():
    (a, b), (ma, mb) = both(torch.randn(4, 5), torch.randn(5, 3))
    assert_same(ma + 1.5, a + 1.5)
    assert_same(torch.add(ma, ma, alpha=2), torch.add(a, a, alpha=2))
    assert_same(ma @ mb, a @ b)
    assert_same(torch.matmul(ma, mb).relu(), torch.matmul(a, b).relu())
    assert_same(ma.sum(dim=1), a.sum(dim=1))
    assert_same(ma.argmax(dim=0), a.argmax(dim=0))
    assert_same(torch.where(ma > 0, ma, mb[0, 0]), torch.where(a > 0, a, b[0, 0]))
    assert_same((ma.to(torch.int32) * 3) // 2, (a.to(torch.int32) * 3) // 2)


def test_operators_on_second_device_stay_there():
    a = torch.randn(3, 3)
    m = a.to("mlu:1")
    r = m * m + 1
    assert r.device == torch.device("mlu", 1)
    torch.testing.assert_close(r.cpu(), a * a + 1)


# Operators unlikely ever to get a native kernel; tests find which of them use the fallback,
# so that kernels added to the library do not silently turn these tests into no-ops.
FALLBACK_CANDIDATES = """
CANDIDATES = [
    ("kthvalue", lambda x: torch.kthvalue(x, 2).values),
    ("cummax", lambda x: torch.cummax(x, 0).values),
    ("histc", lambda x: torch.histc(x, bins=4)),
    ("logcumsumexp", lambda x: torch.logcumsumexp(x, 0)),
]
"""
exec(FALLBACK_CANDIDATES)


def with_candidates(body):
    """Code for a fresh interpreter: torch, torch_mlu and CANDIDATES, then body."""
    return "import torch, torch_mlu\n" + FALLBACK_CANDIDATES + textwrap.dedent(body)


def fallback_operator():
    """(fn, name): a candidate that runs on the fallback, and its name in the ledger."""
    x = torch.randn(64, device="mlu")
    for _, fn in CANDIDATES:
        torch.mlu.reset_fallback_stats()
        fn(x)
        stats = torch.mlu.fallback_stats()
        if len(stats) == 1:
            return fn, next(iter(stats))
    pytest.fail("none of the candidate operators reached the CPU fallback alone")


def test_fallback_stats_count_calls_seconds_and_bytes():
    fn, name = fallback_operator()
    x = torch.randn(64, device="mlu")
    torch.mlu.reset_fallback_stats()
    assert torch.mlu.fallback_stats() == {}
    fn(x)
    stats = torch.mlu.fallback_stats()
    assert list(stats) == [name], stats
    first = stats[name]
    assert name.startswith("aten::"), name
    assert first["calls"] == 1
    assert first["seconds"] >= 0
    assert first["bytes"] >= x.nbytes            # at least the input
    for _ in range(3):
        fn(x)
    after = torch.mlu.fallback_stats()[name]
    assert after["calls"] == 4
    assert after["seconds"] >= first["seconds"]
    assert after["bytes"] == 4 * first["bytes"]
    table = torch.mlu.fallback_table()
    assert isinstance(table, str) and name in table and "calls" in table
    torch.mlu.reset_fallback_stats()
    assert torch.mlu.fallback_stats() == {}
    assert name not in torch.mlu.fallback_table()


def test_native_kernels_do_not_reach_fallback():
    torch.mlu.reset_fallback_stats()
    x = torch.empty(8, device="mlu")
    x.fill_(1.0)
    y = x.to(torch.float16).to("cpu").to("mlu:1")
    x.view(2, 4).t().contiguous()
    x.zero_()
    assert y.device.index == 1
    assert torch.mlu.fallback_stats() == {}


def test_fallback_warns_once_per_operator(run_py):
    result = run_py(with_candidates("""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = torch.randn(16, device="mlu")
            for _ in range(3):
                for _, fn in CANDIDATES:
                    fn(x)
        warned = [str(w.message).split("'")[1] for w in caught
                  if "native mlu kernel" in str(w.message)]
        print(" ".join(warned))
        print(" ".join(sorted(torch.mlu.fallback_stats())))
    """))
    assert result.returncode == 0, result
    warned, used = (line.split() for line in result.stdout.splitlines())
    assert used, result
    assert sorted(warned) == used, result       # each operator once, and only those


def test_disabled_fallback_raises_naming_operator(run_py):
    result = run_py(with_candidates("""
        x = torch.full((8,), 2.0, device="mlu")     # native: allocation and fill
        for _, fn in CANDIDATES:
            try:
                fn(x)
                print("ran")
            except RuntimeError as e:
                print("error:", e)
        # native operators keep working, and the process is usable
        print("still", x.cpu().tolist()[:2], x.to("mlu:1").device, torch.mlu.fallback_stats())
    """), ENABLE_FALLBACK_TO_CPU="0")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors, result
    for line in errors:
        assert "'aten::" in line and "ENABLE_FALLBACK_TO_CPU" in line, result
    assert lines[-1] == "still [2.0, 2.0] mlu:1 {}", result


def test_out_variants_match_cpu():
    (a, b), (ma, mb) = both(torch.randn(3, 4), torch.randn(3, 4))
    out = torch.empty(3, 4, device="mlu")
    ret = torch.add(ma, mb, out=out)
    assert ret is out
    assert_same(out, a + b)
    mm_out = torch.empty(3, 3, device="mlu")
    torch.mm(ma, mb.t(), out=mm_out)
    assert_same(mm_out, a @ b.t())
    # an out= tensor of the wrong size is resized, as on the CPU
    small = torch.empty(0, device="mlu")
    torch.mul(ma, 2, out=small)
    assert small.shape == (3, 4)
    assert_same(small, a * 2)
    # a non-contiguous out= tensor receives the values in place
    wide = torch.zeros(3, 8, device="mlu")
    torch.sub(ma, mb, out=wide[:, ::2])
    expected = torch.zeros(3, 8)
    expected[:, ::2] = a - b
    assert_same(wide, expected)


def test_inplace_ops_match_cpu_and_keep_identity():
    (a,), (ma,) = both(torch.randn(4, 4))
    ptr = ma.data_ptr()
    ret = ma.mul_(3).add_(1).clamp_(min=-1, max=2)
    a.mul_(3).add_(1).clamp_(min=-1, max=2)
    assert ret is ma and ma.data_ptr() == ptr
    assert_same(ma, a)
    view = ma[:, 1]                         # in place through a view updates the base
    view.neg_()
    a[:, 1].neg_()
    assert_same(ma, a)
    idx = torch.tensor([0, 2])
    ma.index_fill_(0, idx.to("mlu"), 5.0)
    a.index_fill_(0, idx, 5.0)
    assert_same(ma, a)


def test_view_returning_ops_alias_device_memory():
    (a,), (ma,) = both(torch.arange(24.0).view(4, 6))
    parts = torch.split(ma, 2, dim=1)
    for p, q in zip(parts, torch.split(a, 2, dim=1)):
        assert p.device.type == "mlu"
        assert p.untyped_storage().data_ptr() == ma.untyped_storage().data_ptr()
        assert_same(p, q)
    d = ma.diagonal()
    assert_same(d, a.diagonal())
    d.fill_(-1.0)
    a.diagonal().fill_(-1.0)
    assert_same(ma, a)
    c = ma.chunk(3, dim=0)[1]
    c[0, 0] = 99.0
    assert ma[2, 0].item() == 99.0
    n = ma.narrow(1, 2, 3)
    assert n.data_ptr() == ma[0, 2].data_ptr()
    u = ma.unbind(0)[3]
    assert u.untyped_storage().data_ptr() == ma.untyped_storage().data_ptr()


def test_shape_producing_ops_match_cpu():
    (x,), (mx,) = both(torch.tensor([[0, 3, 0], [2, 0, 3], [3, 1, 0]]))
    assert_same(mx.nonzero(), x.nonzero())
    assert_same(torch.masked_select(mx, mx > 1), torch.masked_select(x, x > 1))
    assert_same(mx[mx > 1], x[x > 1])
    assert_same(torch.unique(mx), torch.unique(x))
    vals, inverse, counts = torch.unique(mx, return_inverse=True, return_counts=True)
    cvals, cinverse, ccounts = torch.unique(x, return_inverse=True, return_counts=True)
    assert_same(vals, cvals)
    assert_same(inverse, cinverse)
    assert_same(counts, ccounts)
    assert_same(torch.cat([mx, mx], 0), torch.cat([x, x], 0))
    assert_same(torch.stack([mx, mx]), torch.stack([x, x]))
    sorted_vals, indices = torch.sort(mx.flatten(), stable=True)
    assert_same(sorted_vals, torch.sort(x.flatten(), stable=True).values)
    assert_same(indices, torch.sort(x.flatten(), stable=True).indices)


def test_indexing_and_scatter_match_cpu():
    (a, i), (ma, mi) = both(torch.randn(5, 3), torch.tensor([4, 0, 2]))
    assert_same(ma[mi], a[i])
    assert_same(ma[i], a[i])                       # a CPU index list is allowed, as on CUDA
    assert_same(ma.index_select(0, mi), a.index_select(0, i))
    assert_same(torch.gather(ma, 0, mi.view(3, 1).expand(3, 3)),
                torch.gather(a, 0, i.view(3, 1).expand(3, 3)))
    mb, b = ma.clone(), a.clone()
    mb[mi] = 0.5
    b[i] = 0.5
    assert_same(mb, b)
    mb.index_put_((mi,), torch.tensor(7.0, device="mlu"), accumulate=True)
    b.index_put_((i,), torch.tensor(7.0), accumulate=True)
    assert_same(mb, b)


def test_tensors_on_two_mlu_devices_are_rejected():
    a = torch.ones(3, device="mlu:0")
    b = torch.ones(3, device="mlu:1")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a + b
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.matmul(a.view(3, 1), b.view(1, 3))
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.add(a, a, out=torch.empty(3, device="mlu:1"))
    assert (a + a).cpu().tolist() == [2.0, 2.0, 2.0]


def test_non_scalar_cpu_tensors_are_rejected_and_scalars_accepted():
    a = torch.ones(3, device="mlu")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a + torch.ones(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.ones(3) * a
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.add(a, a, out=torch.empty(3))
    r = a + torch.tensor(2.5)
    assert r.device.type == "mlu" and r.cpu().tolist() == [3.5, 3.5, 3.5]
    r = torch.tensor(3.0) * a
    assert r.device.type == "mlu" and r.cpu().tolist() == [3.0, 3.0, 3.0]


@contextlib.contextmanager
def raises_now_or_at_sync(pattern):
    """The error of an operator: raised at once (the fallback, a host-side check) or, like CUDA's
    device-side asserts, by a native kernel at the next synchronisation."""
    with pytest.raises((IndexError, RuntimeError), match=pattern):
        yield
        torch.mlu.synchronize()


def test_out_of_range_index_raises_and_process_continues():
    x = torch.arange(5, device="mlu")
    with raises_now_or_at_sync("out of bounds|index"):
        x[torch.tensor([10])]
    with raises_now_or_at_sync("out of bounds|index"):
        x[torch.tensor([10], device="mlu")]
    with raises_now_or_at_sync("out of bounds|index|range"):
        x.index_select(0, torch.tensor([10], device="mlu"))
    with raises_now_or_at_sync("out of bounds|index"):
        x[torch.tensor([-6], device="mlu")] = 1
    # the device is still healthy, and the error is not reported again
    y = x + 1
    torch.mlu.synchronize()
    assert y.cpu().tolist() == [1, 2, 3, 4, 5]
    assert torch.equal(x.cpu(), torch.arange(5))


RANDOM_OPS = {
    "rand": lambda: torch.rand(64, device="mlu"),
    "randn": lambda: torch.randn(64, device="mlu"),
    "randint": lambda: torch.randint(0, 1000, (64,), device="mlu"),
    "normal_": lambda: torch.empty(64, device="mlu").normal_(2.0, 3.0),
    "uniform_": lambda: torch.empty(64, device="mlu").uniform_(-1, 1),
    "bernoulli": lambda: torch.bernoulli(torch.full((64,), 0.5, device="mlu")),
    "dropout": lambda: F.dropout(torch.ones(64, device="mlu"), p=0.5, training=True),
    "randperm": lambda: torch.randperm(64, device="mlu"),
    "multinomial": lambda: torch.multinomial(torch.ones(64, device="mlu"), 16),
}


@pytest.mark.parametrize("name", sorted(RANDOM_OPS))
def test_random_ops_reproducible_under_mlu_seed(name):
    op = RANDOM_OPS[name]
    torch.mlu.manual_seed(1234)
    first, second = op().cpu(), op().cpu()
    torch.mlu.manual_seed(1234)
    again, again2 = op().cpu(), op().cpu()
    torch.mlu.manual_seed(4321)
    other = op().cpu()
    assert torch.equal(first, again) and torch.equal(second, again2)
    assert not torch.equal(first, second), "consecutive draws repeat"
    assert not torch.equal(first, other), "different seeds give the same numbers"


def test_random_values_are_plausible():
    torch.mlu.manual_seed(0)
    u = torch.rand(20000, device="mlu").cpu()
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    n = torch.empty(20000, device="mlu").normal_(2.0, 3.0).cpu()
    assert abs(n.mean() - 2.0) < 0.1 and abs(n.std() - 3.0) < 0.1
    p = torch.randperm(100, device="mlu").cpu()
    assert torch.equal(p.sort().values, torch.arange(100))
    d = F.dropout(torch.ones(20000, device="mlu"), p=0.25).cpu()
    assert set(d.unique().tolist()) <= {0.0, torch.tensor(1.0 / 0.75).item()}
    assert abs((d == 0).float().mean() - 0.25) < 0.02


def test_operators_of_other_libraries_without_autograd_take_tensors_that_require_grad():
    # Before the AutogradPrivateUse1 fallback, "Could not run ... with arguments from the
    # 'Autogradmlu' backend" unless the caller was in inference mode.
    lib = torch.library.Library("mlu_test_other_library", "DEF")
    lib.define("triple(Tensor x) -> Tensor")
    lib.impl("triple", lambda x: x * 3, "CPU")
    x = torch.ones(3, device="mlu", requires_grad=True)
    y = torch.ops.mlu_test_other_library.triple(x)
    assert y.device.type == "mlu" and torch.equal(y.cpu(), torch.full((3,), 3.0))


def test_torchvision_detection_operators_in_training_mode():
    torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed")
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    kept = torchvision.ops.nms(boxes.to("mlu"), scores.to("mlu"), 0.5)
    assert torch.equal(kept.cpu(), torchvision.ops.nms(boxes, scores, 0.5))
    x = torch.randn(1, 3, 32, 32)
    rois = torch.tensor([[0, 2.0, 3.0, 20.0, 17.0]])
    grads = []
    for device in ("cpu", "mlu"):
        leaf = x.to(device).detach().requires_grad_()
        torchvision.ops.roi_align(leaf, rois.to(device), output_size=4).square().sum().backward()
        grads.append(leaf.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0])
