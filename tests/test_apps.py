"""The application suite (python -m torch_mlu.apps): every application trains on mlu in agreement
with the CPU and without CPU fallback, as a user runs the suite; its report; how a disagreement,
a missing library and a wrong name are reported."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from torch_mlu.apps import APPS, App, run_app
from torch_mlu.apps import __main__ as cli


def test_every_application_agrees_with_the_cpu_in_its_short_form(tmp_path):
    done = subprocess.run([sys.executable, "-m", "torch_mlu.apps", "--quick", "--steps", "2",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = (tmp_path / "report.md").read_text()
    for name in APPS:
        assert f"| {name} |" in report
    ran = [line for line in done.stdout.splitlines() if line.split()[1:2] == ["ok"]]
    skipped = [line for line in done.stdout.splitlines() if "skipped:" in line]
    assert len(ran) + len(skipped) == len(APPS), done.stdout
    assert "FAILED" not in report
    assert (tmp_path / "losses.png").read_bytes()[:4] == b"\x89PNG"


def linear_app(**overrides):
    def batch(generator, quick):
        return torch.randn(4, 3, generator=generator), torch.randn(4, 1, generator=generator)

    def loss(model, batch):
        x, y = batch
        return F.mse_loss(model(x), y)

    fields = dict(name="linear", area="test", model="nn.Linear(3, 1)",
                  build=lambda quick: torch.nn.Linear(3, 1), batch=batch, loss=loss)
    fields.update(overrides)
    return App(**fields)


def test_a_device_dependent_loss_fails_agreement():
    def skewed(model, batch):
        x, y = batch
        bias = 0.5 if x.device.type == "mlu" else 0.0
        return F.mse_loss(model(x), y) + bias

    result = run_app(linear_app(loss=skewed), steps=2)
    assert not result.passed
    assert not result.checks["first loss vs CPU"][1]
    assert run_app(linear_app(), steps=2).passed


def test_a_missing_library_skips_with_the_reason():
    result = run_app(linear_app(requires=("no_such_library_here",)), steps=2)
    assert result.skipped == "no_such_library_here not installed" and not result.passed


def test_unknown_application_names_are_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--only", "resnet18,no_such_app"])
    assert "unknown application no_such_app" in capsys.readouterr().err
