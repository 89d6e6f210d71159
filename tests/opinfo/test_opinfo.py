"""PyTorch's operator database (OpInfo) as the oracle: every sample of every operator, run on mlu
and on CPU, forward and (where the operator is differentiable) gradients.

A sample matches when the mlu result is within the dtype's tolerance of CPU's result, or of CPU's
result computed one precision higher (float32 for float16/bfloat16, float64 for float32): the
backend computes 16-bit types in float32 and sums in its own order, so it may be closer to the
exact answer than CPU is. Operators that draw random numbers are compared by shape and dtype.

TORCH_MLU_OPINFO=fast (default) runs a representative subset of operators; =full runs them all
(`tools/op_coverage` runs it and writes docs/op_coverage.md). TORCH_MLU_OPINFO_REPORT=path
appends one JSON line per (operator, dtype) test for the coverage table. Known differences are in
expected_failures.txt next to this file: a listed failure passes, a listed pass fails (so the file
stays true), an unlisted failure fails.
"""

import json
import os

import torch_mlu  # noqa: F401  (first: torch.testing._internal picks its device types at import)
import torch
from torch.testing._internal.common_device_type import OpDTypes, instantiate_device_type_tests, ops
from torch.testing._internal.common_methods_invocations import op_db
from torch.testing._internal.common_utils import TestCase
from torch.utils._pytree import tree_flatten

from opinfo_support import (DTYPES, FAST_OPS, ExpectedFailures, compare, draws_random_numbers,
                            has_uninitialised_output, higher_precision)

MODE = os.environ.get("TORCH_MLU_OPINFO", "fast")
if MODE not in ("fast", "full"):
    raise ValueError(f"TORCH_MLU_OPINFO must be 'fast' or 'full', got {MODE!r}")
SELECTED = op_db if MODE == "full" else [op for op in op_db if op.full_name in FAST_OPS]
EXPECTED = ExpectedFailures.load(os.path.join(os.path.dirname(__file__), "expected_failures.txt"))


def converted(sample, device, widen=None):
    """A copy of sample on device; widen=(from, to) converts the tensors of dtype from to to."""
    def convert(t):
        if not isinstance(t, torch.Tensor):
            return t
        copy = t.detach().to(device, copy=True)
        if widen is not None and t.dtype == widen[0]:
            copy = copy.to(widen[1])
        return copy.requires_grad_(t.requires_grad)

    return sample.transform(convert)


def as_leaves(sample):
    """sample with every tensor a new autograd leaf over the same memory, as converted() makes
    the CPU side's (a view that a sample made under no_grad, like istft's window[:8], would
    otherwise pass gradients to its base rather than to itself)."""
    def leaf(t):
        return t.detach().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t

    return sample.transform(leaf)


def run(op, sample):
    return sample.output_process_fn_grad(op(sample.input, *sample.args, **sample.kwargs))


