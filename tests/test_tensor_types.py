"""torch.mlu.FloatTensor & co.: the legacy typed-tensor names torch.cuda has, which libraries
still use (mmengine annotates with torch.mlu.BoolTensor) and call as constructors."""

import pytest
import torch

import torch_mlu  # noqa: F401


@pytest.mark.parametrize("name,dtype", [
    ("FloatTensor", torch.float32), ("DoubleTensor", torch.float64), ("HalfTensor", torch.float16),
    ("BFloat16Tensor", torch.bfloat16), ("ByteTensor", torch.uint8), ("CharTensor", torch.int8),
    ("ShortTensor", torch.int16), ("IntTensor", torch.int32), ("LongTensor", torch.int64),
    ("BoolTensor", torch.bool)])
def test_each_type_builds_mlu_tensors_of_its_dtype(name, dtype):
    cls = getattr(torch.mlu, name)
    assert cls.dtype == dtype and cls.__module__ == "torch.mlu"
    t = cls([1, 0, 1])
    assert t.device == torch.device("mlu", 0) and t.dtype == dtype
    torch.testing.assert_close(t.cpu(), torch.tensor([1, 0, 1], dtype=dtype))
    assert isinstance(t, cls)
    assert t.type() == f"torch.mlu.{name}"


def test_sizes_and_empty_calls_as_torch_cuda_has_them():
    assert torch.mlu.FloatTensor(2, 3).shape == (2, 3)
    assert torch.mlu.LongTensor().shape == (0,)
    assert torch.mlu.IntTensor(torch.Size([4])).shape == (4,)
    assert torch.mlu.FloatTensor([1.0], device="mlu:1").device == torch.device("mlu", 1)


def test_isinstance_asks_for_device_and_dtype():
    assert not isinstance(torch.ones(2), torch.mlu.FloatTensor)  # a CPU tensor
    assert not isinstance(torch.ones(2, device="mlu", dtype=torch.float64), torch.mlu.FloatTensor)
    assert not isinstance([1.0], torch.mlu.FloatTensor)
    assert isinstance(torch.ones(2, device="mlu"), torch.mlu.FloatTensor)


def test_a_cpu_device_is_refused_by_name():
    with pytest.raises(RuntimeError, match="torch.mlu.FloatTensor makes mlu tensors, not cpu"):
        torch.mlu.FloatTensor([1.0], device="cpu")


def test_reset_max_memory_allocated_resets_the_peak():
    big = torch.empty(1 << 20, device="mlu")
    del big
    assert torch.mlu.max_memory_allocated() >= 4 << 20
    torch.mlu.reset_max_memory_allocated()
    assert torch.mlu.max_memory_allocated() == torch.mlu.memory_allocated()
