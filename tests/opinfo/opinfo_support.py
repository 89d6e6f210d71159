"""What the OpInfo suite compares and how: the fast subset, the expected-failures file, and the
comparison of mlu results with CPU results."""

import fnmatch

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

# The input dtypes samples are made in: every dtype mlu tensors have.
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64,
          torch.complex128, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
          torch.bool)

# (rtol, atol) by the dtype of the compared result: PyTorch's (torch.testing.assert_close's
# defaults), except that the 16-bit types' atol is their machine epsilon rather than 1e-5: their
# gradients pass through rounded 16-bit intermediates, so results near zero are differences of
# rounded numbers of magnitude ~1. Integers and bool compare exactly.
TOLERANCES = {torch.float16: (1e-3, torch.finfo(torch.float16).eps),
              torch.bfloat16: (1.6e-2, torch.finfo(torch.bfloat16).eps),
              torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7),
              torch.complex64: (1.3e-6, 1e-5), torch.complex128: (1e-7, 1e-7)}


def higher_precision(dtype):
    """The dtype CPU recomputes a sample in when the backend's result is not within tolerance."""
    return {torch.float16: torch.float32, torch.bfloat16: torch.float32,
            torch.float32: torch.float64, torch.complex64: torch.complex128}.get(dtype)


# The subset CI runs: the operator families the reference workloads spend their time in, plus one
# or two of each kind of kernel (elementwise, comparison, reduction, indexing, shape, random).
FAST_OPS = frozenset({
    "add", "sub", "mul", "div.no_rounding_mode", "pow", "exp", "log", "sqrt", "tanh", "sigmoid",
    "abs", "neg", "clamp", "where", "eq", "lt", "bitwise_and", "logical_not",
    "nn.functional.relu", "nn.functional.gelu", "nn.functional.silu", "nn.functional.hardswish",
    "sum", "mean", "amax", "argmax", "var", "std", "cumsum", "logsumexp", "topk", "sort",
    "mm", "bmm", "addmm", "matmul", "nn.functional.linear", "nn.functional.conv2d",
    "nn.functional.max_pool2d", "nn.functional.avg_pool2d", "nn.functional.adaptive_avg_pool2d",
    "nn.functional.batch_norm", "nn.functional.layer_norm", "nn.functional.group_norm",
    "softmax", "log_softmax", "nn.functional.cross_entropy", "nn.functional.mse_loss",
    "nn.functional.binary_cross_entropy_with_logits", "nn.functional.embedding",
    "nn.functional.embedding_bag", "nn.functional.scaled_dot_product_attention",
    "nn.functional.interpolate.nearest", "nn.functional.interpolate.bilinear", "nn.functional.pad.reflect",
    "cat", "stack", "index_select", "gather", "scatter_add", "index_put", "masked_fill",
    "transpose", "reshape", "flip", "roll", "tril", "arange", "full_like", "bernoulli",
    "nn.functional.dropout", "empty_like",
})


def _tensor_to_cpu(value):
    return value.detach().cpu() if isinstance(value, torch.Tensor) else value


def compare(actual, expected, values=True):
    """None when actual (any device) matches expected (CPU) within the tolerance of actual's
    dtype, else the reason. expected may be in a wider dtype. With values=False only the
    structure, shapes and dtypes are compared (random or uninitialised outputs)."""
    got, got_spec = tree_flatten(tree_map(_tensor_to_cpu, actual))
    want, want_spec = tree_flatten(tree_map(_tensor_to_cpu, expected))
    if got_spec != want_spec:
        return f"output structure {got_spec} differs from {want_spec}"
    try:
        for index, (a, e) in enumerate(zip(got, want)):
            if not isinstance(a, torch.Tensor):
                torch.testing.assert_close(a, e)
            elif not values:
                if a.shape != e.shape or a.dtype != e.dtype:
                    return (f"output {index}: {a.dtype} {tuple(a.shape)} differs from "
                            f"{e.dtype} {tuple(e.shape)}")
            else:
                rtol, atol = TOLERANCES.get(a.dtype, (0, 0))
                torch.testing.assert_close(a, e, rtol=rtol, atol=atol, equal_nan=True,
                                           check_dtype=False, msg=lambda m, i=index: f"output {i}: {m}")
        return None
    except (AssertionError, TypeError, ValueError, RuntimeError) as error:
        return " ".join(str(error).split())[:300]


