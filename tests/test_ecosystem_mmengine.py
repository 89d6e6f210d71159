"""OpenMMLab's mmengine on mlu: get_device() says "mlu", the Runner trains on it step for step as
on the CPU with no CPU fallback, and AmpOptimWrapper (torch.mlu.amp) trains too."""

from ecosystem_support import assert_same_training, example, require, run

require("mmengine")


def test_mmengine_chooses_the_mlu(run_py):
    result = run_py("""
        from mmengine.device import get_device, is_mlu_available
        import mmengine.structures  # annotates with torch.mlu.BoolTensor when on mlu
        print(get_device(), is_mlu_available())
    """)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["mlu", "True"]


def test_runner_trains_as_on_cpu():
    mlu = run(example("mmengine_runner.py", "--iters", "12"))
    cpu = run(example("mmengine_runner.py", "--iters", "12", "--cpu"))
    assert_same_training(mlu, cpu, rtol=1e-3)


def test_runner_with_amp_optim_wrapper():
    mlu = run(example("mmengine_runner.py", "--iters", "12", "--amp"))
    cpu = run(example("mmengine_runner.py", "--iters", "12", "--cpu"))
    assert mlu["amp"]
    assert_same_training(mlu, cpu, rtol=2e-2)
