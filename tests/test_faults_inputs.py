"""Bad input: integer overflow in division, data that indexes out of range, overlapping in-place
writes, device indices, device/dtype/shape mismatches, out of memory and serialization. Each
case asserts a clear error (or PyTorch CPU's result), a usable device and memory back at its
baseline."""

import io

import pytest
import torch
import torch.nn.functional as F

from reliability_support import leaves_device_usable, raises_then_usable, run_cases

# Cases that could kill the interpreter (a trap, a stray write) run in one child interpreter.
DANGEROUS = """
def division(op, dtype):
    def case():
        a = torch.tensor([torch.iinfo(dtype).min, 7, -7], dtype=dtype, device="mlu")
        b = torch.tensor([-1, -1, 2], dtype=dtype, device="mlu")
        return OPS[op](a, b).cpu().tolist()
    return case

OPS = {
    "floordiv": lambda a, b: a // b,
    "mod": lambda a, b: a % b,
    "trunc": lambda a, b: torch.div(a, b, rounding_mode="trunc"),
    "floor": lambda a, b: torch.div(a, b, rounding_mode="floor"),
    "fmod": lambda a, b: torch.fmod(a, b),
    "floor_divide_": lambda a, b: a.floor_divide_(b),
    "ifloordiv": lambda a, b: a.__ifloordiv__(b),
    "remainder_": lambda a, b: a.remainder_(b),
}
CASES = {f"{op} {dtype}": division(op, dtype) for op in OPS for dtype in (torch.int32, torch.int64)}
for dtype in (torch.int32, torch.int64):
    CASES[f"by zero {dtype}"] = lambda dtype=dtype: (
        torch.ones(3, dtype=dtype, device="mlu") // torch.zeros(3, dtype=dtype, device="mlu")).tolist()

def ctc(bad):
    def case():
        log_probs = torch.randn(12, 2, 5).log_softmax(2).to("mlu")
        targets = torch.tensor([[1, 2, 3], [1, bad, 2]], device="mlu")
        return F.ctc_loss(log_probs, targets, torch.tensor([12, 12]), torch.tensor([3, 3])).item()
    return case
for bad in (5, 99, -2):
    CASES[f"ctc {bad}"] = ctc(bad)

on = lambda *shape: torch.zeros(*shape, device="mlu")
index = lambda *values: torch.tensor(values, device="mlu")
CASES.update({
    "embedding": lambda: F.embedding(index(0, 4), on(3, 2)).tolist(),
    "nll_loss": lambda: F.nll_loss(on(2, 3), index(1, 3)).item(),
    "gather": lambda: on(4).gather(0, index(4)).tolist(),
    "index": lambda: on(4)[index(-5)].tolist(),
    "index_add": lambda: on(4).index_add_(0, index(9), torch.ones(1, device="mlu")).tolist(),
    "scatter": lambda: on(4).scatter_(0, index(6), torch.ones(1, device="mlu")).tolist(),
    "index_put": lambda: on(4).index_put_((index(8),), torch.ones(1, device="mlu"), accumulate=True).tolist(),
    "embedding_bag": lambda: F.embedding_bag(index(0, 1), on(3, 2), index(0, 5)).tolist(),
    "take": lambda: on(4).take(index(12)).tolist(),
})
"""


@pytest.fixture(scope="module")
def dangerous():
    return run_cases(DANGEROUS)


# MIN / -1 overflows: x86 traps it (SIGFPE killed the process from a queue thread, and PyTorch
# CPU's own kernels trap on it). It wraps to MIN as two's complement does.
@pytest.mark.parametrize("dtype", ["torch.int32", "torch.int64"])
@pytest.mark.parametrize("op, expected", [
    ("floordiv", lambda m: [m, -7, -4]),
    ("mod", lambda m: [0, 0, 1]),
    ("trunc", lambda m: [m, -7, -3]),
    ("floor", lambda m: [m, -7, -4]),
    ("fmod", lambda m: [0, 0, -1]),
    ("floor_divide_", lambda m: [m, -7, -4]),
    ("ifloordiv", lambda m: [m, -7, -4]),
    ("remainder_", lambda m: [0, 0, 1]),
])
def test_integer_division_of_min_by_minus_one_wraps(dangerous, op, expected, dtype):
    minimum = -2**31 if dtype == "torch.int32" else -2**63
    assert dangerous[f"{op} {dtype}"] == {"value": expected(minimum), "usable": True}


@pytest.mark.parametrize("dtype", ["torch.int32", "torch.int64"])
def test_integer_division_by_zero_is_an_error(dangerous, dtype):
    outcome = dangerous[f"by zero {dtype}"]
    assert outcome["raised"] == "RuntimeError" and "integer division by zero" in outcome["message"]
    assert outcome["usable"]


def test_fmod_matches_cpu_on_floats():
    a, b = torch.randn(100) * 10, torch.randn(100)
    torch.testing.assert_close(torch.fmod(a.to("mlu"), b.to("mlu")).cpu(), torch.fmod(a, b))


