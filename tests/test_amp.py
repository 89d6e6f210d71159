"""Automatic mixed precision on mlu: the autocast policy, GradScaler, and training with both."""

import copy

import pytest
import torch
from torch import nn
import torch.nn.functional as F

import torch_mlu  # noqa: F401


def mlu(*shape):
    return torch.randn(*shape, device="mlu")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_policy_output_dtypes(dtype):
    a, b, bias = mlu(4, 8), mlu(8, 3), mlu(3)
    img, weight = mlu(1, 2, 6, 6), mlu(4, 2, 3, 3)
    with torch.autocast("mlu", dtype=dtype):
        lower = [a @ b, torch.mm(a, b), torch.addmm(bias, a, b), F.linear(a, b.t(), bias),
                 torch.bmm(a[None], b[None]), F.conv2d(img, weight)]
        full = [torch.softmax(a, -1), F.log_softmax(a, -1), F.layer_norm(a, (8,)), a.exp(),
                a.sum(), F.mse_loss(a, a + 1), torch.cumsum(a, 0), F.cross_entropy(a, torch.zeros(4, dtype=torch.long, device="mlu"))]
        promoted = [torch.cat([a @ b, bias[None]]), torch.stack([(a @ b)[0], bias])]
    assert all(t.dtype == dtype for t in lower), [t.dtype for t in lower]
    assert all(t.dtype == torch.float32 for t in full), [t.dtype for t in full]
    assert all(t.dtype == torch.float32 for t in promoted), [t.dtype for t in promoted]


def test_default_dtype_aliases_and_support_queries():
    assert torch.mlu.get_amp_supported_dtype() == [torch.float16, torch.bfloat16]
    assert torch.mlu.is_bf16_supported()
    a = mlu(2, 2)
    with torch.amp.autocast(device_type="mlu"):
        assert (a @ a).dtype == torch.float16
        assert torch.is_autocast_enabled("mlu")
    with torch.mlu.amp.autocast(dtype=torch.bfloat16):
        assert (a @ a).dtype == torch.bfloat16
    assert (a @ a).dtype == torch.float32


def test_nested_and_disabled_regions():
    a = mlu(2, 2)
    with torch.autocast("mlu", dtype=torch.float16):
        with torch.autocast("mlu", enabled=False):
            assert (a @ a).dtype == torch.float32
        with torch.autocast("mlu", dtype=torch.bfloat16):
            assert (a @ a).dtype == torch.bfloat16
        assert (a @ a).dtype == torch.float16
    with torch.autocast("cpu", dtype=torch.bfloat16):  # another device's autocast leaves mlu alone
        assert (a @ a).dtype == torch.float32


def test_weight_casts_are_cached_inside_a_region():
    layer = nn.Linear(4, 4).to("mlu")
    x = mlu(2, 4)
    with torch.autocast("mlu", dtype=torch.float16):
        y1, y2 = layer(x), layer(x)
    (y1.float().sum() + y2.float().sum()).backward()
    assert layer.weight.grad.dtype == torch.float32
    torch.testing.assert_close(layer.weight.grad.cpu(), 2 * x.sum(0).expand(4, 4).cpu(), rtol=1e-2, atol=1e-2)


def test_binary_cross_entropy_is_refused_under_autocast():
    p = torch.rand(3, device="mlu")
    with torch.autocast("mlu"), pytest.raises(RuntimeError, match="unsafe to autocast"):
        F.binary_cross_entropy(p, p)
    with torch.autocast("mlu"):
        assert F.binary_cross_entropy_with_logits(p, p).dtype == torch.float32


