"""tools/op_coverage.py: the coverage table and totals from an OpInfo suite report."""

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "op_coverage.py"


def row(op, dtype, fwd, bwd=(0, 0), fallback=(), expected=None, first=None):
    return {"op": op, "dtype": dtype,
            "forward": {"passed": fwd[0], "failed": fwd[1], "first_failure": first},
            "backward": {"passed": bwd[0], "failed": bwd[1], "first_failure": None},
            "fallback": list(fallback), "expected_failure": expected}


def test_table_counts_samples_per_precision_and_marks_fallback_and_expected(tmp_path):
    report = tmp_path / "report.jsonl"
    rows = [row("add", "float32", (10, 0), (10, 0)), row("add", "float16", (9, 1), expected="rounding"),
            row("nonzero", "int64", (4, 0), fallback=["aten::nonzero"]),
            row("sort", "bfloat16", (3, 1), first="sample 0: ties"),
            row("sin", "float32", (5, 0)), row("sin", "complex64", (3, 1), fallback=["aten::sin"])]
    report.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "coverage.md"
    done = subprocess.run([sys.executable, str(TOOL), str(report), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "- Operators run: 4 (6 operator/dtype tests); every sample matching: 1" in text
    assert "- Running natively (no CPU fallback in any sample of a real dtype): 3; using the fallback: 1" in text
    assert "- Running natively for complex samples: 0 of the 1 operators taking them" in text
    assert "float32 and float64: 100.00% of 25" in text
    assert "complex64 and complex128: 75.00% of 4" in text
    assert "| `sin` | fallback: `aten::sin` (complex) | float32 | complex64 | 8/9 | - |" in text
    assert "float16 and bfloat16: 85.71% of 14" in text
    assert "| `add` | native | float32 | float16 (expected) | 19/20 | 10/10 |" in text
    assert "| `nonzero` | fallback: `aten::nonzero` | int64 | - | 4/4 | - |" in text
    assert "| `sort` | native | - | bfloat16 | 3/4 | - |" in text


def test_usage_error_names_the_arguments():
    done = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True)
    assert done.returncode != 0 and "usage: op_coverage.py REPORT.jsonl OUTPUT.md" in done.stderr
