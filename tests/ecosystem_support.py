"""Runs the scripts of examples/ecosystem/ as their users do (python3, torchrun, accelerate launch)
and reads the RESULT line each prints: device, per-step losses, throughput and fallback calls."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ecosystem"
BIN = Path(sys.executable).parent


def require(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed here: tools/devenv installs tools/ecosystem.txt "
                    "from PyPI into each lane's venv, and that install failed or found no PyPI "
                    "(its log is install.log in the venv)")


def example(script, *args):
    return [sys.executable, str(EXAMPLES / script), *args]


def torchrun(processes, script, *args):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", str(EXAMPLES / script), *args]


def run(command, timeout=600, **env):
    """Runs command to completion and returns the record of its last RESULT line."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("MLU_", "TORCH_MLU_", "ENABLE_FALLBACK"))}
    full_env.update(env)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=EXAMPLES, start_new_session=True)
    assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, f"no RESULT line in:\n{proc.stdout[-3000:]}"
    return json.loads(results[-1][len("RESULT "):])


def assert_same_training(mlu, cpu, rtol):
    """mlu ran on mlu with no operator on the CPU fallback, learned, and followed the CPU run's
    loss curve within rtol at every step."""
    assert mlu["device"].startswith("mlu") and cpu["device"].startswith("cpu")
    assert mlu["fallbacks"] == {}, mlu["fallbacks"]
    assert len(mlu["losses"]) == len(cpu["losses"]) > 1
    assert min(mlu["losses"][-3:]) < mlu["losses"][0], mlu["losses"]
    worst = max(abs(a - b) / abs(b) for a, b in zip(mlu["losses"], cpu["losses"]))
    assert worst < rtol, (worst, mlu["losses"], cpu["losses"])
