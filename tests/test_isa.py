"""Instruction sets chosen at run time: the kernel library is built once per x86-64 level, the
dynamic loader picks the best one this CPU has, MLU_KERNELS_ISA forces another, and
torch.mlu.kernel_isa() reports what runs. The 16-bit kernels are checked on every level."""

import os

import pytest
import torch

from conftest import run_python
from torch_mlu import _isa

ISA = torch.mlu.kernel_isa()
CPU_FLAGS = _isa._cpu_flags()
RUNNABLE = [level for level in ISA["built"] if not _isa.missing_flags(level, CPU_FLAGS)]
MULTI = pytest.mark.skipif(len(ISA["built"]) < 2, reason="a single-variant build "
                           f"(MLU_KERNELS_ISAS={ISA['variant']}) has no levels to choose from")


def test_the_loader_chose_the_best_level_this_cpu_has():
    assert ISA["built"], "the installation lists no kernel variants"
    expected = os.environ.get("MLU_KERNELS_ISA") or RUNNABLE[-1]
    assert ISA["variant"] == expected
    sets = ISA["instruction_sets"]
    if ISA["variant"] in ("x86-64-v3", "x86-64-v4"):
        assert {"AVX2", "FMA", "F16C"} <= set(sets)
        assert ("AVX-512F" in sets) == (ISA["variant"] == "x86-64-v4")
    assert set(ISA["matmul16"].values()) <= {"oneDNN", "float32"}


def test_float32_products_take_onednn_brgemm_exactly_where_the_cpu_has_avx512():
    # oneDNN's brgemm float32 kernels need AVX-512; its AVX2 ones are not faster than OpenBLAS.
    # A oneDNN capped below AVX-512 (ONEDNN_MAX_CPU_ISA) offers none either.
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in ("AVX2", "AVX", "SSE41")
    expected = "oneDNN" if "avx512f" in CPU_FLAGS and not capped else "OpenBLAS"
    assert ISA["matmul32"] == expected


def test_lstm_products_run_on_amx_exactly_where_the_cpu_has_it():
    # A float32 LSTM layer asked for 16-bit products (autocast) takes them only on AMX, where they
    # are faster than float32 ones; elsewhere its products stay float32.
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    capped = bool(cap) and "AMX" not in cap and cap != "ALL"
    for dtype, flag in (("bfloat16", "amx_bf16"), ("float16", "amx_fp16")):
        expected = "AMX" if flag in CPU_FLAGS and not capped else "float32"
        assert ISA["lstm16"][dtype] == expected, dtype


def test_16_bit_attention_multiplies_on_amx_exactly_where_the_cpu_has_it():
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    capped = bool(cap) and "AMX" not in cap and cap != "ALL"
    for dtype, flag in (("bfloat16", "amx_bf16"), ("float16", "amx_fp16")):
        expected = "AMX" if flag in CPU_FLAGS and not capped else "float32"
        assert ISA["attention16"][dtype] == expected, dtype


SIXTEEN_BIT_KERNELS = """
import torch
import torch.nn.functional as F
print(torch.mlu.kernel_isa()["variant"])
g = torch.Generator().manual_seed(0)
x, y = torch.randn(4, 300, generator=g), torch.randn(4, 300, generator=g)
w, b = torch.randn(300, generator=g), torch.randn(300, generator=g)
m = torch.randn(300, 64, generator=g)
torch.mlu.reset_fallback_stats()
for dtype, tol in ((torch.float16, 2e-3), (torch.bfloat16, 1.6e-2)):
    def both(f, *args):
        want = f(*(a.to(dtype).float() for a in args))
        got = f(*(a.to("mlu", dtype) for a in args)).float().cpu()
        torch.testing.assert_close(got, want, rtol=tol * 4, atol=tol * 4, check_dtype=False)
    both(torch.add, x, y)
    both(torch.mul, x, y)
    both(torch.exp, x)
    both(F.gelu, x)
    both(F.silu, x)
    both(lambda a: a.softmax(-1), x)
    both(lambda a, w, b: F.layer_norm(a, (300,), w, b), x, w, b)
    both(lambda a: a.sum(-1), x)
    both(lambda a: a.mean(0), x)
    both(lambda a: a.amax(-1), x)
    both(torch.matmul, x, m)
    both(lambda a: a.to(torch.float32), x)
torch.mlu.synchronize()
assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
print("ok")
"""


@pytest.mark.parametrize("level", RUNNABLE)
def test_16_bit_kernels_match_the_cpu_on_every_level_this_cpu_runs(level):
    result = run_python(SIXTEEN_BIT_KERNELS, timeout=120, MLU_KERNELS_ISA=level)
    assert result.returncode == 0, result
    assert result.stdout.split() == [level, "ok"], result


def test_an_unknown_level_is_refused_at_import_naming_the_built_ones():
    result = run_python("import torch_mlu", MLU_KERNELS_ISA="avx9000")
    assert result.returncode != 0
    assert "MLU_KERNELS_ISA=avx9000" in result.stderr
    assert f"built for {', '.join(ISA['built'])} only" in result.stderr


@MULTI
def test_a_level_this_cpu_lacks_is_refused(monkeypatch):
    top = ISA["built"][-1]
    needed = _isa.LEVEL_FLAGS[top]
    monkeypatch.setattr(_isa, "_cpu_flags", lambda: set(needed[:-1]))  # lacks one flag
    monkeypatch.setenv("MLU_KERNELS_ISA", top)
    with pytest.raises(ImportError, match=f"MLU_KERNELS_ISA={top}: this CPU lacks {needed[-1]}$"):
        _isa.load()


@MULTI
def test_a_cpu_below_the_base_level_is_refused_with_how_to_build_for_it(monkeypatch):
    monkeypatch.setattr(_isa, "_cpu_flags", lambda: {"sse4_2"})
    monkeypatch.delenv("MLU_KERNELS_ISA", raising=False)
    with pytest.raises(ImportError, match="this CPU lacks .*avx2.*MLU_KERNELS_ISAS="):
        _isa.load()


def test_missing_flags_follow_the_glibc_hwcaps_levels():
    v3 = set(_isa.LEVEL_FLAGS["x86-64-v3"])
    assert _isa.missing_flags("x86-64-v3", v3) == []
    assert _isa.missing_flags("x86-64-v4", v3 | {"avx512f", "avx512vl"}) == [
        "avx512bw", "avx512cd", "avx512dq"]
    assert _isa.missing_flags("x86-64", set()) == []
    assert _isa.missing_flags("native", set()) == []  # built where it runs
