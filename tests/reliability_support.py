"""What every fault-injection and bad-input case asserts afterwards (tests/test_faults_*.py)."""

import contextlib
import gc
import traceback

import pytest
import torch


def device_works(device="mlu"):
    """The device still computes correctly on every stream it is asked about."""
    x = torch.arange(6.0, device=device).reshape(2, 3)
    assert (x @ x.T).cpu().tolist() == [[5.0, 14.0], [14.0, 50.0]]


@contextlib.contextmanager
def leaves_device_usable():
    """The block may raise what it raises; afterwards nothing is pending, the device works and
    memory_allocated() is back where it started."""
    torch.mlu.synchronize()
    baseline = [torch.mlu.memory_allocated(d) for d in range(torch.mlu.device_count())]
    yield
    gc.collect()  # a caught exception's frames may hold tensors in reference cycles
    for d in range(torch.mlu.device_count()):
        torch.mlu.synchronize(d)  # nothing left pending: it must not raise
    device_works()
    after = [torch.mlu.memory_allocated(d) for d in range(torch.mlu.device_count())]
    assert after == baseline, f"memory_allocated {baseline} -> {after}"


@contextlib.contextmanager
def raises_then_usable(error, match):
    """The block raises `error` matching `match`, and the device is usable afterwards."""
    with leaves_device_usable():
        with pytest.raises(error, match=match) as raised:
            yield
        # The traceback holds the failing calls' frames and their tensors, and our caller's
        # __exit__ holds the traceback while this runs: release the frames' locals.
        traceback.clear_frames(raised.tb)
        del raised


_CASE_IMPORTS = "import gc, json, traceback, torch, torch.nn.functional as F\n"
_CASE_RUNNER = """
def _usable_at(baseline):
    gc.collect()
    torch.mlu.synchronize()
    x = torch.arange(6.0, device="mlu").reshape(2, 3)
    works = (x @ x.T).cpu().tolist() == [[5.0, 14.0], [14.0, 50.0]]
    del x
    return works and torch.mlu.memory_allocated() == baseline

results = {}
for name, case in CASES.items():
    torch.mlu.synchronize()
    baseline = torch.mlu.memory_allocated()
    try:
        outcome = {"value": case()}
        torch.mlu.synchronize()
    except Exception as e:
        outcome = {"raised": type(e).__name__, "message": str(e)}
        traceback.clear_frames(e.__traceback__)
        del e
    outcome["usable"] = _usable_at(baseline)
    results[name] = outcome
print("RESULTS " + json.dumps(results))
"""


def run_cases(definitions):
    """Runs the cases that `definitions` (Python code) puts in a dict CASES, name -> function
    returning plain values, in one fresh interpreter: a case that kills the process fails its
    tests without taking pytest down. Returns name -> {"value" | "raised" and "message", "usable":
    the device worked and memory_allocated() was back at its baseline afterwards}."""
    import json
    import textwrap

    from conftest import run_python

    result = run_python(_CASE_IMPORTS + textwrap.dedent(definitions) + _CASE_RUNNER, timeout=300)
    assert result.returncode == 0, result
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULTS "))
    return json.loads(line[len("RESULTS "):])