def has_uninitialised_output(op):
    return "empty" in op.name


class _SeededOpRecorder(TorchDispatchMode):
    """Notes whether any ATen operator that draws from a generator runs."""

    def __init__(self):
        super().__init__()
        self.seeded = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.seeded = self.seeded or torch.Tag.nondeterministic_seeded in func.tags
        return func(*args, **(kwargs or {}))


def draws_random_numbers(op, cpu_sample):
    """Whether the operator uses a generator (its values then depend on the device's random
    stream, so only shapes and dtypes are compared). Runs it on CPU on a copy of the sample."""
    copy = cpu_sample.transform(lambda t: t.detach().clone() if isinstance(t, torch.Tensor) else t)
    recorder = _SeededOpRecorder()
    with recorder:
        op(copy.input, *copy.args, **copy.kwargs)
    return recorder.seeded


def _cpu_complex_dot_is_wrong():
    """Debian's PyTorch 2.6 returns 0 from torch.dot and torch.vdot of complex CPU vectors: the
    reference itself is wrong there."""
    a = torch.tensor([1 + 2j, 3 - 1j])
    return torch.dot(a, a).item() != (a * a).sum().item()


# Conditions an expected failure may be limited to (a fifth field): the PyTorch under test has
# the defect named.
CONDITIONS = {"cpu-complex-dot-is-wrong": _cpu_complex_dot_is_wrong}


class ExpectedFailures:
    """Lines of `operator | dtypes | phases | reason [| condition]`: operator is a name or an
    fnmatch pattern (fft.*), dtypes is * or a comma list (float32, int64...), phases is forward,
    backward or *, condition one of CONDITIONS (the line applies only where it holds); # starts
    a comment. An exact name takes precedence over patterns."""

    PHASES = ("forward", "backward")

    def __init__(self, entries):
        self.entries = entries  # {(op, dtype name or "*"): (set of phases, reason)}

    @classmethod
    def load(cls, path):
        entries = {}
        with open(path) as f:
            for number, raw in enumerate(f, 1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                fields = [field.strip() for field in line.split("|")]
                if len(fields) not in (4, 5) or not fields[3]:
                    raise ValueError(f"{path}:{number}: expected "
                                     "'operator | dtypes | phases | reason [| condition]'")
                op, dtypes, phases, reason = fields[:4]
                if len(fields) == 5:
                    if fields[4] not in CONDITIONS:
                        raise ValueError(f"{path}:{number}: unknown condition {fields[4]!r}")
                    if not CONDITIONS[fields[4]]():
                        continue
                phase_set = set(cls.PHASES) if phases == "*" else {phases}
                if not phase_set <= set(cls.PHASES):
                    raise ValueError(f"{path}:{number}: unknown phase {phases!r}")
                for dtype in dtypes.split(","):
                    dtype = dtype.strip()
                    if dtype != "*" and not isinstance(getattr(torch, dtype, None), torch.dtype):
                        raise ValueError(f"{path}:{number}: unknown dtype {dtype!r}")
                    entries[(op, dtype)] = (phase_set, reason)
        return cls(entries)

    def _entry(self, op, dtype):
        name = str(dtype).removeprefix("torch.")
        exact = self.entries.get((op, name)) or self.entries.get((op, "*"))
        if exact:
            return exact
        for (pattern, listed), entry in self.entries.items():
            if listed in (name, "*") and fnmatch.fnmatchcase(op, pattern):
                return entry
        return None

    def listed_phases(self, op, dtype):
        entry = self._entry(op, dtype)
        return entry[0] if entry else set()

    def reason(self, op, dtype, failed_phases=None):
        """The listed reason; with failed_phases, only if every one of them is listed."""
        entry = self._entry(op, dtype)
        if entry is None or (failed_phases is not None and not set(failed_phases) <= entry[0]):
            return None
        return entry[1]
