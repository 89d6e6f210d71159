"""Native indexing on mlu: index_select, gather, scatter, index_add, advanced indexing,
index_put_, masked_fill, embedding and embedding_bag, compared with CPU, with their gradients,
without the CPU fallback."""


import pytest
import torch
import torch.nn.functional as F

from op_helpers import native, sample

ALL_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int16,
              torch.int32, torch.int64, torch.uint8, torch.bool]
FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def check(mlu_result, cpu_result):
    tolerance = 1e-2 if mlu_result.dtype in (torch.float16, torch.bfloat16) else 1e-5
    torch.testing.assert_close(mlu_result.cpu(), cpu_result, rtol=tolerance, atol=tolerance)


# ---- index_select, gather, scatter, index_add ----------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_index_select_dtypes_and_dims(dtype):
    x = sample((4, 5, 6), dtype)
    idx = torch.tensor([3, 0, 0, 2])
    with native():
        results = [x.mlu().index_select(d, idx.mlu()) for d in range(3)]
    for d, r in enumerate(results):
        check(r, x.index_select(d, idx))


def test_index_select_layouts_and_edge_cases():
    x = sample((6, 7), torch.float32)
    idx32 = torch.tensor([5, 1], dtype=torch.int32)
    with native():
        t = x.mlu().t().index_select(1, idx32.mlu())        # non-contiguous self, int32 index
        s = x.mlu()[:, ::2].index_select(0, idx32.mlu())      # sliced self
        e = x.mlu().index_select(0, torch.tensor([], dtype=torch.long, device="mlu"))
        z = torch.tensor(3.0, device="mlu").index_select(0, torch.tensor([0], device="mlu"))
        out = torch.empty(0, device="mlu")
        torch.index_select(x.mlu(), 1, idx32.long().mlu(), out=out)
    check(t, x.t().index_select(1, idx32))
    check(s, x[:, ::2].index_select(0, idx32))
    assert e.shape == (0, 7)
    check(z, torch.tensor(3.0).index_select(0, torch.tensor([0])))
    check(out, x.index_select(1, idx32.long()))


def test_index_select_and_embedding_gradients():
    w = sample((10, 4), torch.float32)
    idx = torch.tensor([[1, 3, 3], [9, 0, 1]])
    g = sample((2, 3, 4), torch.float32, seed=1)
    wm = w.mlu().requires_grad_()
    with native():
        F.embedding(idx.mlu(), wm).backward(g.mlu())
        gi = torch.zeros(10, 4, device="mlu", requires_grad=True)
        gi.index_select(0, idx.view(-1).mlu()).backward(g.view(-1, 4).mlu())
    wc = w.clone().requires_grad_()
    F.embedding(idx, wc).backward(g)
    check(wm.grad, wc.grad)
    check(gi.grad, wc.grad)


@pytest.mark.parametrize("padding_idx,scale", [(None, False), (3, False), (None, True), (1, True)])
def test_embedding_backward_options(padding_idx, scale):
    w = sample((10, 3), torch.float32)
    idx = torch.tensor([[1, 3, 3, 7], [3, 1, 1, 1]])
    g = sample((2, 4, 3), torch.float32, seed=2)
    wm = w.mlu().requires_grad_()
    with native():
        out = F.embedding(idx.mlu(), wm, padding_idx=padding_idx, scale_grad_by_freq=scale)
        out.backward(g.mlu())
    wc = w.clone().requires_grad_()
    expected = F.embedding(idx, wc, padding_idx=padding_idx, scale_grad_by_freq=scale)
    expected.backward(g)
    check(out, expected)
    check(wm.grad, wc.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool])
