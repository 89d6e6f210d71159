"""Sparse COO tensors on mlu: construction and copies, coalesce, addition into dense and sparse
tensors, index_select, sparse_mask, to_sparse/to_dense, the sparse gradients of nn.Embedding and
nn.EmbeddingBag, and SGD and SparseAdam updates, against the CPU with no CPU fallback."""

import pytest
import torch
from torch import nn


pytestmark = pytest.mark.usefixtures("no_cpu_fallback")


def uncoalesced(dense_dims=()):
    """A [4, 5, *dense_dims] sparse tensor with repeated coordinates (unsorted)."""
    g = torch.Generator().manual_seed(len(dense_dims))
    indices = torch.tensor([[3, 0, 1, 3, 0, 2, 3], [4, 1, 0, 4, 1, 2, 0]])
    values = torch.randn(7, *dense_dims, generator=g)
    return torch.sparse_coo_tensor(indices, values, (4, 5, *dense_dims))


def dense(t):
    return t.to_dense().cpu() if t.is_sparse else t.cpu()


@pytest.mark.parametrize("dense_dims", [(), (3,)])
def test_construction_copies_and_coalesce_match_the_cpu(dense_dims):
    cpu = uncoalesced(dense_dims)
    mlu = cpu.to("mlu")
    assert mlu.is_sparse and mlu.device.type == "mlu" and mlu._nnz() == 7
    assert mlu.sparse_dim() == 2 and mlu.dense_dim() == len(dense_dims)
    assert mlu._values().device.type == "mlu" and not mlu.is_coalesced()
    made = torch.sparse_coo_tensor(cpu._indices().to("mlu"), cpu._values().to("mlu"), cpu.shape)
    assert made.device.type == "mlu"
    expected, actual = cpu.coalesce(), mlu.coalesce()
    assert actual.is_coalesced() and actual._nnz() == expected._nnz() == 5
    assert torch.equal(actual._indices().cpu(), expected._indices())
    torch.testing.assert_close(actual._values().cpu(), expected._values())
    assert torch.equal(dense(mlu), cpu.to_dense())
    back = mlu.cpu()
    assert back.is_sparse and back.device.type == "cpu" and torch.equal(back.to_dense(), cpu.to_dense())


def test_addition_into_dense_and_sparse_tensors():
    s = uncoalesced()
    d = torch.randn(4, 5)
    sm, dm = s.to("mlu"), d.to("mlu")
    torch.testing.assert_close(dense(dm + sm), d + s)
    torch.testing.assert_close(dense(torch.add(dm, sm, alpha=-0.5)), torch.add(d, s, alpha=-0.5))
    in_place = dm.clone()
    in_place.add_(sm, alpha=2)
    torch.testing.assert_close(in_place.cpu(), d + 2 * s.to_dense())
    total = sm + sm  # sparse + sparse stays sparse
    assert total.is_sparse and total.is_coalesced()
    torch.testing.assert_close(dense(total), (s + s).to_dense())
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        sm + dm
    with pytest.raises(RuntimeError, match="same size"):
        torch.zeros(4, 6, device="mlu") + sm


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_index_select_matches_the_cpu(dim):
    s = uncoalesced((3,))
    index = torch.tensor([2, 0, 0, 1]) if dim != 1 else torch.tensor([4, 4, 1])
    expected = s.index_select(dim, index)
    actual = s.to("mlu").index_select(dim, index.to("mlu"))
    assert actual.is_sparse and actual.shape == expected.shape
    torch.testing.assert_close(dense(actual), expected.to_dense())
    with pytest.raises(IndexError, match="out of range"):
        s.to("mlu").index_select(0, torch.tensor([4], device="mlu"))


def test_sparse_mask_and_to_sparse_round_trips():
    s = uncoalesced().coalesce()
    d = torch.randn(4, 5)
    masked = d.to("mlu").sparse_mask(s.to("mlu"))
    assert masked.is_sparse
    torch.testing.assert_close(dense(masked), d.sparse_mask(s).to_dense())
    d[d.abs() < 0.8] = 0
    flags = d != 0
    assert torch.equal(dense(flags.to("mlu").to_sparse()), flags)  # bool values stay bool
    for sparse_dim in (2, 1):
        converted = d.to("mlu").to_sparse(sparse_dim)
        assert converted.is_sparse and converted.sparse_dim() == sparse_dim
        assert torch.equal(dense(converted), d)
        assert torch.equal(converted._indices().cpu(), d.to_sparse(sparse_dim)._indices())


def test_operators_without_sparse_kernels_name_themselves():
    with pytest.raises(NotImplementedError, match="SparsePrivateUse1|Sparsemlu"):
        uncoalesced().to("mlu").sin()
    assert torch.equal((torch.ones(2, device="mlu") * 3).cpu(), torch.full((2,), 3.0))


def embedding_models(device):
    torch.manual_seed(0)
    emb = nn.Embedding(50, 8, sparse=True, padding_idx=3).to(device)
    bag = nn.EmbeddingBag(50, 8, mode="mean", sparse=True).to(device)
    return emb, bag


def loss_of(emb, bag, ids):
    return emb(ids).square().sum() + bag(ids).sin().sum()


def test_embedding_gradients_are_sparse_and_match_the_cpu():
    ids = torch.randint(0, 50, (6, 5), generator=torch.Generator().manual_seed(2))
    ids[0, 0] = 3  # padding_idx: no gradient
    grads = []
    for device in ("cpu", "mlu"):
        emb, bag = embedding_models(device)
        loss_of(emb, bag, ids.to(device)).backward()
        loss_of(emb, bag, ids.flip(0).to(device)).backward()  # sparse gradients accumulate
        assert emb.weight.grad.is_sparse and bag.weight.grad.is_sparse
        grads.append((dense(emb.weight.grad), dense(bag.weight.grad)))
    for actual, expected in zip(grads[1], grads[0]):
        torch.testing.assert_close(actual, expected)
    assert torch.equal(grads[1][0][3], torch.zeros(8))


@pytest.mark.parametrize("optimizer", ["SGD", "SparseAdam"])
def test_sparse_optimizers_train_as_on_the_cpu(optimizer):
    options = {"SGD": dict(lr=0.1), "SparseAdam": dict(lr=0.01)}[optimizer]
    weights = []
    for device in ("cpu", "mlu"):
        emb, bag = embedding_models(device)
        opt = getattr(torch.optim, optimizer)([*emb.parameters(), *bag.parameters()], **options)
        g = torch.Generator().manual_seed(1)
        for _ in range(4):
            opt.zero_grad()
            loss_of(emb, bag, torch.randint(0, 50, (6, 5), generator=g).to(device)).backward()
            opt.step()
        weights.append((emb.weight.detach().cpu(), bag.weight.detach().cpu()))
    for actual, expected in zip(weights[1], weights[0]):
        torch.testing.assert_close(actual, expected)


def test_to_sparse_refuses_what_mlu_does_not_make():
    x = torch.ones(2, 3, device="mlu")
    with pytest.raises(RuntimeError, match=r"sparse_dim 3 is not in \[1, 2\]"):
        x.to_sparse(3)
    with pytest.raises(RuntimeError, match="only the sparse COO layout"):
        x.to_sparse(layout=torch.sparse_csr)
    assert torch.equal(dense(x.to_sparse()), torch.ones(2, 3))
