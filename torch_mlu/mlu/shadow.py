"""Shadow checking: run selected operators on CPU next to mlu and report how far apart they are.

    with torch.mlu.shadow_check("*softmax*", "aten::mm*") as report:
        loss = model(x).sum()
        loss.backward()
    print(report.table())

Every ATen operator call on mlu tensors whose name matches a pattern (fnmatch, against both
"aten::add.Tensor" and "add"; no pattern means all) is re-run on CPU copies of its inputs. The
report gives per operator the calls compared, the mismatches (elements outside PyTorch's
tolerance for the dtype), the largest absolute and relative errors, and the first offending call
with its input shapes and dtypes and the nn.Module it ran in.

TORCH_MLU_SHADOW_CHECK=pattern[,pattern...] ("*" for all) checks a whole program from import and
prints the report to stderr at exit. Checking is slow (every selected operator runs twice and
synchronises); it is a debugging tool.
"""

import atexit
import fnmatch
import math
import os
import sys
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

# torch.testing.assert_close's default (rtol, atol) per dtype; other dtypes compare exactly.
_TOLERANCES = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5),
               torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}


class Mismatch:
    """The first call of an operator whose result was outside tolerance."""

    def __init__(self, call, inputs, module, max_abs, max_rel):
        self.call = call  # 1-based count of this operator's compared calls
        self.inputs = inputs  # e.g. ["float32[8, 16]", "int64[8]", "1.0"]
        self.module = module  # qualified nn.Module path, or None outside any module
        self.max_abs = max_abs
        self.max_rel = max_rel

    def __repr__(self):
        where = f" in {self.module}" if self.module else ""
        return f"call {self.call}{where} with inputs ({', '.join(self.inputs)})"


class OperatorRecord:
    def __init__(self, name):
        self.name = name
        self.calls = 0
        self.mismatches = 0
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.first_mismatch = None


class ShadowReport:
    """Per operator: calls compared, mismatching calls, largest errors, first mismatch."""

    def __init__(self):
        self.records = {}

    def mismatched(self):
        """Names of the operators with at least one call outside tolerance, worst first."""
        bad = [r for r in self.records.values() if r.mismatches]
        return [r.name for r in sorted(bad, key=lambda r: -r.max_rel)]

    def table(self):
        lines = [f"{'operator':<40}{'calls':>7}{'bad':>6}{'max abs err':>13}{'max rel err':>13}  first mismatch"]
        for r in sorted(self.records.values(), key=lambda r: (-r.mismatches, -r.max_rel, r.name)):
            first = repr(r.first_mismatch) if r.first_mismatch else ""
            lines.append(f"{r.name:<40}{r.calls:>7}{r.mismatches:>6}{r.max_abs:>13.3e}{r.max_rel:>13.3e}  {first}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def _record(self, name, errors, inputs, module):
        record = self.records.setdefault(name, OperatorRecord(name))
        record.calls += 1
        max_abs, max_rel, bad = errors
        record.max_abs = max(record.max_abs, max_abs)
        record.max_rel = max(record.max_rel, max_rel)
        if bad:
            record.mismatches += 1
            if record.first_mismatch is None:
                record.first_mismatch = Mismatch(record.calls, inputs(), module, max_abs, max_rel)


def _errors(actual, expected):
    """(max abs error, max relative error, outside tolerance) over the tensors of two results."""
    got, _ = tree_flatten(actual)
    want, _ = tree_flatten(expected)
    max_abs = max_rel = 0.0
    bad = len(got) != len(want)
    for a, e in zip(got, want):
        if not isinstance(a, torch.Tensor) or not isinstance(e, torch.Tensor):
            bad = bad or (a != e if isinstance(a, (int, float, bool)) else False)
            continue
        if a.shape != e.shape:
            bad = True
            continue
        if a.numel() == 0 or a.is_complex():
            continue
        a64 = a.detach().cpu().to(torch.float64)
        e64 = e.detach().to(torch.float64)
        # Equal values (infinities included) and NaN on both sides are no error; NaN on one side
        # only is an infinite one.
        same = (a64 == e64) | (a64.isnan() & e64.isnan())
        diff = (a64 - e64).abs().masked_fill(same, 0).nan_to_num(nan=math.inf, posinf=math.inf)
        rtol, atol = _TOLERANCES.get(a.dtype, (0.0, 0.0))
        bad = bad or bool(((diff > atol + rtol * e64.abs()) | diff.isinf()).any())
        max_abs = max(max_abs, diff.max().item())
        # Relative error where the expected value is finite and above the absolute tolerance:
        # below it, a relative figure measures rounding noise around zero, not the kernel.
        significant = (e64.abs() > atol) & e64.isfinite()
        if significant.any():
            max_rel = max(max_rel, (diff[significant] / e64.abs()[significant]).max().item())
    if max_abs == math.inf:
        max_rel = math.inf
    return max_abs, max_rel, bad


def _describe(value):
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value)