def test_gather_and_its_gradient(dtype):
    x = sample((4, 5, 3), dtype)
    idx = torch.randint(0, 5, (4, 2, 3), generator=torch.Generator().manual_seed(3))
    with native():
        r1 = x.mlu().gather(1, idx.mlu())
        r2 = x.mlu().transpose(0, 2).gather(0, idx.transpose(0, 2)[:2].contiguous().mlu() % 3)
        r0 = torch.tensor(5, dtype=dtype).mlu().gather(0, torch.tensor(0).mlu())
    check(r1, x.gather(1, idx))
    check(r2, x.transpose(0, 2).gather(0, idx.transpose(0, 2)[:2].contiguous() % 3))
    check(r0, torch.tensor(5, dtype=dtype).gather(0, torch.tensor(0)))
    if dtype.is_floating_point:
        xm = x.mlu().requires_grad_()
        g = sample((4, 2, 3), dtype, seed=4)
        with native():
            xm.gather(1, idx.mlu()).backward(g.mlu())
        xc = x.clone().requires_grad_()
        xc.gather(1, idx).backward(g)
        check(xm.grad, xc.grad)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int32, torch.uint8])
def test_scatter_forms(dtype):
    x = sample((5, 4), dtype)
    src = sample((3, 4), dtype, seed=5)
    idx = torch.tensor([[0, 1, 2, 3], [4, 0, 1, 2], [2, 2, 2, 2]])
    uniq = torch.tensor([[0, 1, 2, 3], [4, 0, 1, 2], [2, 3, 4, 0]])  # no duplicates per column
    with native():
        a = x.mlu().scatter(0, uniq.mlu(), src.mlu())
        b = x.mlu().scatter(1, idx[:, :2].mlu() % 4, 7)
        c = x.mlu().scatter_add(0, idx.mlu(), src.mlu())
        d = x.mlu().scatter(0, idx.mlu(), src.mlu(), reduce="add")
        e = x.mlu().clone().scatter_(0, idx.mlu(), 2, reduce="multiply")
        f = x.mlu().clone()
        f.scatter_add_(1, idx[:, :3].mlu() % 4, src[:, :3].mlu())
    check(a, x.scatter(0, uniq, src))
    check(b, x.scatter(1, idx[:, :2] % 4, 7))
    check(c, x.scatter_add(0, idx, src))
    check(d, x.scatter(0, idx, src, reduce="add"))
    check(e, x.clone().scatter_(0, idx, 2, reduce="multiply"))
    check(f, x.clone().scatter_add_(1, idx[:, :3] % 4, src[:, :3]))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_scatter_reduce(reduce, include_self, dtype):
    x = sample((5, 3), dtype)
    src = sample((6, 3), dtype, seed=6)
    idx = torch.tensor([[0, 1, 1], [0, 1, 2], [4, 4, 4], [0, 2, 1], [3, 1, 0], [0, 0, 0]])
    with native():
        r = x.mlu().scatter_reduce(0, idx.mlu(), src.mlu(), reduce, include_self=include_self)
    check(r, x.scatter_reduce(0, idx, src, reduce, include_self=include_self))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32])
def test_index_add(dtype):
    x = sample((5, 3, 2), dtype)
    src = sample((5, 4, 2), dtype, seed=7)
    idx = torch.tensor([2, 0, 2, 1])
    alpha = 2 if not dtype.is_floating_point else 0.5
    with native():
        r = x.mlu().index_add(1, idx.mlu(), src.mlu(), alpha=alpha)
        t = x.mlu().transpose(0, 2).clone().index_add_(1, idx.int().mlu(), src.transpose(0, 2).mlu())
    check(r, x.index_add(1, idx, src, alpha=alpha))
    check(t, x.transpose(0, 2).clone().index_add_(1, idx.int(), src.transpose(0, 2)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool])
def test_index_copy_and_index_fill(dtype):
    x = sample((4, 5), dtype)
    src = sample((4, 2), dtype, seed=14)
    idx = torch.tensor([3, 0])
    value = False if dtype == torch.bool else 9
    with native():
        c = x.mlu().index_copy(1, idx.mlu(), src.mlu())
        f = x.mlu().index_fill(0, torch.tensor([-1, 1], device="mlu"), value)
        t = x.mlu().t().index_fill_(1, idx.mlu(), torch.tensor(value, dtype=dtype, device="mlu"))
    check(c, x.index_copy(1, idx, src))
    check(f, x.index_fill(0, torch.tensor([-1, 1]), value))
    check(t, x.t().index_fill(1, idx, value))


