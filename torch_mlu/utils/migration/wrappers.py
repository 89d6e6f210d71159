"""Builders of the replacements in table.py.

Each builder takes (original, ledger, api): the attribute being replaced, the Ledger to record
in and the API's name for the report, and returns what goes in the original's place.
"""

import functools
import re

import torch

from .devices import cuda_to_mlu, mlu_device
from .ledger import called_from_library

# Cambricon's collective library, what "nccl" maps to (torch_mlu/_cncl.py registers it).
MLU_COLLECTIVE_BACKEND = "cncl"


def _proxy_type(target, call):
    """A stand-in for the class ``target``: calling it runs ``call``, and isinstance,
    issubclass and class attributes answer as ``target`` does."""

    class _Proxy(type):
        def __call__(cls, *args, **kwargs):
            return call(*args, **kwargs)

        def __instancecheck__(cls, obj):
            return isinstance(obj, target)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, target)

        def __getattr__(cls, name):
            return getattr(target, name)

    return _Proxy(target.__name__, (), {"__doc__": target.__doc__, "__module__": target.__module__})


def _replace_argument(args, kwargs, position, keyword, translate):
    """(args, kwargs) with the argument at ``position`` or named ``keyword`` translated."""
    if position is not None and len(args) > position:
        args = (*args[:position], translate(args[position]), *args[position + 1:])
    if keyword in kwargs:
        kwargs[keyword] = translate(kwargs[keyword])
    return args, kwargs


def _wrap_callable(original, call):
    if isinstance(original, type):
        return _proxy_type(original, call)
    return functools.wraps(original)(call)


def to_mlu(mlu_name):
    """torch.cuda.<name> -> torch.mlu.<mlu_name>, with CUDA device arguments translated."""

    def build(original, ledger, api):
        target = getattr(torch.mlu, mlu_name)
        if not callable(target):  # e.g. default_generators
            return target

        def migrated(*args, **kwargs):
            ledger.record(api, f"-> torch.mlu.{mlu_name}")
            return target(*map(cuda_to_mlu, args),
                          **{key: cuda_to_mlu(value) for key, value in kwargs.items()})

        return _wrap_callable(target, migrated)

    return build


def answer(function, why):
    """torch.cuda.<name> answered by ``function`` for mlu, which torch.mlu has no function for."""

    def build(original, ledger, api):
        def migrated(*args, **kwargs):
            ledger.record(api, f"-> {why}")
            return function(*args, **kwargs)

        return functools.wraps(original)(migrated)

    return build


def cuda_only(original, ledger, api):
    """A CUDA API without an MLU counterpart: a warning (strict: an error), then the original."""

    def guarded(*args, **kwargs):
        ledger.cuda_only(api)
        return original(*args, **kwargs)

    return _wrap_callable(original, guarded)


def device_argument(position=None, keyword="device"):
    """Translates a CUDA device passed at ``position`` (counting self for methods) or as
    ``keyword``."""

    def build(original, ledger, api):
        def translate(value):
            translated = cuda_to_mlu(value)
            if translated is not value:
                ledger.record(api, f"{value} -> {translated}")
            return translated

        def migrated(*args, **kwargs):
            args, kwargs = _replace_argument(args, kwargs, position, keyword, translate)
            return original(*args, **kwargs)

        return _wrap_callable(original, migrated)

    return build


def grad_scaler_init(original, ledger, api):
    """GradScaler's device defaults to "cuda", so an omitted device means mlu too."""

    @functools.wraps(original)
    def __init__(self, device="cuda", *args, **kwargs):
        translated = cuda_to_mlu(device)
        if translated != device:
            ledger.record(api, f"{device} -> {translated}")
        original(self, translated, *args, **kwargs)

    return __init__


def tensor_cuda(original, ledger, api):
    @functools.wraps(original)
    def cuda(self, device=None, non_blocking=False, memory_format=torch.preserve_format):
        target = mlu_device(device)
        ledger.record(api, f"-> {target}")
        return torch._C.TensorBase.to(self, target, non_blocking=non_blocking,
                                      memory_format=memory_format)

    return cuda


def module_cuda(original, ledger, api):
    @functools.wraps(original)
    def cuda(self, device=None):
        target = mlu_device(device)
        ledger.record(api, f"-> {target}")
        return self.to(target)

    return cuda


def storage_cuda(original, ledger, api):
    """Storage.cuda, as in the ``map_location=lambda storage, loc: storage.cuda()`` idiom."""

    @functools.wraps(original)
    def cuda(self, device=None, non_blocking=False):
        target = mlu_device(device)
        ledger.record(api, f"-> {target}")
        return self.mlu(target, non_blocking)

    return cuda


def is_cuda_property(original, ledger, api):
    """Tensor.is_cuda is True for mlu tensors when the script asks; PyTorch's own code keeps
    the true answer, so it never takes CUDA-only paths for mlu tensors."""

    def is_cuda(self):
        if original.__get__(self):
            return True
        if self.device.type != "mlu" or called_from_library():
            return False
        ledger.record(api, "True for an mlu tensor")
        return True

    return property(is_cuda, doc=original.__doc__)


def load(original, ledger, api):
    """torch.load with CUDA map_locations translated, and storages saved on CUDA (a checkpoint
    from a GPU machine) placed on mlu when no map_location is given."""

    def recording_restore(storage, location):
        translated = cuda_to_mlu(location)
        if translated != location:
            ledger.record(api, f"storage saved on {location} -> {translated}")
        return torch.serialization.default_restore_location(storage, translated)

    def translate(map_location):
        if map_location is None:
            return recording_restore
        if isinstance(map_location, dict):
            # keys name where storages were saved (cuda on a GPU machine, mlu under migration)
            values = {key: cuda_to_mlu(value) for key, value in map_location.items()}
            return {**{cuda_to_mlu(key): value for key, value in values.items()}, **values}
        return cuda_to_mlu(map_location)

    @functools.wraps(original)
    def migrated(f, map_location=None, *args, **kwargs):
        translated = translate(map_location)
        if map_location is not None and translated != map_location:
            ledger.record(api, f"map_location {map_location} -> {translated}")
        return original(f, translated, *args, **kwargs)

    return migrated


def collective_backend(position=None, keyword="backend"):
    """Maps "nccl" (also in "cpu:gloo,cuda:nccl") to the mlu collective backend."""

    def translate(backend):
        return re.sub(r"\bcuda:", "mlu:", re.sub(r"\bnccl\b", MLU_COLLECTIVE_BACKEND, backend))

    def build(original, ledger, api):
        def checked(value):
            if not isinstance(value, str):
                return value
            mapped = translate(value)
            if mapped != value:
                ledger.record(api, f"backend {value} -> {mapped}")
            return mapped

        @functools.wraps(original)
        def migrated(*args, **kwargs):
            args, kwargs = _replace_argument(args, kwargs, position, keyword, checked)
            return original(*args, **kwargs)

        return migrated

    return build


def nccl_available(original, ledger, api):
    @functools.wraps(original)
    def is_nccl_available():
        ledger.record(api, f"-> is '{MLU_COLLECTIVE_BACKEND}' registered")
        return MLU_COLLECTIVE_BACKEND in torch.distributed.Backend.backend_list

    return is_nccl_available