def _uses_mlu(args, kwargs):
    leaves, _ = tree_flatten((args, kwargs))
    return any(isinstance(t, torch.Tensor) and t.device.type == "mlu" for t in leaves)


def _cpu_copy(value):
    # A copy, not a view: in-place operators change their inputs on mlu before CPU runs.
    return value.detach().to("cpu", copy=True) if isinstance(value, torch.Tensor) else value


def _cpu_argument(value):
    if isinstance(value, torch.device) and value.type == "mlu":
        return torch.device("cpu")
    return value


class _ModulePath:
    """The qualified name of the nn.Module being run, kept by global forward hooks."""

    def __init__(self):
        self.stack = []
        self.names = weakref.WeakKeyDictionary()
        self.handles = []

    def install(self):
        hooks = torch.nn.modules.module
        self.handles = [hooks.register_module_forward_pre_hook(self._enter),
                        hooks.register_module_forward_hook(self._leave)]

    def remove(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _enter(self, module, args):
        if not self.stack or module not in self.names:
            root = type(module).__name__
            for name, sub in module.named_modules():
                self.names.setdefault(sub, f"{root}.{name}" if name else root)
        self.stack.append(self.names.get(module, type(module).__name__))

    def _leave(self, module, args, output):
        if self.stack:
            self.stack.pop()

    def current(self):
        return self.stack[-1] if self.stack else None


class ShadowCheck(TorchDispatchMode):
    """The dispatch mode behind shadow_check(); use that."""

    def __init__(self, patterns=(), report=None):
        super().__init__()
        if not all(isinstance(p, str) for p in patterns):
            raise TypeError(f"shadow_check patterns must be strings, got {list(patterns)!r}")
        self.patterns = [p for p in patterns if p] or ["*"]
        self.report = report if report is not None else ShadowReport()
        self.modules = _ModulePath()

    def __enter__(self):
        self.modules.install()
        return super().__enter__()

    def __exit__(self, *exc):
        self.modules.remove()
        return super().__exit__(*exc)

    def _selected(self, func):
        if torch.Tag.nondeterministic_seeded in func.tags or "empty" in func._schema.name:
            return False  # random or uninitialised values: nothing to compare
        full, short = func.name(), func._schema.name.split("::")[-1]
        return any(fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(short, p) for p in self.patterns)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not self._selected(func) or not _uses_mlu(args, kwargs):
            return func(*args, **kwargs)
        cpu_args, cpu_kwargs = tree_map(_cpu_argument, tree_map(_cpu_copy, (args, kwargs)))
        result = func(*args, **kwargs)
        try:
            expected = func(*cpu_args, **cpu_kwargs)
        except Exception:  # noqa: BLE001  (CPU cannot run it: nothing to compare against)
            return result
        self.report._record(func.name(), _errors(result, expected),
                            lambda: [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()],
                            self.modules.current())
        return result


class shadow_check:
    """Context manager: check operators matching patterns (all when none are given) against
    CPU; `as report` gives the ShadowReport, complete when the block exits."""

    def __init__(self, *patterns):
        self.report = ShadowReport()
        self._mode = ShadowCheck(patterns, self.report)

    def __enter__(self):
        self._mode.__enter__()
        return self.report

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        return False


def enable_from_environment():
    """TORCH_MLU_SHADOW_CHECK=patterns: check the whole program, report at exit."""
    value = os.environ.get("TORCH_MLU_SHADOW_CHECK", "")
    if not value:
        return None
    mode = ShadowCheck(value.split(","))
    mode.__enter__()
    atexit.register(lambda: print("torch_mlu shadow check (TORCH_MLU_SHADOW_CHECK="
                                  f"{value}):\n{mode.report.table()}", file=sys.stderr))
    return mode
