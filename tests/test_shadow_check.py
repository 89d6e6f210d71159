"""Shadow-check mode: operators re-run on CPU next to mlu, errors reported per operator, and a
deliberately wrong kernel (registered over the real one through torch.library, a test-only hook)
named in the report with its inputs and module."""

import contextlib
import warnings

import pytest
import torch
from torch import nn


@contextlib.contextmanager
def wrong_tanh_kernel(error=0.01):
    """Replaces mlu's tanh kernel by one that is off by error, until the block exits."""
    library = torch.library.Library("aten", "IMPL")

    def tanh_off_by_error(x):
        return (x.cpu().tanh() + error).to(x.device)

    with warnings.catch_warnings():  # "Overriding a previously registered kernel" is the point
        warnings.simplefilter("ignore")
        library.impl("tanh", tanh_off_by_error, "PrivateUse1")
    try:
        yield
    finally:
        library._destroy()


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4)).to("mlu")


def test_correct_kernels_report_no_mismatch_and_count_their_calls():
    model = small_model()
    x = torch.randn(4, 8, device="mlu")
    with torch.mlu.shadow_check() as report:
        model(x).sum().backward()
    assert report.mismatched() == []
    assert report.records["aten::addmm"].calls == 2
    assert report.records["aten::tanh"].calls == 1
    assert report.records["aten::tanh"].max_abs <= 1e-5
    assert report.records["aten::tanh_backward"].calls == 1  # the backward pass is checked too


def test_wrong_kernel_is_named_with_its_inputs_and_module():
    model = small_model()
    x = torch.randn(4, 8, device="mlu")
    with wrong_tanh_kernel(0.01), torch.mlu.shadow_check("*tanh*") as report:
        model(x)
    assert report.mismatched() == ["aten::tanh"]
    record = report.records["aten::tanh"]
    assert record.max_abs == pytest.approx(0.01, rel=1e-3)
    first = record.first_mismatch
    assert first.call == 1
    assert first.module == "Sequential.1"
    assert first.inputs == ["float32[4, 16]"]
    assert "aten::tanh" in report.table() and "Sequential.1" in report.table()
    # The pattern selected tanh only; addmm ran unchecked.
    assert set(report.records) == {"aten::tanh"}


def test_replaced_kernel_is_restored_after_the_hook():
    x = torch.randn(32, device="mlu")
    with wrong_tanh_kernel():
        assert not torch.allclose(x.tanh().cpu(), x.cpu().tanh())
    torch.testing.assert_close(x.tanh().cpu(), x.cpu().tanh())


def test_in_place_operators_are_compared_on_their_inputs_before_the_change():
    x = torch.randn(64, device="mlu")
    with torch.mlu.shadow_check("mul_*") as report:
        x.mul_(3.0)
    assert [r.calls for r in report.records.values()] == [1]
    assert report.mismatched() == []


def test_random_operators_are_not_compared():
    with torch.mlu.shadow_check() as report:
        torch.rand(100, device="mlu")
        torch.nn.functional.dropout(torch.ones(100, device="mlu"), 0.5)
    assert not [name for name in report.records if "uniform" in name or "bernoulli" in name]
    assert report.mismatched() == []


def test_patterns_must_be_strings():
    with pytest.raises(TypeError, match="patterns must be strings"):
        torch.mlu.shadow_check(3)
    assert torch.ones(2, device="mlu").sum().item() == 2  # the process is still usable


def test_environment_variable_checks_the_program_and_reports_at_exit(run_py):
    result = run_py("""
        import torch, torch_mlu
        x = torch.randn(16, 16, device="mlu")
        (x @ x).softmax(-1).sum().item()
        """, TORCH_MLU_SHADOW_CHECK="*softmax*,mm*")
    assert result.returncode == 0, result
    assert "torch_mlu shadow check" in result.stderr
    assert "aten::_softmax" in result.stderr and "aten::mm" in result.stderr
    assert "aten::sum" not in result.stderr


def test_nan_and_infinity_on_both_sides_agree_and_nan_on_one_side_is_an_infinite_error():
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.5], device="mlu")
    with torch.mlu.shadow_check("exp") as report:
        x.exp()
    assert report.mismatched() == []
    with wrong_tanh_kernel(float("nan")), torch.mlu.shadow_check("tanh") as report:
        torch.ones(4, device="mlu").tanh()
    record = report.records["aten::tanh"]
    assert report.mismatched() == ["aten::tanh"]
    assert record.max_abs == float("inf") and record.max_rel == float("inf")
