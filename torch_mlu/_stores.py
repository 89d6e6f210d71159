"""torch.distributed's TCP stores on PyTorch builds without libuv (Debian's).

TCPStore asks for its libuv server by default, and a build without libuv refuses that request:
torchrun's rendezvous and agent create their stores without a ``use_libuv`` argument, and the
``env://`` rendezvous passes ``USE_LIBUV`` (default 1), so ``torchrun`` fails before any user code
runs. On such a build, torch.distributed.TCPStore becomes a subclass that uses the classic server
whatever ``use_libuv`` says; on builds with libuv nothing changes.
"""

import functools
import sys
from datetime import timedelta

import torch.distributed as dist

# The modules that bind the name TCPStore and create stores with it.
_USERS = ("torch.distributed", "torch.distributed.rendezvous",
          "torch.distributed.elastic.rendezvous.c10d_rendezvous_backend",
          "torch.distributed.elastic.rendezvous.static_tcp_rendezvous")
_ORIGINAL = dist.TCPStore


@functools.cache
def libuv_available():
    """Whether this PyTorch can serve a store with libuv (asked once, on an ephemeral port)."""
    try:
        _ORIGINAL("127.0.0.1", 0, world_size=1, is_master=True, timeout=timedelta(seconds=5),
                  wait_for_workers=False, use_libuv=True)
    except RuntimeError as e:
        if "libuv" in str(e):
            return False
        raise
    return True


class TCPStore(_ORIGINAL):
    __doc__ = _ORIGINAL.__doc__

    def __init__(self, *args, **kwargs):
        if len(args) < 9 and not libuv_available():  # use_libuv is the ninth parameter
            kwargs["use_libuv"] = False
        super().__init__(*args, **kwargs)


def install():
    """Puts the subclass where torch.distributed's modules look TCPStore up (they are imported
    with torch, or later by torchrun, which then finds the subclass in torch.distributed)."""
    for name in _USERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "TCPStore", None) is _ORIGINAL:
            module.TCPStore = TCPStore
