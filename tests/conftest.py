"""Shared fixtures: the mlu backend loaded, per-test device and stream state restored, and a
helper that runs code in a fresh interpreter (for environment variables and process-global
state such as the fallback's warned-once set)."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch_mlu  # noqa: F401  (explicit, although torch's backend autoload also loads it)


def pytest_configure(config):
    # Every operator without a native kernel warns once; that is tested in test_fallback.py.
    config.addinivalue_line(
        "filterwarnings", "ignore:The operator .* has no native mlu kernel:UserWarning")


@pytest.fixture(autouse=True)
def _restore_mlu_state():
    """Tests may change the current device, the current streams or the memory fraction."""
    yield
    if not torch.mlu.is_initialized():
        return
    for index in range(torch.mlu.device_count()):
        torch.mlu.set_stream(torch.mlu.default_stream(index))
        torch.mlu.set_per_process_memory_fraction(1.0, index)
    torch.mlu.set_device(0)


@pytest.fixture
def no_cpu_fallback():
    """Fails the test if any operator ran on the CPU fallback during it. Use with
    `pytestmark = pytest.mark.usefixtures("no_cpu_fallback")`."""
    torch.mlu.reset_fallback_stats()
    yield
    used = list(torch.mlu.fallback_stats())
    assert not used, f"operators ran on the CPU fallback: {used}"


class Result:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def __repr__(self):
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_python(code, timeout=180, **env):
    """Runs code in a new interpreter with extra environment variables; returns a Result."""
    full_env = dict(os.environ)
    for key in ("MLU_DEVICE_COUNT", "MLU_VISIBLE_DEVICES", "MLU_DEVICE_MEMORY",
                "ENABLE_FALLBACK_TO_CPU", "MLU_KERNEL_THREADS", "MLU_QUEUE_SPIN_US",
                "TORCH_MLU_GPU_MIGRATION", "MLU_KERNELS_ISA", "MLU_CONV16", "MLU_CONV_GEMM",
                "TORCH_MLU_BACKWARD_THREAD"):
        full_env.pop(key, None)
    full_env.update(env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return Result(proc)


@pytest.fixture
def run_py():
    return run_python


# The OpInfo suite imports torch.testing._internal, which changes process-wide state (it forbids
# setting torch.backends flags outside a context manager); it runs in its own pytest process:
# `pytest tests/opinfo` (tools/check does).
collect_ignore = ["opinfo"]
