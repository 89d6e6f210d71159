"""Bad input: integer overflow in division, data that indexes out of range, overlapping in-place
writes, device indices, device/dtype/shape mismatches, out of memory and serialization. Each
case asserts a clear error (or PyTorch CPU's result), a usable device and memory back at its
baseline."""

import io

import pytest
import torch
import torch.nn.functional as F

from reliability_support import leaves_device_usable, raises_then_usable

INT_TYPES = [torch.int32, torch.int64]


def int_min(dtype):
    return torch.iinfo(dtype).min


# MIN / -1 overflows: x86 traps it (SIGFPE killed the queue thread's process). It wraps to MIN as
# two's complement does; PyTorch CPU traps on it itself, so the expected values are written out.
@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("op, expected", [
    (lambda a, b: a // b, lambda m: [m, -7, -4]),
    (lambda a, b: a % b, lambda m: [0, 0, 1]),
    (lambda a, b: torch.div(a, b, rounding_mode="trunc"), lambda m: [m, -7, -3]),
    (lambda a, b: torch.div(a, b, rounding_mode="floor"), lambda m: [m, -7, -4]),
    (lambda a, b: torch.fmod(a, b), lambda m: [0, 0, -1]),
    (lambda a, b: a.floor_divide_(b), lambda m: [m, -7, -4]),
], ids=["floordiv", "mod", "trunc", "floor", "fmod", "floor_divide_"])
def test_integer_division_of_min_by_minus_one_wraps(dtype, op, expected):
    with leaves_device_usable():
        a = torch.tensor([int_min(dtype), 7, -7], dtype=dtype, device="mlu")
        b = torch.tensor([-1, -1, 2], dtype=dtype, device="mlu")
        assert op(a, b).cpu().tolist() == expected(int_min(dtype))
        del a, b


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_integer_division_by_zero_is_an_error(dtype):
    with raises_then_usable(RuntimeError, "integer division by zero"):
        (torch.ones(3, dtype=dtype, device="mlu") // torch.zeros(3, dtype=dtype, device="mlu")).cpu()


def test_fmod_matches_cpu_on_floats():
    a, b = torch.randn(100) * 10, torch.randn(100)
    torch.testing.assert_close(torch.fmod(a.to("mlu"), b.to("mlu")).cpu(), torch.fmod(a, b))


def ctc_inputs(targets):
    log_probs = torch.randn(12, 2, 5).log_softmax(2)
    return (log_probs.to("mlu"), torch.tensor(targets, device="mlu"),
            torch.tensor([12, 12]), torch.tensor([3, 3]))


@pytest.mark.parametrize("bad", [5, 99, -2])
def test_ctc_loss_with_a_target_outside_the_classes(bad):
    with raises_then_usable(RuntimeError, f"ctc_loss: target {bad} of sample 1 is not a class"):
        F.ctc_loss(*ctc_inputs([[1, 2, 3], [1, bad, 2]])).item()


@pytest.mark.parametrize("call, match", [
    (lambda: F.embedding(torch.tensor([0, 4], device="mlu"), torch.ones(3, 2, device="mlu")), "out of"),
    (lambda: F.nll_loss(torch.zeros(2, 3, device="mlu"), torch.tensor([1, 3], device="mlu")), "out of bounds"),
    (lambda: torch.zeros(4, device="mlu").gather(0, torch.tensor([4], device="mlu")), "out of bounds"),
    (lambda: torch.zeros(4, device="mlu")[torch.tensor([-5], device="mlu")], "out of bounds"),
    (lambda: torch.zeros(4, device="mlu").index_add_(0, torch.tensor([9], device="mlu"),
                                                     torch.ones(1, device="mlu")), "out of bounds"),
    (lambda: torch.zeros(4, device="mlu").scatter_(0, torch.tensor([6], device="mlu"),
                                                   torch.ones(1, device="mlu")), "out of bounds"),
    (lambda: F.embedding_bag(torch.tensor([0, 1], device="mlu"), torch.ones(3, 2, device="mlu"),
                             torch.tensor([0, 5], device="mlu")), "offsets"),
], ids=["embedding", "nll_loss", "gather", "index", "index_add", "scatter", "embedding_bag"])
def test_data_that_indexes_out_of_range_fails_in_the_kernel(call, match):
    with raises_then_usable((RuntimeError, IndexError), match):
        call()
        torch.mlu.synchronize()


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
    (lambda: torch.ones(2, device="mlu:0") + torch.ones(2, device="mlu:1"), RuntimeError, "mlu:0.*mlu:1|mlu:1.*mlu:0"),
    (lambda: torch.ones(2, device="mlu") + torch.ones(2), RuntimeError, "cpu"),
    (lambda: torch.ones(2, 3, device="mlu") @ torch.ones(2, 3, device="mlu"), RuntimeError, "shape|size"),
    (lambda: torch.ones(2, device="mlu") + torch.ones(3, device="mlu"), RuntimeError, "size"),
    (lambda: torch.ones(2, device="mlu", dtype=torch.complex64), TypeError, "ComplexFloat"),
    (lambda: torch.ones(2, device="mlu").view(3), RuntimeError, "shape"),
    (lambda: torch.empty(-1, device="mlu"), RuntimeError, "negative"),
    (lambda: torch.ones(2, 2, device="mlu").sqrt_().to(torch.int32).sqrt_(), RuntimeError, "Float|result type"),
], ids=["two devices", "cpu tensor", "matmul shapes", "broadcast", "complex", "view", "negative size", "int sqrt_"])
def test_device_dtype_and_shape_errors(call, error, match):
    if "mlu:1" in str(call.__code__.co_consts) and torch.mlu.device_count() < 2:
        pytest.skip("needs two mlu devices (MLU_DEVICE_COUNT)")
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