@pytest.mark.parametrize("bad", [5, 99, -2])
def test_ctc_loss_with_a_target_outside_the_classes(dangerous, bad):
    outcome = dangerous[f"ctc {bad}"]
    assert outcome["raised"] == "RuntimeError", outcome
    assert f"ctc_loss: target {bad} of sample 1 is not a class index in [0, 5)" in outcome["message"]
    assert outcome["usable"]


@pytest.mark.parametrize("case, match", [
    ("embedding", "index 4 is out of bounds"),
    ("nll_loss", "Target 3 is out of bounds"),
    ("gather", "out of bounds"),
    ("index", "out of bounds"),
    ("index_add", "out of bounds"),
    ("scatter", "out of bounds"),
    ("index_put", "out of bounds"),
    ("embedding_bag", "offsets"),
    ("take", "out of"),
])
def test_data_that_indexes_out_of_range_fails_in_the_kernel(dangerous, case, match):
    outcome = dangerous[case]
    assert outcome["raised"] in ("RuntimeError", "IndexError"), outcome
    assert match in outcome["message"], outcome
    assert outcome["usable"]


# In-place and out= writes that overlap their inputs, or whose elements share memory: whatever
# PyTorch CPU does (refuse, or compute), mlu does too. (A reduction into an out= that overlaps
# its input is left out: CPU neither refuses it nor defines the result.)
OVERLAP_CASES = {
    "add_ shifted": lambda t: t[1:].add_(t[:-1]),
    "mul_ shifted": lambda t: t[:-1].mul_(t[1:]),
    "sub_ same": lambda t: t.sub_(t),
    "div_ expanded": lambda t: t[:1].expand(4).div_(2),
    "neg_ expanded": lambda t: t[:1].expand(4).neg_(),
    "exp_ expanded": lambda t: t[:1].expand(4).exp_(),
    "relu_ expanded": lambda t: t[:1].expand(4).relu_(),
    "sigmoid out shifted": lambda t: torch.sigmoid(t[:-1], out=t[1:]),
    "clamp_ expanded": lambda t: t[:1].expand(4).clamp_(0, 1),
    "addcmul_ shifted": lambda t: t[1:].addcmul_(t[:-1], t[:-1]),
    "lerp_ shifted": lambda t: t[1:].lerp_(t[:-1], 0.5),
    "where out shifted": lambda t: torch.where(t[:-1] > 2, t[:-1], t[1:], out=t[1:]),
    "add out expanded": lambda t: torch.add(t[:4], 1, out=t[:1].expand(4)),
    "copy_ shifted": lambda t: t[1:].copy_(t[:-1]),
    "copy_ expanded": lambda t: t[:1].expand(4).copy_(t[2:]),
    "copy_ same": lambda t: t.copy_(t),
    "fill_ expanded": lambda t: t[:1].expand(4).fill_(7),
    "zero_ expanded": lambda t: t[:1].expand(4).zero_(),
}


def overlap_outcome(case, device):
    t = torch.arange(6.0, device=device)
    try:
        OVERLAP_CASES[case](t)
    except RuntimeError as e:
        return "raised", str(e).split(".")[0]
    return "computed", t.cpu().tolist()


@pytest.mark.parametrize("case", OVERLAP_CASES)
def test_overlapping_writes_do_what_cpu_does(case):
    with leaves_device_usable():
        assert overlap_outcome(case, "mlu") == overlap_outcome(case, "cpu")


RANDOM_METHODS = {"bernoulli_", "cauchy_", "exponential_", "geometric_", "log_normal_",
                  "normal_", "random_", "uniform_"}
IN_PLACE_METHODS = sorted(n for n in dir(torch.Tensor) if n.endswith("_") and not n.startswith("_"))
ALIASING = {
    "expanded self": lambda name: lambda t: getattr(t[:1].expand(4), name)(),
    "shifted operand": lambda name: lambda t: getattr(t[1:], name)(t[:-1]),
    "expanded self, other operand": lambda name: lambda t: getattr(t[:1].expand(5), name)(t[1:]),
}


def aliasing_outcome(call, device, values):
    t = torch.arange(1.0, 7.0, device=device) / 7
    try:
        call(t)
    except Exception as e:  # noqa: BLE001  (which exception is part of the outcome)
        return type(e).__name__
    return [round(v, 4) for v in t.cpu().tolist()] if values else "computed"


@pytest.mark.parametrize("aliasing", ALIASING)
def test_every_in_place_method_refuses_what_cpu_refuses(aliasing):
    """Every in-place Tensor method, called with a self whose elements share memory or an operand
    overlapping self: the same outcome as on CPU (the same refusal, or the same values)."""
    differ = []
    with leaves_device_usable():
        for name in IN_PLACE_METHODS:
            call = ALIASING[aliasing](name)
            values = name not in RANDOM_METHODS
            cpu = aliasing_outcome(call, "cpu", values)
            if cpu not in ("RuntimeError", "computed") and not isinstance(cpu, list):
                continue  # not a call this method takes (TypeError and the like)
            mlu = aliasing_outcome(call, "mlu", values)
            if mlu != cpu:
                differ.append(f"{name}: cpu {cpu}, mlu {mlu}")
    assert not differ, "\n".join(differ)