def gradients(sample, outputs, seed, dtype):
    """Gradients of the sample's inputs for random output gradients drawn from seed and rounded
    to dtype (the same values on every device and precision), or None when nothing is
    differentiable."""
    leaves, _ = tree_flatten(outputs)
    outputs = [t for t in leaves if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    leaves, _ = tree_flatten((sample.input, sample.args, sample.kwargs))
    inputs = [t for t in leaves if isinstance(t, torch.Tensor) and t.requires_grad]
    if not outputs or not inputs:
        return None
    generator = torch.Generator().manual_seed(seed)
    seeds = [torch.randn(o.shape, generator=generator, dtype=torch.float64) for o in outputs]
    grads = [g.to(dtype).to(device=o.device, dtype=o.dtype) for g, o in zip(seeds, outputs)]
    return list(torch.autograd.grad(outputs, inputs, grads, allow_unused=True))


def first_line(error):
    return f"raised {type(error).__name__}: {(str(error).splitlines() or [''])[0]}"


class Phase:
    """Sample counts and the first failure of one phase (forward or backward)."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.first_failure = None

    def record(self, index, error):
        if error is None:
            self.passed += 1
            return
        self.failed += 1
        if self.first_failure is None:
            self.first_failure = f"sample {index}: {error}"

    def as_dict(self):
        return {"passed": self.passed, "failed": self.failed, "first_failure": self.first_failure}


class Case:
    """One sample on one device: forward outputs and, when asked for, input gradients."""

    def __init__(self, op, sample, dtype, with_grad, seed):
        self.outputs = run(op, sample)
        self.grads = gradients(sample, self.outputs, seed, dtype) if with_grad else None


def higher_precision_case(op, pristine, dtype, with_grad, index):
    try:
        widen = (dtype, higher_precision(dtype))
        return Case(op, converted(pristine, "cpu", widen), dtype, with_grad, index)
    except Exception:  # the operator does not take the wider dtype: no second opinion
        return None


def report(op, dtype, forward, backward, fallback):
    path = os.environ.get("TORCH_MLU_OPINFO_REPORT")
    if not path:
        return
    line = json.dumps({"op": op.full_name, "dtype": str(dtype).removeprefix("torch."),
                       "forward": forward.as_dict(), "backward": backward.as_dict(),
                       "fallback": fallback,
                       "expected_failure": EXPECTED.reason(op.full_name, dtype)})
    with open(path, "a") as f:  # one write per line: safe with several pytest workers
        f.write(line + "\n")


class TestOpInfo(TestCase):
    @ops(SELECTED, dtypes=OpDTypes.supported, allowed_dtypes=DTYPES)
    def test_matches_cpu(self, device, dtype, op):
        with_grad = op.supports_autograd and (
            dtype.is_floating_point
            or dtype.is_complex and dtype in op.supported_backward_dtypes("cpu"))
        forward, backward = Phase(), Phase()
        torch.mlu.reset_fallback_stats()
        samples = enumerate(op.sample_inputs(device, dtype, requires_grad=with_grad))
        while True:
            try:
                index, sample = next(samples)
            except StopIteration:
                break
            except Exception as error:  # noqa: BLE001  (building a sample on mlu is a result too)
                forward.record(forward.passed + forward.failed, "building the sample " + first_line(error))
                break
            pristine = converted(sample, "cpu")  # before any in-place operator changes sample
            try:
                want = Case(op, converted(pristine, "cpu"), dtype, with_grad, index)
            except Exception:  # not a valid sample on CPU either: nothing to compare
                continue
            try:
                got = Case(op, as_leaves(sample), dtype, with_grad, index)
            except Exception as error:  # noqa: BLE001  (every error is a result to report)
                forward.record(index, first_line(error))
                continue
            if draws_random_numbers(op, pristine) or has_uninitialised_output(op):
                forward.record(index, compare(got.outputs, want.outputs, values=False))
                continue
            forward_error = compare(got.outputs, want.outputs)
            backward_error = (compare(got.grads, want.grads)
                              if got.grads is not None or want.grads is not None else None)
            if (forward_error or backward_error) and higher_precision(dtype):
                exact = higher_precision_case(op, pristine, dtype, with_grad, index)
                if exact is not None:
                    forward_error = forward_error and compare(got.outputs, exact.outputs)
                    backward_error = backward_error and compare(got.grads, exact.grads)
            forward.record(index, forward_error)
            if got.grads is not None or want.grads is not None:
                backward.record(index, backward_error)
        report(op, dtype, forward, backward, sorted(torch.mlu.fallback_stats()))
        self._check_against_expected(op, dtype, forward, backward)

    def _check_against_expected(self, op, dtype, forward, backward):
        phases = {"forward": forward, "backward": backward}
        failures = {name: p.first_failure for name, p in phases.items() if p.failed}
        if failures and EXPECTED.reason(op.full_name, dtype, failures) is None:
            self.fail(f"{op.full_name} {dtype} differs from CPU: {failures}")
        for name in EXPECTED.listed_phases(op.full_name, dtype):
            if name not in failures and phases[name].passed:
                self.fail(f"{op.full_name} {dtype} {name} now matches CPU: remove it from "
                          "tests/opinfo/expected_failures.txt")


instantiate_device_type_tests(TestOpInfo, globals(), only_for=["mlu"])
