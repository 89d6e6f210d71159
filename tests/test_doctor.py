"""python -m torch_mlu doctor: the report, the self-test and its exit status."""

import subprocess
import sys

import torch

from conftest import run_python


def doctor(**env):
    return run_python("import runpy, sys; sys.argv = ['torch_mlu', 'doctor']; "
                      "runpy.run_module('torch_mlu', run_name='__main__')", timeout=180, **env)


def test_doctor_reports_the_installation_and_passes():
    result = doctor()
    assert result.returncode == 0, result
    out = result.stdout
    assert "torch_mlu 0." in out and "torch 2." in out
    assert "devices: 2" in out and "mlu:1 Software MLU" in out
    assert "BLAS: /" in out and "openblas" in out and "oneDNN: /" in out and "dnnl" in out
    assert f"kernels: the {torch.mlu.kernel_isa()['variant']} variant" in out
    for name in ("gemm", "convolution", "fft", "fallback", "async error", "torch.compile",
                 "collective"):
        assert f"  PASS {name} (" in out, out
    # tools/devenv installs libsleef-dev: generated kernels are vectorised.
    assert "generated kernels are scalar" not in out
    assert "self-test: all passed" in out


def test_doctor_lists_the_settings_in_the_environment():
    result = doctor(MLU_DEVICE_COUNT="1", MLU_KERNEL_THREADS="1")
    assert result.returncode == 0, result
    assert "environment: MLU_DEVICE_COUNT=1 MLU_KERNEL_THREADS=1" in result.stdout
    assert "kernel threads: 1" in result.stdout
    assert "  SKIP collective" in result.stdout and "needs two devices" in result.stdout


def test_a_failing_self_test_fails_the_doctor():
    # Without the fallback the fallback self-test cannot pass: a real failure, provoked.
    result = doctor(ENABLE_FALLBACK_TO_CPU="0")
    assert result.returncode == 1, result
    assert "  FAIL fallback" in result.stdout and "no native mlu kernel" in result.stdout
    assert "  PASS gemm" in result.stdout  # the others still ran
    assert "self-test: 1 failed" in result.stdout


def test_an_unknown_command_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "torch_mlu", "cure"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "usage: python -m torch_mlu" in result.stderr