@pytest.mark.parametrize("call", [
    lambda: torch.mlu.set_device(256),
    lambda: torch.mlu.set_device(-1 + 2 ** 8),
    lambda: torch.mlu.memory_allocated(256),
    lambda: torch.mlu.get_device_properties(130),
    lambda: torch.mlu.synchronize(1000),
    lambda: torch.ones(1, device="mlu:100"),
], ids=["set_device", "set_device_255", "memory_allocated", "properties", "synchronize", "tensor"])
def test_device_indices_beyond_the_devices_are_errors(call):
    with raises_then_usable((RuntimeError, ValueError), r"(?i)invalid.*device|device index"):
        call()
    assert torch.mlu.current_device() == 0


@pytest.mark.parametrize("call, error, match", [
    pytest.param(lambda: torch.ones(2, device="mlu:0") + torch.ones(2, device="mlu:1"),
                 RuntimeError, "mlu:0.*mlu:1|mlu:1.*mlu:0",
                 marks=pytest.mark.skipif(torch.mlu.device_count() < 2,
                                          reason="needs two mlu devices (MLU_DEVICE_COUNT)")),
    (lambda: torch.ones(2, device="mlu") + torch.ones(2), RuntimeError, "cpu"),
    (lambda: torch.ones(2, 3, device="mlu") @ torch.ones(2, 3, device="mlu"), RuntimeError, "shape|size"),
    (lambda: torch.ones(2, device="mlu") + torch.ones(3, device="mlu"), RuntimeError, "size"),
    (lambda: torch.ones(2, 2, device="mlu", dtype=torch.complex64).clamp(0, 1),
     RuntimeError, "complex"),
    (lambda: torch.ones(2, device="mlu").view(3), RuntimeError, "shape"),
    (lambda: torch.empty(-1, device="mlu"), RuntimeError, "negative"),
    (lambda: torch.ones(2, 2, device="mlu").sqrt_().to(torch.int32).sqrt_(), RuntimeError, "Float|result type"),
], ids=["two devices", "cpu tensor", "matmul shapes", "broadcast", "complex", "view", "negative size", "int sqrt_"])
def test_device_dtype_and_shape_errors(call, error, match):
    with raises_then_usable(error, match):
        call()


def test_out_of_memory_under_a_memory_fraction():
    with raises_then_usable(torch.OutOfMemoryError, "per_process_memory_fraction"):
        torch.mlu.set_per_process_memory_fraction(0.01)
        try:
            torch.empty(1 << 28, device="mlu")  # 1 GiB of an 8 GiB device
        finally:
            torch.mlu.set_per_process_memory_fraction(1.0)


def test_out_of_memory_at_capacity_in_a_small_device(run_py):
    result = run_py("""
        import torch
        kept = [torch.empty(1 << 20, device="mlu") for _ in range(12)]  # 48 MiB of 64
        try:
            torch.empty(1 << 23, device="mlu")  # 32 MiB more
        except torch.OutOfMemoryError as e:
            print("oom:", str(e).split(".")[0])
        del kept
        torch.mlu.empty_cache()
        x = torch.empty(1 << 23, device="mlu").fill_(1)
        print("after:", x.sum().item(), torch.mlu.memory_allocated() == 1 << 25)
    """, MLU_DEVICE_MEMORY="64M")
    assert result.returncode == 0, result
    assert "oom: MLU out of memory" in result.stdout
    assert "after: 8388608.0 True" in result.stdout


def test_serialization_round_trip_and_a_corrupt_file():
    with leaves_device_usable():
        buffer = io.BytesIO()
        x = torch.arange(5.0, device="mlu")
        torch.save({"x": x}, buffer)
        loaded = torch.load(io.BytesIO(buffer.getvalue()))["x"]
        assert loaded.device == x.device and torch.equal(loaded, x)
        corrupt = buffer.getvalue()[: len(buffer.getvalue()) // 2]
        with pytest.raises(Exception, match="(?i)zip|archive|eof|central directory"):
            torch.load(io.BytesIO(corrupt))
        del x, loaded


def test_loading_onto_a_device_that_does_not_exist(run_py, tmp_path):
    path = tmp_path / "on_one.pt"
    result = run_py(f"""
        import torch
        torch.save(torch.ones(3, device="mlu:1"), {str(path)!r})
    """, MLU_DEVICE_COUNT="2")
    assert result.returncode == 0, result
    result = run_py(f"""
        import torch
        try:
            torch.load({str(path)!r})
        except RuntimeError as e:
            print("raised:", e)
        print("mapped:", torch.load({str(path)!r}, map_location="mlu:0").tolist())
    """, MLU_DEVICE_COUNT="1")
    assert result.returncode == 0, result
    assert "raised: Attempting to deserialize object on MLU device 1" in result.stdout, result
    assert "mapped: [1.0, 1.0, 1.0]" in result.stdout