def test_take_and_masked_scatter():
    x = sample((4, 5), torch.float32)
    idx = torch.tensor([[0, -1], [19, 7]])
    mask = sample((5,), torch.bool, seed=15)
    source = sample((30,), torch.float32, seed=16)
    with native():
        t = x.mlu().t().take(idx.mlu())                       # row-major order of the transposed view
        m = x.mlu().t().masked_scatter(mask.mlu().unsqueeze(1), source.mlu())
    check(t, x.t().take(idx))
    check(m, x.t().masked_scatter(mask.unsqueeze(1), source))
    with pytest.raises(RuntimeError, match="selects more elements than source has \\(3\\)"):
        everything = torch.ones(4, 5, dtype=torch.bool, device="mlu")
        x.mlu().masked_scatter_(everything, source[:3].mlu()).cpu()
    with pytest.raises(RuntimeError, match="index 20 is out of bounds for dimension 0 with size 20"):
        x.mlu().take(torch.tensor([20], device="mlu")).cpu()


# ---- advanced indexing -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool])
def test_advanced_indexing_forms(dtype):
    x = sample((4, 5, 6), dtype)
    i = torch.tensor([[0, 3], [-1, 2]])
    j = torch.tensor([4, -5])
    views = {
        "first": lambda t, i, j: t[i],
        "two": lambda t, i, j: t[i, j],
        "middle": lambda t, i, j: t[:, j],
        "split": lambda t, i, j: t[j % 4, :, j],          # non-adjacent: index dims go first
        "last": lambda t, i, j: t[..., j],
        "broadcast": lambda t, i, j: t[i, :, j[:1]],
        "transposed": lambda t, i, j: t.transpose(0, 2)[j],
    }
    with native():
        results = {k: f(x.mlu(), i.mlu(), j.mlu()) for k, f in views.items()}
    for k, f in views.items():
        check(results[k], f(x, i, j))


def test_advanced_indexing_with_cpu_and_int32_indices():
    x = sample((6, 4), torch.float32)
    idx = torch.tensor([5, 0, 5], dtype=torch.int32)
    check(x.mlu()[idx], x[idx])
    check(x.mlu()[idx.mlu()], x[idx])
    mask = x[:, 0] > 0
    check(x.mlu()[mask.mlu()], x[mask])  # a mask synchronises (nonzero), but the gather is native


def test_indexing_gradient_uses_index_put_accumulate():
    x = sample((5, 3), torch.float32)
    idx = torch.tensor([1, 1, 4, 1])
    g = sample((4, 3), torch.float32, seed=8)
    xm = x.mlu().requires_grad_()
    with native():
        xm[idx.mlu()].backward(g.mlu())
    xc = x.clone().requires_grad_()
    xc[idx].backward(g)
    check(xm.grad, xc.grad)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int16])
def test_index_put(accumulate, dtype):
    x = sample((5, 4), dtype)
    i = torch.tensor([0, 3, 3, -1]) if accumulate else torch.tensor([0, 3, -1])
    v = sample((len(i), 4), dtype, seed=9)
    with native():
        a = x.mlu().index_put_((i.mlu(),), v.mlu(), accumulate=accumulate)
        b = x.mlu().index_put((i.mlu(), i.mlu() % 4), v[:, 0].mlu(), accumulate=accumulate)
        c = x.mlu().index_put_((i.mlu(),), torch.tensor(3, dtype=dtype).mlu(), accumulate=accumulate)
    check(a, x.clone().index_put_((i,), v, accumulate=accumulate))
    check(b, x.index_put((i, i % 4), v[:, 0], accumulate=accumulate))
    check(c, x.clone().index_put_((i,), torch.tensor(3, dtype=dtype), accumulate=accumulate))