def test_grad_scaler_skips_overflowing_steps_and_backs_off():
    model = nn.Linear(3, 1).to("mlu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("mlu", init_scale=1024.0, growth_interval=2)
    before = model.weight.detach().cpu().clone()
    torch.mlu.reset_fallback_stats()
    loss = model(torch.ones(1, 3, device="mlu")).sum() * float("inf")
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 512.0
    torch.testing.assert_close(model.weight.detach().cpu(), before)  # the step was skipped
    for _ in range(2):  # two finite steps: growth after the interval
        optimizer.zero_grad()
        scaler.scale(model(torch.ones(1, 3, device="mlu")).sum()).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
    assert scaler.get_scale() == 1024.0
    assert not torch.equal(model.weight.detach().cpu(), before)
    assert not any(k.startswith("aten::_amp") for k in torch.mlu.fallback_stats()), torch.mlu.fallback_stats()


@pytest.mark.parametrize("bad", [None, float("inf"), float("-inf"), float("nan")])
def test_unscale_matches_the_cpu_bit_for_bit(bad):
    gen = torch.Generator().manual_seed(3)
    grads = [torch.randn(1000, generator=gen) * 1e4, torch.randn(37, generator=gen).half(),
             torch.randn(50, generator=gen).bfloat16(), torch.randn(9, 8, generator=gen).double(),
             torch.randn(12, 10, generator=gen).t()]  # the last one strided
    if bad is not None:
        grads[1][29] = bad  # past the first vector block
    inv_scale = torch.tensor([1 / 3.0])
    results = {}
    for device in ("cpu", "mlu"):
        gs = [g.clone().to(device) for g in grads]
        if device == "mlu":
            gs[-1] = grads[-1].t().contiguous().mlu().t()
        found = torch.zeros(1, device=device)
        torch._amp_foreach_non_finite_check_and_unscale_(gs, found, inv_scale.to(device))
        results[device] = ([g.cpu() for g in gs], found.item())
    (cpu, cpu_found), (mlu, mlu_found) = results["cpu"], results["mlu"]
    assert mlu_found == cpu_found == (0.0 if bad is None else 1.0)
    for c, m in zip(cpu, mlu):
        assert c.dtype == m.dtype and torch.equal(c.nan_to_num(), m.nan_to_num())


def test_scaler_kernels_directly():
    grads = [torch.tensor([1.0, 2.0], device="mlu"), torch.tensor([[4.0]], device="mlu", dtype=torch.float16)]
    found = torch.zeros(1, device="mlu")
    torch._amp_foreach_non_finite_check_and_unscale_(grads, found, torch.full((1,), 0.5, device="mlu"))
    assert grads[0].cpu().tolist() == [0.5, 1.0] and grads[1].cpu().item() == 2.0 and found.item() == 0.0
    grads[0][1] = float("nan")
    torch._amp_foreach_non_finite_check_and_unscale_(grads, found, torch.ones(1, device="mlu"))
    assert found.item() == 1.0
    scale, tracker = torch.full((1,), 8.0, device="mlu"), torch.zeros(1, dtype=torch.int32, device="mlu")
    torch._amp_update_scale_(scale, tracker, found, 2.0, 0.5, 2)
    assert scale.item() == 4.0 and tracker.item() == 0
    found.zero_()
    for expected_scale, expected_tracker in ((4.0, 1), (8.0, 0)):
        torch._amp_update_scale_(scale, tracker, found, 2.0, 0.5, 2)
        assert (scale.item(), tracker.item()) == (expected_scale, expected_tracker)
    with pytest.raises(RuntimeError, match="one-element"):
        torch._amp_update_scale_(scale, tracker.float(), found, 2.0, 0.5, 2)


def test_grad_scaler_state_round_trip_and_aliases():
    scaler = torch.mlu.amp.GradScaler(init_scale=256.0, growth_factor=3.0)
    assert isinstance(scaler, torch.amp.GradScaler)
    restored = torch.amp.GradScaler("mlu")
    restored.load_state_dict(copy.deepcopy(scaler.state_dict()))
    assert restored.get_scale() == 256.0 and restored.get_growth_factor() == 3.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_mixed_precision_training_converges_like_float32(dtype):
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    x = torch.randn(64, 16, device="mlu")
    y = torch.randint(0, 4, (64,), device="mlu")

    def train(amp):
        model = copy.deepcopy(base).to("mlu")
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        scaler = torch.amp.GradScaler("mlu", enabled=amp and dtype == torch.float16)
        losses = []
        for _ in range(40):
            optimizer.zero_grad()
            with torch.autocast("mlu", dtype=dtype, enabled=amp):
                loss = F.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
        return losses

    full, mixed = train(False), train(True)
    assert mixed[-1] < 0.5 * mixed[0]
    assert abs(mixed[-1] - full[-1]) < 0.1, (mixed[-1], full[-1])


def test_grad_scaler_with_two_optimizers_unscales_each_once():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 3).to("mlu"), nn.Linear(3, 1).to("mlu")
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_b = torch.optim.Adam(b.parameters(), lr=0.1, fused=True)
    scaler = torch.amp.GradScaler("mlu", init_scale=8.0)
    x = torch.randn(4, 3, device="mlu")
    with torch.autocast("mlu", dtype=torch.float16):
        loss = b(a(x)).float().sum()
    scaler.scale(loss).backward()
    expected = a.weight.grad.detach().cpu() / 8.0
    scaler.unscale_(opt_a)
    torch.testing.assert_close(a.weight.grad.cpu(), expected)
    scaler.step(opt_a)  # already unscaled: not unscaled twice
    scaler.step(opt_b)
    scaler.update()
    torch.testing.assert_close(a.weight.grad.cpu(), expected)
    assert scaler.get_scale() == 8.0
