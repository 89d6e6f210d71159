"""Helpers shared by the operator tests (tests/test_ops_*.py)."""

import contextlib

import torch


@contextlib.contextmanager
def native(*names):
    """Fails when one of the named operators (every operator when none is named) ran on the CPU
    fallback inside the block."""
    torch.mlu.reset_fallback_stats()
    yield
    torch.mlu.synchronize()
    used = [k for k in torch.mlu.fallback_stats()
            if not names or any(k == f"aten::{n}" or k.startswith(f"aten::{n}.") for n in names)]
    assert not used, f"fell back to the CPU: {used}"


def sample(shape, dtype, seed=0):
    """Reproducible CPU data of any dtype: normal floats, small non-negative integers."""
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g).to(dtype)
    return torch.randint(0, 100, shape, generator=g).to(dtype)