def test_setitem_forms():
    x = sample((4, 6), torch.float32)
    mask = x > 0
    with native():
        a = x.mlu()
        a[mask.mlu()] = 2.5                       # masked_fill_, no nonzero
        b = x.mlu()
        b[:, torch.tensor([1, 4], device="mlu")] = torch.tensor([[1.0, 2.0]], device="mlu")
        c = x.mlu()
        c[torch.tensor([0, 2], device="mlu")] = torch.tensor(-1.0, device="mlu")
    ea, eb, ec = x.clone(), x.clone(), x.clone()
    ea[mask] = 2.5
    eb[:, torch.tensor([1, 4])] = torch.tensor([[1.0, 2.0]])
    ec[torch.tensor([0, 2])] = -1.0
    check(a, ea)
    check(b, eb)
    check(c, ec)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_masked_fill(dtype):
    x = sample((3, 4, 5), dtype)
    mask = sample((4, 1), torch.bool, seed=10)
    value = True if dtype == torch.bool else 3
    with native():
        a = x.mlu().masked_fill(mask.mlu(), value)
        cpu_value = torch.tensor(value)
        b = x.mlu().transpose(0, 2).masked_fill(mask.mlu().expand(4, 3), cpu_value)
        c = x.mlu().masked_fill_(mask.mlu(), torch.tensor(value, dtype=dtype, device="mlu"))
    check(a, x.masked_fill(mask, value))
    check(b, x.transpose(0, 2).masked_fill(mask.expand(4, 3), cpu_value))
    check(c, x.masked_fill(mask, value))


def test_masked_fill_gradient_and_errors():
    x = sample((3, 4), torch.float32)
    mask = x > 0
    xm = x.mlu().requires_grad_()
    g = sample((3, 4), torch.float32, seed=11)
    with native():
        xm.masked_fill(mask.mlu(), 0.0).backward(g.mlu())
    torch.testing.assert_close(xm.grad.cpu(), g.masked_fill(mask, 0))
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.mlu().masked_fill_(mask.int().mlu(), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.mlu().masked_fill_(mask.mlu(), torch.ones(2, device="mlu"))


# ---- embedding_bag ----------------------------------------------------------------------------------

BAG_CASES = [
    dict(mode="sum"), dict(mode="mean"), dict(mode="max"),
    dict(mode="sum", per_sample_weights=True), dict(mode="mean", padding_idx=2),
    dict(mode="max", padding_idx=2), dict(mode="sum", include_last_offset=True),
]


@pytest.mark.parametrize("case", BAG_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_embedding_bag_forward_and_gradients(case, dtype):
    case = dict(case)
    w = sample((10, 3), dtype)
    idx = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9, 2, 2])
    offsets = torch.tensor([0, 2, 2, 6, 10] if case.get("include_last_offset") else [0, 2, 2, 6])
    psw = sample((10,), dtype, seed=12) if case.pop("per_sample_weights", False) else None
    g = sample((4, 3), dtype, seed=13)
    wm = w.mlu().requires_grad_()
    pm = psw.mlu().requires_grad_() if psw is not None else None
    with native():
        out = F.embedding_bag(idx.mlu(), wm, offsets.mlu(), per_sample_weights=pm, **case)
        out.backward(g.mlu())
        no_grad = F.embedding_bag(idx.mlu(), w.mlu(), offsets.mlu(),
                                  per_sample_weights=None if psw is None else psw.mlu(), **case)
    wc = w.clone().requires_grad_()
    pc = psw.clone().requires_grad_() if psw is not None else None
    expected = F.embedding_bag(idx, wc, offsets, per_sample_weights=pc, **case)
    expected.backward(g)
    check(out, expected)
    check(no_grad, expected.detach())
    check(wm.grad, wc.grad)
    if psw is not None:
        check(pm.grad, pc.grad)


def test_embedding_bag_2d_input_and_int32_indices():
    w = sample((8, 5), torch.float32)
    idx = torch.tensor([[1, 2, 7], [0, 0, 3]], dtype=torch.int32)
    with native():
        out = F.embedding_bag(idx.mlu(), w.mlu(), mode="mean")
    check(out, F.embedding_bag(idx, w, mode="mean"))


# ---- errors --------------------------------------------------------------------------------------

