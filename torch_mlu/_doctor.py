"""python -m torch_mlu doctor: versions, devices, the libraries and instruction sets actually in
use, the settings in the environment, then a short self-test with a pass/fail line each and an
exit status (0 when every self-test passed)."""

import importlib.metadata
import os
import platform
import subprocess
import sys
import textwrap
import time
import warnings

import torch

from torch_mlu import _C

VARIABLES = ("MLU_", "TORCH_MLU_", "ENABLE_FALLBACK_TO_CPU")
CPU_FLAGS = {"avx2": "AVX2", "fma": "FMA", "f16c": "F16C", "avx512f": "AVX-512F",
             "avx512_bf16": "AVX512-BF16", "avx512_fp16": "AVX512-FP16", "amx_tile": "AMX-TILE"}


def _os_name():
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip().split("=", 1) for line in f if "=" in line)
        return fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        return "unknown"


def _loaded(*names):
    """Paths of the shared libraries mapped into this process whose file name has a name."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if ".so" in line}
    return sorted(p for p in paths if any(n in os.path.basename(p) for n in names))


def _host_instruction_sets():
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    return [name for flag, name in CPU_FLAGS.items() if flag in flags]


def report():
    version = importlib.metadata.version("torch_mlu")
    print(f"torch_mlu {version}, torch {torch.__version__}, Python {platform.python_version()} "
          f"({_os_name()})")
    count = torch.mlu.device_count()
    print(f"devices: {count}")
    for d in range(count):
        props = torch.mlu.get_device_properties(d)
        access = "" if props.host_accessible else ", not host-accessible (strict device memory)"
        print(f"  mlu:{d} {props.name}, {props.total_memory / 2**30:.2f} GiB{access}")
    print(f"kernel threads: {_C._operations_info()['threads']}")
    print(f"device dtypes: {', '.join(_C._supported_dtypes())}")
    for label, names in (("BLAS", ("openblas",)), ("oneDNN", ("dnnl",))):
        paths = _loaded(*names)
        print(f"{label}: {', '.join(paths) if paths else 'not loaded'}")
    print("FFT: pocketfft, compiled into the kernel library")
    isa = torch.mlu.kernel_isa()
    print(f"CPU: {' '.join(_host_instruction_sets()) or 'x86-64 baseline'}; kernels: the "
          f"{isa['variant']} variant (built: {', '.join(isa['built']) or isa['variant']}), using "
          f"{' '.join(isa['instruction_sets']) or 'the x86-64 baseline'}")
    print(f"16-bit matrix products: bfloat16 on {isa['matmul16']['bfloat16']}, float16 on "
          f"{isa['matmul16']['float16']}; float32 products on {isa['matmul32']}; LSTM products "
          f"under autocast: bfloat16 on {isa['lstm16']['bfloat16']}, float16 on "
          f"{isa['lstm16']['float16']}; 16-bit attention: bfloat16 on "
          f"{isa['attention16']['bfloat16']}, float16 on {isa['attention16']['float16']}")
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith(VARIABLES))
    print("environment: " + (" ".join(f"{k}={v}" for k, v in settings) or "no MLU settings"))


def _check_close(got, want):
    torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-4)


def _fft():
    x = torch.randn(4, 400)
    _check_close(torch.fft.rfft(x.to("mlu")), torch.fft.rfft(x))


def _gemm():
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    _check_close(a.to("mlu") @ b.to("mlu"), a @ b)


def _convolution():
    x, w = torch.randn(2, 3, 16, 16), torch.randn(8, 3, 3, 3)
    _check_close(torch.nn.functional.conv2d(x.to("mlu"), w.to("mlu"), padding=1),
                 torch.nn.functional.conv2d(x, w, padding=1))


def _fallback():
    x = torch.randn(64)
    torch.mlu.reset_fallback_stats()
    with warnings.catch_warnings():  # its first-use warning is what this test expects
        warnings.simplefilter("ignore", UserWarning)
        _check_close(torch.cummax(x.to("mlu"), 0).values, torch.cummax(x, 0).values)
    assert torch.mlu.fallback_stats(), "the operator did not reach the CPU fallback"


def _async_error():
    torch.zeros(3, device="mlu").index_select(0, torch.tensor([7], device="mlu"))
    try:
        torch.mlu.synchronize()
    except RuntimeError as e:
        assert "index_select" in str(e), e
    else:
        raise AssertionError("a failing kernel raised nothing at synchronize")
    _gemm()  # the device is usable afterwards


def _compile():
    """torch.compile on mlu: a generated kernel runs, and with which vector instructions."""
    from torch._inductor import cpu_vec_isa

    x = torch.randn(1000)
    _check_close(torch.compile(lambda t: (t.sin() * 2 + 1).relu())(x.to("mlu")),
                 (x.sin() * 2 + 1).relu())
    if cpu_vec_isa.pick_vec_isa():
        return None
    if os.path.exists(os.path.join(os.path.dirname(torch.__file__), "include", "sleef.h")):
        return "generated kernels are scalar: Inductor's vector-ISA probe failed to build or load"
    return "generated kernels are scalar (Debian's torch: install libsleef-dev)"


_PEER = textwrap.dedent("""
    import sys, torch, torch.distributed as dist
    rank, store = int(sys.argv[1]), sys.argv[2]
    torch.mlu.set_device(rank)
    dist.init_process_group("cncl", init_method=f"file://{store}", rank=rank, world_size=2)
    x = torch.full((4,), rank + 1.0, device=f"mlu:{rank}")
    dist.all_reduce(x)
    assert x.tolist() == [3.0] * 4, x
    dist.destroy_process_group()
""")


def _collective(tmp):
    if torch.mlu.device_count() < 2:
        return "skipped: needs two devices"
    store = os.path.join(tmp, "store")
    procs = [subprocess.Popen([sys.executable, "-c", _PEER, str(r), store],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.strip().splitlines()[-1] if err.strip() else p.returncode
    return None


def self_test():
    import tempfile

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tests = [("gemm", _gemm), ("convolution", _convolution), ("fft", _fft),
                 ("fallback", _fallback), ("async error", _async_error), ("torch.compile", _compile),
                 ("collective", lambda: _collective(tmp))]
        for name, test in tests:
            start = time.perf_counter()
            try:
                note = test()
                status = "SKIP" if note and note.startswith("skipped") else "PASS"
            except Exception as e:  # noqa: BLE001  (every failure is reported, none stops the rest)
                status, note, failures = "FAIL", f"{type(e).__name__}: {e}", failures + 1
                try:
                    torch.mlu.synchronize()
                except RuntimeError:
                    pass
            ms = (time.perf_counter() - start) * 1e3
            print(f"  {status} {name} ({ms:.0f} ms){': ' + str(note) if note else ''}")
    print(f"self-test: {'all passed' if failures == 0 else f'{failures} failed'}")
    return failures


def main(argv):
    if argv:
        print("usage: python -m torch_mlu doctor", file=sys.stderr)
        return 2
    try:
        report()
    except Exception as e:  # noqa: BLE001
        print(f"the installation could not be read: {type(e).__name__}: {e}")
        return 1
    print("self-test:")
    return 1 if self_test() else 0
