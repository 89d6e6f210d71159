"""nn.Unfold and nn.Fold (aten::im2col and aten::col2im, each the other's gradient) run natively:
the same values as PyTorch CPU in every dtype CPU takes, CPU's errors for bad shapes and dtypes."""

import pytest
import torch
import torch.nn.functional as F

from reliability_support import raises_then_usable

GEOMETRIES = [
    ((2, 3, 9, 8), dict(kernel_size=3, padding=1, stride=2)),
    ((3, 7, 7), dict(kernel_size=(2, 3), dilation=(2, 1))),  # one image, no batch dim
    ((1, 2, 5, 5), dict(kernel_size=5)),
    ((2, 4, 6, 6), dict(kernel_size=2, stride=2)),  # ViT-style patches
    ((2, 3, 4, 6), dict(kernel_size=(3, 1), padding=(2, 0), stride=(1, 3))),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape, geometry", GEOMETRIES)
def test_unfold_and_fold_and_their_gradients_match_cpu(dtype, shape, geometry):
    torch.mlu.reset_fallback_stats()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(dtype)
    on_mlu, on_cpu = x.to("mlu").requires_grad_(), x.clone().requires_grad_()
    columns = F.unfold(on_mlu, **geometry)
    want = F.unfold(on_cpu, **geometry)
    assert torch.equal(columns.cpu(), want)  # copies: exact
    grad = torch.randn(want.shape, generator=g).to(dtype)
    columns.backward(grad.to("mlu"))
    want.backward(grad)
    torch.testing.assert_close(on_mlu.grad.cpu(), on_cpu.grad)
    # Fold is the adjoint: the sum of every column entry where unfold read it.
    folded = F.fold(grad.to("mlu").requires_grad_(), shape[-2:], **geometry)
    torch.testing.assert_close(folded.cpu(), F.fold(grad, shape[-2:], **geometry))
    assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()


def test_bool_images_unfold_and_fold_as_on_cpu():
    x = torch.randint(0, 2, (2, 3, 5, 5)).bool()
    columns = torch.randint(0, 2, (2, 12, 9)).bool()
    assert torch.equal(F.unfold(x.to("mlu"), 2).cpu(), F.unfold(x, 2))
    assert torch.equal(F.fold(columns.to("mlu"), (4, 4), 2).cpu(), F.fold(columns, (4, 4), 2))


def test_strided_operands_and_out():
    x = torch.randn(2, 3, 8, 10)
    on_mlu = x.to("mlu").contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(F.unfold(on_mlu, 3, padding=1).cpu(), F.unfold(x, 3, padding=1))
    sliced = x.to("mlu")[:, :, ::2, 1:]  # a view with strides of its own
    torch.testing.assert_close(F.unfold(sliced, 2).cpu(), F.unfold(x[:, :, ::2, 1:], 2))
    out = torch.empty(2, 9, 30, device="mlu").transpose(1, 2)  # resized and written in place
    torch.ops.aten.im2col.out(x[:1].to("mlu"), [3, 3], [1, 1], [0, 0], [1, 1], out=out)
    torch.testing.assert_close(out.cpu(), torch.ops.aten.im2col(x[:1], [3, 3], [1, 1], [0, 0], [1, 1]))


def test_complex_images_take_the_cpu_fallback():
    x = torch.randn(1, 2, 4, 4, dtype=torch.complex64)
    torch.mlu.reset_fallback_stats()
    torch.testing.assert_close(F.unfold(x.to("mlu"), 2).cpu(), F.unfold(x, 2))
    assert "aten::im2col" in torch.mlu.fallback_stats()


@pytest.mark.parametrize("call, error, match", [
    (lambda d: F.unfold(torch.randn(2, 3, 4, 4, device=d), 5), RuntimeError,
     "calculated shape of the array of sliding blocks"),
    (lambda d: F.unfold(torch.randn(2, 3, 4, 4, device=d), 2, stride=0), RuntimeError,
     "stride should be greater than zero"),
    (lambda d: F.fold(torch.randn(2, 7, 4, device=d), (3, 3), 2), RuntimeError,
     "divisible by the product of kernel_size"),
    (lambda d: F.fold(torch.randn(2, 8, 5, device=d), (3, 3), 2), RuntimeError,
     "match the calculated number of sliding blocks"),
    (lambda d: F.unfold(torch.ones(1, 1, 3, 3, dtype=torch.int64, device=d), 2), RuntimeError,
     "not implemented for 'Long'"),
])
def test_bad_arguments_raise_as_on_cpu(call, error, match):
    with pytest.raises(error, match=match):
        call("cpu")
    with raises_then_usable(error, match=match):
        call("mlu")
