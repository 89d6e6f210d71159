"""Native upsampling (nearest, linear), reflection and replication padding against the CPU."""

import pytest
import torch
import torch.nn.functional as F

TOLERANCE = {
    torch.float32: dict(atol=1e-5, rtol=1e-5),
    torch.float64: dict(atol=1e-12, rtol=1e-12),
    torch.float16: dict(atol=1e-2, rtol=1e-2),
    torch.bfloat16: dict(atol=5e-2, rtol=5e-2),
}


@pytest.fixture(autouse=True)
def _no_fallback():
    torch.mlu.reset_fallback_stats()
    yield
    used = [k for k in torch.mlu.fallback_stats() if k.startswith(("aten::upsample", "aten::_upsample",
                                                                     "aten::reflection_pad",
                                                                     "aten::replication_pad"))]
    assert not used, f"operators ran on the CPU fallback: {used}"


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape) + 5), dtype=dtype)


def check(fn, x, dtype=torch.float32, memory_format=None, grad=True):
    cpu = x.to(dtype).detach().requires_grad_(grad)
    mlu = x.to(dtype).to("mlu")
    if memory_format is not None:
        mlu = mlu.contiguous(memory_format=memory_format)
    mlu = mlu.detach().requires_grad_(grad)
    expected, actual = fn(cpu), fn(mlu)
    torch.testing.assert_close(actual.cpu(), expected, **TOLERANCE.get(dtype, dict(atol=0, rtol=0)))
    if grad:
        g = randn(*expected.shape, dtype=dtype)
        expected.backward(g)
        actual.backward(g.to("mlu"))
        torch.testing.assert_close(mlu.grad.cpu(), cpu.grad, **TOLERANCE[dtype])
    return actual


@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=2), dict(scale_factor=3), dict(size=(7, 5)), dict(scale_factor=0.5), dict(size=(4, 11)),
    dict(scale_factor=1.7, recompute_scale_factor=False),
])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest2d(kwargs, mode):
    check(lambda x: F.interpolate(x, mode=mode, **kwargs), randn(2, 3, 6, 8))


def test_nearest_1d_3d_layouts_and_bytes():
    check(lambda x: F.interpolate(x, scale_factor=2.5), randn(2, 3, 7))
    check(lambda x: F.interpolate(x, size=(3, 5, 7)), randn(1, 2, 2, 3, 4))
    out = check(lambda x: F.interpolate(x, scale_factor=2), randn(2, 8, 5, 5), memory_format=torch.channels_last)
    assert out.is_contiguous(memory_format=torch.channels_last)
    x = torch.randint(0, 255, (1, 3, 5, 5), dtype=torch.uint8)
    torch.testing.assert_close(F.interpolate(x.mlu(), scale_factor=1.5).cpu(), F.interpolate(x, scale_factor=1.5))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(size=(5, 13)), dict(scale_factor=0.6),
                                    dict(scale_factor=1.3, recompute_scale_factor=False), dict(size=(1, 1))])
def test_bilinear2d(kwargs, align_corners):
    check(lambda x: F.interpolate(x, mode="bilinear", align_corners=align_corners, **kwargs), randn(2, 3, 6, 7))


def test_linear_trilinear_layouts_and_dtypes():
    check(lambda x: F.interpolate(x, scale_factor=1.5, mode="linear"), randn(2, 3, 9))
    check(lambda x: F.interpolate(x, size=(3, 6, 5), mode="trilinear", align_corners=True), randn(1, 2, 2, 4, 3))
    check(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), randn(2, 8, 4, 5),
          memory_format=torch.channels_last)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        check(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), randn(1, 2, 4, 5), dtype=dtype)


def test_bilinear_bytes_within_one():
    x = torch.randint(0, 255, (1, 3, 6, 6), dtype=torch.uint8)
    expected = F.interpolate(x, size=(9, 10), mode="bilinear").int()
    actual = F.interpolate(x.mlu(), size=(9, 10), mode="bilinear").cpu().int()
    assert (actual - expected).abs().max() <= 1


def test_upsample_errors():
    with pytest.raises(RuntimeError, match="Non-empty 4D data tensor expected"):
        torch.ops.aten.upsample_nearest2d(torch.randn(2, 0, 3, 3, device="mlu"), [4, 4])
    with pytest.raises(RuntimeError, match="Input and output sizes should be greater than 0"):
        torch.ops.aten.upsample_bilinear2d(torch.randn(1, 1, 3, 3, device="mlu"), [0, 4], False)


