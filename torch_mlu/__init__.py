"""torch_mlu: the "mlu" device for PyTorch.

Importing this package (or plain ``import torch``, through PyTorch's backend autoload) renames
PyTorch's PrivateUse1 device to "mlu", loads the C++ backend and installs ``torch.mlu``.
"""

import atexit
import os


def _autoload():
    """Entry point of the ``torch.backends`` group: importing this module did the work.

    Defined before ``import torch``: when a script imports torch_mlu first, torch's autoload
    looks this up on the partially imported module."""


import torch  # noqa: E402

torch.utils.rename_privateuse1_backend("mlu")

from torch_mlu import _isa  # noqa: E402

_isa.load()  # the kernel library's variant for this CPU (or MLU_KERNELS_ISA's), before _C
from torch_mlu import _C  # noqa: E402  (the backend registers itself on load)
from torch_mlu import mlu  # noqa: E402

torch._register_device_module("mlu", mlu)
torch.is_mlu_available = mlu.is_available  # where OpenMMLab's mmengine asks (Cambricon's name)
atexit.register(mlu._synchronize_at_exit)
torch.utils.generate_methods_for_privateuse1_backend(
    for_tensor=True, for_module=True, for_packed_sequence=True, for_storage=True
)

from torch_mlu import _inductor  # noqa: E402
_inductor.install()  # torch.compile's default backend, Inductor, for mlu
if torch.distributed.is_available():  # torch.distributed's "cncl" backend for mlu tensors
    from torch_mlu import _cncl, _fsdp, _stores

    _cncl.register()
    _fsdp.install()  # FSDP2's copy operators on PyTorch 2.6
    _stores.install()  # TCP stores (torchrun's too) on PyTorch builds without libuv

__all__ = ["mlu"]

# Backward runs on the calling thread, as it does for CPU tensors, instead of on PyTorch's
# autograd thread per device: the device queues already run its kernels asynchronously, and handing
# every backward to another thread and back cost a small model's step more than its kernels
# (dlrm_small's backward: 380 -> 250 us of host time). TLS: the importing thread (the main one).
_backward_thread = os.environ.get("TORCH_MLU_BACKWARD_THREAD", "caller")
if _backward_thread not in ("caller", "device"):
    raise ValueError(
        f"TORCH_MLU_BACKWARD_THREAD must be caller or device, got {_backward_thread!r}"
    )
if _backward_thread == "caller":
    torch._C._set_multithreading_enabled(False)


# The GPU migration is opt-in: this variable, or `import torch_mlu.utils.gpu_migration`.
_migration = os.environ.get("TORCH_MLU_GPU_MIGRATION", "0")
if _migration not in ("", "0", "1", "strict"):
    raise ValueError(f"TORCH_MLU_GPU_MIGRATION must be 0, 1 or strict, got {_migration!r}")
if _migration not in ("", "0"):
    import torch_mlu.utils.gpu_migration  # noqa: E402,F401

# Shadow checking of a whole program against CPU: see torch_mlu/mlu/shadow.py.
mlu.shadow.enable_from_environment()
