"""FSDP2's copy operators (``fsdp::all_gather_copy_in``, ``split_with_sizes_copy``, ``chunk_cat``)
on mlu for PyTorch 2.6, which registers them for CUDA and CPU only (later versions add
PrivateUse1). Registered before FSDP defines them, so that importing torch_mlu does not import
FSDP; each runs FSDP's own device-generic implementation.

They are registered at the autograd key and run below autograd, as on PyTorch 2.14: the copies
into the unsharded parameters must not count as in-place changes of tensors that autograd saved
(the generic autograd fallback would bump their version counters, and backward would refuse)."""

import importlib

import torch

_COPY_OPERATORS = {
    "all_gather_copy_in": "all_gather_copy_in_cuda",
    "split_with_sizes_copy": "split_with_sizes_copy",
    "chunk_cat": "chunk_cat",
}
_library = None


def _fsdp_implementation(name):
    def kernel(*args, **kwargs):
        module = importlib.import_module("torch.distributed.fsdp._fully_shard._fsdp_collectives")
        with torch._C._AutoDispatchBelowADInplaceOrView():
            return getattr(module, name)(*args, **kwargs)

    return kernel


def install():
    global _library
    if _library is not None or tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 7):
        return
    _library = torch.library.Library("fsdp", "FRAGMENT")  # noqa: TOR901
    for operator, implementation in _COPY_OPERATORS.items():
        for key in ("AutogradPrivateUse1", "PrivateUse1"):  # the latter below autograd
            _library.impl(operator, _fsdp_implementation(implementation), key)
