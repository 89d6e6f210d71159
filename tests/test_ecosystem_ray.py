"""Ray Train on mlu: a TorchTrainer with two workers, each on its own MLU, trains a DDP model over
cncl step for step as the same trainer does on the CPU over gloo, with no CPU fallback."""

from ecosystem_support import assert_same_training, example, require, run

require("ray")


def test_torch_trainer_with_two_mlu_workers_as_on_cpu():
    mlu = run(example("ray_train.py", "--steps", "8"), timeout=300)
    cpu = run(example("ray_train.py", "--steps", "8", "--cpu"), timeout=300)
    assert mlu["backend"] == "cncl" and cpu["backend"] == "gloo"
    assert mlu["worker_fallbacks"] == {}
    assert_same_training(mlu, cpu, rtol=1e-3)
