"""examples/train_gpt_fsdp.py, as a user runs it: torchrun on two mlu devices with FSDP2, bf16,
activation checkpointing and a checkpoint-and-resume halfway, against the one-process float32
reference of the same training."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_gpt_fsdp.py"
SMALL = ["--steps", "8", "--dim", "64", "--heads", "4", "--layers", "2"]


def test_fsdp_training_resumes_and_matches_one_process(tmp_path):
    reference = subprocess.run([sys.executable, str(EXAMPLE), "--reference", "--out",
                                str(tmp_path), *SMALL], capture_output=True, text=True,
                               timeout=300)
    assert reference.returncode == 0, reference.stderr[-3000:]
    sharded = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                              "--nproc-per-node=2", str(EXAMPLE), "--out", str(tmp_path), *SMALL],
                             capture_output=True, text=True, timeout=600)
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    assert "on each of 2 devices" in sharded.stdout
    assert "step 4: saved to" in sharded.stdout and "resumed from it" in sharded.stdout
    one = json.loads((tmp_path / "losses-reference.json").read_text())
    two = json.loads((tmp_path / "losses-fsdp.json").read_text())
    assert len(one) == len(two) == 8 and two[-1] < two[0]
    assert max(abs(a - b) / a for a, b in zip(one, two)) < 0.02  # bf16 against float32
    assert (tmp_path / "checkpoint" / ".metadata").exists()
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
