"""The integration launches device work only through the device contract: csrc names operations
(runtime/include/mlu/ops/*.h), never the kernel library, every declared operation has the
software MLU's implementation, and what the device supports is asked, not assumed."""

import pathlib
import re
import subprocess
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
DECLARED = re.compile(r"^void enqueue\(Queue\* queue, const (\w+)& op\);", re.M)
DECLARED_TEMPLATE = re.compile(r"^void enqueue\(Queue\* queue, const (\w+)<kind>& op\);", re.M)
DEFINED = re.compile(r"^void enqueue\(Queue\* queue, const (\w+)(?:<\w+>)?& op\) \{", re.M)


def sources(directory, *patterns):
    return [p for pattern in patterns for p in sorted((ROOT / directory).rglob(pattern))]


def test_csrc_includes_no_kernel_library_header_and_names_no_kernel():
    offenders = []
    for path in sources("csrc", "*.cpp", "*.h"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//")[0]
            if "mlu_kernels/" in code or re.search(r"\bkernels::", code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_declared_operation_has_the_software_implementation():
    declared = set()
    for header in sources("runtime/include/mlu/ops", "*.h"):
        text = header.read_text()
        declared |= set(DECLARED.findall(text)) | set(DECLARED_TEMPLATE.findall(text))
    defined = set()
    for source in sources("kernels/operations", "*.cpp"):
        defined |= set(DEFINED.findall(source.read_text()))
    assert len(declared) > 100
    assert declared - defined == set()
    assert defined - declared == set()


def test_the_device_says_which_dtypes_its_operations_take():
    from torch_mlu import _C
    dtypes = _C._supported_dtypes()
    assert dtypes == ["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32",
                      "int64", "uint8", "bool"]
    for name in dtypes:
        dtype = getattr(torch, name)
        t = torch.ones(3, dtype=dtype, device="mlu")
        assert torch.equal((t == t).cpu(), torch.ones(3, dtype=torch.bool))


def test_a_dtype_the_device_does_not_take_is_a_type_error_naming_it():
    t = torch.ones(3, dtype=torch.uint16).to("mlu")  # storage only: no operation runs
    with pytest.raises(TypeError, match="UInt16 is not supported"):
        t.add(1)
    assert torch.ones(2, device="mlu").add_(1).cpu().tolist() == [2, 2]  # still usable


def test_doctor_reports_the_device_dtypes():
    out = subprocess.run([sys.executable, "-m", "torch_mlu", "doctor"], capture_output=True,
                         text=True, check=True).stdout
    assert "device dtypes: float32, float64, float16, bfloat16" in out


def run_python(code, **env):
    import os
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_an_operation_the_device_lacks_is_not_implemented_naming_it():
    code = """
import torch
x = torch.randn(8, device="mlu", dtype=torch.complex64)
try:
    torch.fft.fft(x)
except NotImplementedError as e:
    print("refused:", e)
print("add:", (torch.ones(2, device="mlu") + 1).tolist())
"""
    result = run_python(code, MLU_UNSUPPORTED_OPERATIONS="gemm, fft_c2c")
    assert result.returncode == 0, result.stderr
    assert "refused: this mlu device does not support the operation 'fft_c2c'" in result.stdout
    assert "add: [2.0, 2.0]" in result.stdout


def test_an_invalid_unsupported_operations_setting_is_a_value_error_naming_it():
    code = """
import torch
try:
    torch.ones(1, device="mlu")
except ValueError as e:
    print("refused:", e)
"""
    result = run_python(code, MLU_UNSUPPORTED_OPERATIONS="gemm;fft")
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "MLU_UNSUPPORTED_OPERATIONS" in result.stdout