def test_out_of_range_index_is_reported_at_the_next_sync_and_the_process_stays_usable():
    x = torch.arange(20.0, device="mlu").view(5, 4)
    bad = torch.tensor([1, 7], device="mlu")
    y = x[bad]                                   # returns at once: the kernel runs asynchronously
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 0 with size 5"):
        y.cpu()
    with pytest.raises(RuntimeError, match="index -6 is out of bounds for dimension 0 with size 5"):
        x[torch.tensor([-6], device="mlu")].cpu()
    with pytest.raises(RuntimeError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x.gather(1, torch.tensor([[4]], device="mlu")).cpu()
    with pytest.raises(RuntimeError, match="index 10 is out of bounds for dimension 0 with size 5"):
        x.index_select(0, torch.tensor([10], device="mlu")).cpu()
    with pytest.raises(RuntimeError, match="index 12 is out of bounds for dimension 0 with size 10"):
        F.embedding(torch.tensor([12], device="mlu"), torch.zeros(10, 2, device="mlu")).cpu()
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 5"):
        x.index_select(0, torch.tensor([-1], device="mlu")).cpu()
    # The device and the tensors are still fine.
    torch.testing.assert_close(x[torch.tensor([4], device="mlu")].cpu(), torch.arange(16.0, 20.0).view(1, 4))


def test_argument_errors():
    x = torch.zeros(3, 4, device="mlu")
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        x.index_select(0, torch.zeros(2, 2, dtype=torch.long, device="mlu"))
    with pytest.raises(RuntimeError, match="int32 or int64"):
        x.index_select(0, torch.zeros(2, device="mlu"))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(0, torch.zeros(2, dtype=torch.long, device="mlu"))
    with pytest.raises(IndexError, match="too many indices"):
        x[torch.tensor([0], device="mlu"), torch.tensor([0], device="mlu"), torch.tensor([0], device="mlu")]
    with pytest.raises(IndexError, match="could not be broadcast"):
        x[torch.tensor([0, 1], device="mlu"), torch.tensor([0, 1, 2], device="mlu")]
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
        x.index_put_((torch.tensor([0], device="mlu"),), torch.ones(4, dtype=torch.float64, device="mlu"))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(torch.tensor([0, 1], device="mlu"), x, torch.tensor([1], device="mlu")).cpu()


# ---- nonzero, masked_select, boolean indexing ------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_nonzero_and_boolean_indexing_match_cpu(dtype):
    x = sample((3, 4, 5), dtype) % 3 if dtype != torch.bool else sample((3, 4, 5), dtype)
    mask = sample((3, 4, 5), torch.bool, seed=1)
    with native():
        nz = x.mlu().nonzero()
        strided = x.mlu().transpose(0, 2)[::2].nonzero()
        selected = x.mlu()[mask.mlu()]
        picked = torch.masked_select(x.mlu(), mask.mlu()[0])  # the mask broadcasts
        where = torch.argwhere(x.mlu())
    check(nz, x.nonzero())
    check(strided, x.transpose(0, 2)[::2].nonzero())
    check(selected, x[mask])
    check(picked, torch.masked_select(x, mask[0]))
    check(where, torch.argwhere(x))


def test_nonzero_edge_cases():
    cases = [torch.tensor(0.0), torch.tensor(2.0), torch.zeros(0, 3), torch.zeros(4, 3),
             torch.tensor([float("nan"), 0.0, -0.0, 1e-30])]
    with native():
        results = [c.mlu().nonzero() for c in cases]
        out = torch.empty(7, 2, dtype=torch.long, device="mlu")
        torch.nonzero(torch.eye(3).mlu(), out=out)
    for r, c in zip(results, cases):
        assert r.shape == c.nonzero().shape
        check(r, c.nonzero())
    check(out, torch.eye(3).nonzero())


def test_masked_select_gradient_and_bad_mask():
    x = torch.randn(4, 3, requires_grad=True)
    xm = x.detach().mlu().requires_grad_()
    mask = torch.tensor([True, False, True])
    with native():
        torch.masked_select(xm, mask.mlu()).sum().backward()
    torch.masked_select(x, mask).sum().backward()
    check(xm.grad, x.grad)
    with pytest.raises(RuntimeError, match="expected BoolTensor for mask"):
        torch.masked_select(xm.detach(), torch.ones(3, dtype=torch.uint8, device="mlu"))


def test_nonzero_rejects_a_non_long_out():
    with pytest.raises(RuntimeError, match="expected out of dtype long"):
        torch.nonzero(torch.ones(3, device="mlu"), out=torch.empty(0, dtype=torch.int32, device="mlu"))
