"""F.grid_sample (grid_sampler_2d) native on mlu: bilinear and nearest, every padding mode, with
and without align_corners, forward and both gradients against the CPU; bicubic on the fallback."""

import itertools

import pytest
import torch
import torch.nn.functional as F

TOL = {torch.float64: dict(atol=1e-12, rtol=1e-12), torch.float32: dict(atol=1e-5, rtol=1e-5),
       torch.float16: dict(atol=2e-2, rtol=2e-2)}


def operands(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 9, generator=g)
    # Points inside, outside (to 1.3) and exactly on pixel centres and borders.
    grid = torch.rand(2, 5, 6, 2, generator=g) * 2.6 - 1.3
    grid[0, 0, 0] = torch.tensor([1.0, -1.0])
    grid[0, 0, 1] = torch.tensor([0.0, 0.0])
    return x.to(dtype), grid.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode,padding,align",
                         list(itertools.product(["bilinear", "nearest"], ["zeros", "border", "reflection"],
                                                [False, True])))
def test_grid_sample_and_gradients_match_cpu(mode, padding, align, dtype):
    x, grid = operands(dtype)
    results = []
    for device in ("cpu", "mlu"):
        a, g = (t.to(device).detach().requires_grad_() for t in (x, grid))
        torch.mlu.reset_fallback_stats()
        y = F.grid_sample(a, g, mode=mode, padding_mode=padding, align_corners=align)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=dtype).view(y.shape).to(device))
        if device == "mlu":
            assert not torch.mlu.fallback_stats()
        results.append((y.detach().cpu(), a.grad.cpu(), g.grad.cpu()))
    for actual, expected in zip(results[1], results[0]):
        torch.testing.assert_close(actual, expected, **TOL[dtype])


def test_spatial_transformer_in_float16_and_without_input_gradient():
    theta = torch.tensor([[[0.9, 0.2, 0.1], [-0.1, 1.1, 0.0]]]).repeat(2, 1, 1)
    x, _ = operands(torch.float32)
    grid = F.affine_grid(theta, (2, 3, 7, 9), align_corners=False)
    expected = F.grid_sample(x.half().float(), grid.half().float(), align_corners=False)
    actual = F.grid_sample(x.half().to("mlu"), grid.half().to("mlu"), align_corners=False)
    assert actual.dtype == torch.float16
    torch.testing.assert_close(actual.float().cpu(), expected, **TOL[torch.float16])
    g = grid.to("mlu").requires_grad_()
    F.grid_sample(x.to("mlu"), g, align_corners=False).sum().backward()
    assert g.grad is not None and g.grad.shape == grid.shape


def test_bicubic_runs_on_the_fallback_and_bad_grids_are_refused():
    x, grid = operands(torch.float32)
    torch.mlu.reset_fallback_stats()
    actual = F.grid_sample(x.to("mlu"), grid.to("mlu"), mode="bicubic", align_corners=True)
    torch.testing.assert_close(actual.cpu(), F.grid_sample(x, grid, mode="bicubic", align_corners=True))
    assert "aten::grid_sampler_2d" in torch.mlu.fallback_stats()
    with pytest.raises(RuntimeError, match="grid"):
        torch.grid_sampler_2d(x.to("mlu"), torch.zeros(2, 5, 6, 3, device="mlu"), 0, 0, False)
