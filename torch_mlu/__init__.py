"""torch_mlu: the "mlu" device for PyTorch.

Importing this package (or plain ``import torch``, through PyTorch's backend autoload) renames
PyTorch's PrivateUse1 device to "mlu", loads the C++ backend and installs ``torch.mlu``.
"""

import torch

torch.utils.rename_privateuse1_backend("mlu")

from torch_mlu import _C  # noqa: E402  (the backend registers itself on load)
from torch_mlu import mlu  # noqa: E402

torch._register_device_module("mlu", mlu)
torch.utils.generate_methods_for_privateuse1_backend(
    for_tensor=True, for_module=True, for_packed_sequence=True, for_storage=True
)

__all__ = ["mlu"]


def _autoload():
    """Entry point of the ``torch.backends`` group: importing this module did the work."""