@pytest.mark.parametrize("padding", [(1, 1, 1, 1), (2, 0, 1, 3), (0, 3, 0, 0), (-1, 2, 1, -1)])
def test_reflection_pad2d(padding):
    check(lambda x: F.pad(x, padding, mode="reflect"), randn(2, 3, 5, 6))
    check(lambda x: F.pad(x, padding, mode="reflect"), randn(3, 5, 6))  # unbatched


def test_reflection_pad_1d_3d_layouts_and_dtypes():
    check(lambda x: F.pad(x, (3, 2), mode="reflect"), randn(2, 3, 7))
    check(lambda x: F.pad(x, (1, 2, 2, 1, 1, 1), mode="reflect"), randn(1, 2, 3, 4, 5))
    check(lambda x: F.pad(x, (1, 1, 2, 2), mode="reflect"), randn(2, 8, 4, 5), memory_format=torch.channels_last)
    check(lambda x: F.pad(x, (1, 1, 2, 2), mode="reflect"), randn(2, 3, 4, 5), dtype=torch.bfloat16)
    x = torch.arange(2 * 3 * 16).reshape(2, 3, 4, 4)
    check(lambda x: F.pad(x, (1, 2, 3, 1), mode="reflect"), x, dtype=torch.int64, grad=False)


def test_reflection_pad_errors():
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(torch.randn(1, 2, 3, 3, device="mlu"), (3, 0, 0, 0), mode="reflect")


@pytest.mark.parametrize("padding", [(1, 1, 1, 1), (2, 0, 1, 3), (0, 7, 0, 0), (-1, 2, 1, -1)])
def test_replication_pad2d(padding):
    check(lambda x: F.pad(x, padding, mode="replicate"), randn(2, 3, 5, 6))
    check(lambda x: F.pad(x, padding, mode="replicate"), randn(3, 5, 6))  # unbatched


def test_replication_pad_1d_3d_layouts_and_dtypes():
    check(lambda x: F.pad(x, (4, 2), mode="replicate"), randn(2, 3, 3))  # wider than the input
    check(lambda x: F.pad(x, (1, 2, 2, 1, 1, 1), mode="replicate"), randn(1, 2, 3, 4, 5))
    check(lambda x: F.pad(x, (1, 1, 2, 2), mode="replicate"), randn(2, 8, 4, 5),
          memory_format=torch.channels_last)
    check(lambda x: F.pad(x, (1, 1, 2, 2), mode="replicate"), randn(2, 3, 4, 5), dtype=torch.float16)
    x = torch.arange(2 * 3 * 16).reshape(2, 3, 4, 4)
    check(lambda t: F.pad(t, (2, 1, 0, 1), mode="replicate"), x, dtype=torch.int64, grad=False)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(size=(7, 5)), dict(scale_factor=0.5),
                                    dict(size=(4, 11), align_corners=True), dict(scale_factor=1.7)])
def test_bicubic_forward_and_gradient(kwargs):
    kwargs.setdefault("align_corners", False)
    check(lambda x: F.interpolate(x, mode="bicubic", **kwargs), randn(2, 3, 6, 8))
    check(lambda x: F.interpolate(x, mode="bicubic", **kwargs), randn(2, 3, 6, 8), dtype=torch.float64)


def test_bicubic_layouts_and_no_fallback():
    check(lambda x: F.interpolate(x, scale_factor=2, mode="bicubic"), randn(2, 8, 5, 4),
          memory_format=torch.channels_last)
    check(lambda x: F.interpolate(x, size=(9, 9), mode="bicubic"), randn(1, 2, 4, 4), dtype=torch.bfloat16)
    torch.mlu.reset_fallback_stats()
    F.interpolate(torch.randn(1, 1, 4, 4, device="mlu"), scale_factor=3, mode="bicubic").sum().item()
    assert not [k for k in torch.mlu.fallback_stats() if "bicubic" in k]


def test_bicubic_uint8_runs_cpu_algorithm_on_the_fallback():
    x = torch.randint(0, 256, (1, 2, 5, 6), dtype=torch.uint8)
    torch.mlu.reset_fallback_stats()
    got = F.interpolate(x.mlu(), scale_factor=2, mode="bicubic")
    assert "aten::upsample_bicubic2d" in torch.mlu.fallback_stats()
    torch.mlu.reset_fallback_stats()  # the autouse check above is for floating types
    assert torch.equal(got.cpu(), F.interpolate(x, scale_factor=2, mode="bicubic"))
