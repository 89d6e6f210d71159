"""torch.mlu.FloatTensor and its siblings, the legacy typed-tensor names torch.cuda has.

Libraries still spell types this way (mmengine's structures annotate with torch.mlu.BoolTensor at
import). Calling one builds an mlu tensor by Tensor.new's rules (sizes, a sequence, or nothing);
isinstance() asks for an mlu tensor of that dtype, as torch.cuda's types do."""

import torch

from .device import current_device


class _TensorTypeMeta(type):
    def __instancecheck__(cls, obj):
        return (isinstance(obj, torch.Tensor) and obj.device.type == "mlu"
                and obj.dtype == cls.dtype and obj.layout == torch.strided)


class _TensorType(metaclass=_TensorTypeMeta):
    dtype = None
    is_mlu = True
    is_sparse = False

    def __new__(cls, *args, device=None):
        device = torch.device("mlu", current_device()) if device is None else torch.device(device)
        if device.type != "mlu":
            raise RuntimeError(f"{cls.__module__}.{cls.__name__} makes mlu tensors, not {device.type} ones")
        return torch.empty(0, dtype=cls.dtype, device=device).new(*args)


def _define(name, dtype):
    return _TensorTypeMeta(name, (_TensorType,), {"dtype": dtype, "__module__": "torch.mlu"})


FloatTensor = _define("FloatTensor", torch.float32)
DoubleTensor = _define("DoubleTensor", torch.float64)
HalfTensor = _define("HalfTensor", torch.float16)
BFloat16Tensor = _define("BFloat16Tensor", torch.bfloat16)
ByteTensor = _define("ByteTensor", torch.uint8)
CharTensor = _define("CharTensor", torch.int8)
ShortTensor = _define("ShortTensor", torch.int16)
IntTensor = _define("IntTensor", torch.int32)
LongTensor = _define("LongTensor", torch.int64)
BoolTensor = _define("BoolTensor", torch.bool)
