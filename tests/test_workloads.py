"""The reference workloads train on mlu step by step like on the CPU, with every operator
native (no CPU fallback)."""

import pathlib
import sys

import pytest
import torch

import torch_mlu  # noqa: F401

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402

STEPS = 2


def run(workload, device):
    model, optimizer = workloads.build(workload, device)
    gen = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(STEPS):
        batch = workloads.to_device(workload.make_batch(gen), device)
        losses.append(workloads.train_step(workload, model, optimizer, batch).item())
    return losses


@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_training_steps_match_cpu(name):
    workload = workloads.WORKLOADS[name]
    torch.mlu.reset_fallback_stats()
    mlu = run(workload, "mlu")
    fallbacks = torch.mlu.fallback_stats()
    cpu = run(workload, "cpu")
    torch.testing.assert_close(torch.tensor(mlu), torch.tensor(cpu), rtol=2e-3, atol=2e-4)
    assert not fallbacks, f"{name} ran operators on the CPU fallback: {sorted(fallbacks)}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_mixed_precision_training_step_is_native_and_finite(name, dtype):
    workload = workloads.WORKLOADS[name]
    model, optimizer = workloads.build(workload, "mlu")
    batch = workloads.to_device(workload.make_batch(torch.Generator().manual_seed(1)), "mlu")
    scaler = torch.amp.GradScaler("mlu", enabled=dtype == torch.float16)
    torch.mlu.reset_fallback_stats()
    with torch.autocast("mlu", dtype=dtype):
        loss = workload.loss(model, batch)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    assert torch.isfinite(loss).item()
    assert not torch.mlu.fallback_stats(), sorted(torch.mlu.fallback_stats())
