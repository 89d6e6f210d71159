"""examples/profile_step.py, as a user runs it: it trains under the profiler and the memory
history, prints the slowest operators and the largest allocations, and writes the trace, the
snapshot and their renderings."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "profile_step.py"


def test_profile_step_example_writes_a_trace_a_snapshot_and_renderings(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path), "--steps", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    slowest, largest = result.stdout.split("The largest live allocations:")
    assert "Self MLU" in slowest and "aten::convolution_backward" in slowest
    assert "KiB" in largest and "module.py" in largest  # the weights, moved by Module.to
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    assert {"kernel", "gpu_memcpy"} <= {e.get("cat") for e in events}
    snapshot = pickle.loads((tmp_path / "memory.pickle").read_bytes())
    assert any(e["action"] == "alloc" for e in snapshot["device_traces"][0])
    for png in ("trace.png", "memory.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
