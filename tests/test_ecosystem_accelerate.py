"""Hugging Face accelerate on mlu: it detects the device, its own `accelerate test` passes on two
MLUs (DistributedType.MULTI_MLU over cncl), and an accelerate training loop (mixed precision,
gradient accumulation, save_state/load_state) follows the CPU run, in one and two processes."""

import subprocess

from ecosystem_support import BIN, assert_same_training, example, require, run

require("accelerate")


def test_accelerate_finds_the_mlu():
    import torch
    from accelerate import PartialState
    from accelerate.utils import is_mlu_available

    assert is_mlu_available()
    assert PartialState().device == torch.device("mlu")


def test_accelerates_own_test_passes_on_two_mlus():
    proc = subprocess.run([str(BIN / "accelerate"), "test"], capture_output=True, text=True,
                          timeout=900, start_new_session=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "Test is a success" in output
    assert "DistributedType.MULTI_MLU  Backend: cncl" in output
    assert "Device: mlu:1" in output


def test_training_loop_as_on_cpu():
    mlu = run(example("accelerate_loop.py", "--steps", "6"))
    cpu = run(example("accelerate_loop.py", "--steps", "6", "--cpu"))
    assert mlu["state_restored"]
    assert_same_training(mlu, cpu, rtol=1e-3)


def test_training_loop_in_two_processes(tmp_path):
    launch = [str(BIN / "accelerate"), "launch", "--num_processes", "2"]
    args = ["--steps", "6", "--checkpoint", str(tmp_path / "state")]
    mlu = run(launch + example("accelerate_loop.py", *args)[1:])
    cpu = run(launch + example("accelerate_loop.py", *args, "--cpu")[1:])
    assert mlu["distributed_type"] == "DistributedType.MULTI_MLU" and mlu["num_processes"] == 2
    assert mlu["state_restored"]
    assert_same_training(mlu, cpu, rtol=1e-3)


def test_training_loop_in_bf16():
    mlu = run(example("accelerate_loop.py", "--steps", "6", "--mixed-precision", "bf16"))
    cpu = run(example("accelerate_loop.py", "--steps", "6", "--mixed-precision", "bf16", "--cpu"))
    assert mlu["mixed_precision"] == "bf16"
    assert_same_training(mlu, cpu, rtol=2e-2)
