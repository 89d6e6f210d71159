"""Running the corpus of CUDA scripts and comparing what they print.

Each script prints its metrics as ``name=value``; a run is compared, metric by metric, with the
same script run as written on the CPU (``--no-cuda``, no migration) from the same seed.
"""

import functools
import os
import pathlib
import re
import subprocess
import sys

import torch

CORPUS = pathlib.Path(__file__).parent
SCRIPTS = ("mnist.py", "word_language_model.py", "dcgan.py", "resnet_amp.py", "gpt.py")
# Dropout masks come from each device's own generator, so runs compared with the CPU use none;
# mixed precision waits for torch.autocast("mlu") (test_gpu_migration.py has that case).
DETERMINISTIC_ARGS = {
    "mnist.py": ("--dropout", "0"),
    "word_language_model.py": ("--dropout", "0"),
    "resnet_amp.py": ("--no-amp",),
}
# mlu's native kernels round differently from the CPU's (other summation orders) and training
# grows that; a wrong device, a lost update or another seed moves losses by far more.
RTOL = 5e-3
# ResNet-18's many batch norms amplify rounding most: after a few steps its losses differ by ~1%.
RTOL_BY_SCRIPT = {"resnet_amp.py": 3e-2}
_METRIC = re.compile(r"(\w+)=(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf)")
_OWN_VARIABLES = ("TORCH_MLU_GPU_MIGRATION", "TORCH_MLU_GPU_MIGRATION_REPORT",
                  "MLU_DEVICE_COUNT", "MLU_VISIBLE_DEVICES", "MLU_DEVICE_MEMORY")


def run(script, *args, timeout=120, **env):
    """``python script args`` with extra environment variables, in a fresh interpreter."""
    full_env = {key: value for key, value in os.environ.items() if key not in _OWN_VARIABLES}
    full_env.update(env)
    return subprocess.run([sys.executable, str(script), *args], env=full_env, cwd=CORPUS,
                          capture_output=True, text=True, timeout=timeout)


def metrics(stdout):
    """[(name, value)] of every ``name=value`` the script printed, in order."""
    return [(name, float(value)) for name, value in _METRIC.findall(stdout)]


@functools.cache
def cpu_reference(script, args=None):
    """Metrics of the unmodified script on the CPU, from the same seed."""
    args = DETERMINISTIC_ARGS.get(script, ()) if args is None else args
    result = run(CORPUS / script, "--no-cuda", *args)
    assert result.returncode == 0, result.stderr
    assert "parameters on cpu" in result.stdout
    return metrics(result.stdout)


def assert_same_metrics(actual, expected, rtol=RTOL):
    assert [name for name, _ in actual] == [name for name, _ in expected], (actual, expected)
    torch.testing.assert_close([value for _, value in actual],
                               [value for _, value in expected], rtol=rtol, atol=1e-6)

