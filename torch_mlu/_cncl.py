"""The "cncl" collective backend: torch.distributed for mlu tensors.

The backend is C++ (csrc/cncl.cpp, a c10d Backend): collectives on mlu tensors are enqueued on a
communication stream behind the caller's queued work and return at once; ``work.wait()`` orders
the current stream after them. On the software MLU they run through gloo on the operands' memory
in place (CNCL's place on hardware). In a profiler trace each is a ``cncl:<collective>`` kernel
activity on the communication stream.

``dist.init_process_group("cncl")`` (CPU tensors included), ``init_process_group()`` with an mlu
``device_id`` or on a machine whose accelerator is mlu, and ``"cpu:gloo,mlu:cncl"`` use it; with
the GPU migration, "nccl" means "cncl".
"""

import os
import socket

import torch
import torch.distributed as dist

from torch_mlu import _C

NAME = "cncl"
_TORCH_VERSION = tuple(int(x) for x in torch.__version__.split(".")[:2])


def _address_towards(host):
    """This machine's address on the route to `host` (None when there is none)."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, 9, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(address)  # sends nothing: only asks for the route
            return probe.getsockname()[0]
    except OSError:
        return None


def _transport_options(timeout):
    """gloo listens where the master's address is reached from, unless GLOO_SOCKET_IFNAME says
    otherwise: by default it takes the address of the host's name, which Debian's /etc/hosts
    maps to loopback, where no other node can connect."""
    options = dist.ProcessGroupGloo._Options()
    options._timeout = timeout
    options._threads = 2
    master = os.environ.get("MASTER_ADDR")
    local = _address_towards(master) if master and "GLOO_SOCKET_IFNAME" not in os.environ else None
    options._devices = [dist.ProcessGroupGloo.create_device(hostname=local) if local
                        else dist.ProcessGroupGloo.create_default_device()]
    return options


def _create(store, rank, size, timeout):
    _C._define_cncl_backend()
    # gloo has a store prefix of its own: a "cpu:gloo" backend of the same group shares `store`.
    transport = dist.ProcessGroupGloo(dist.PrefixStore(f"{NAME}/", store), rank, size,
                                      _transport_options(timeout))
    return _C.CnclBackend(transport, dist.PrefixStore(f"{NAME}-faults/", store), rank, size)


def _accept_mlu_device_id(init_process_group):
    """PyTorch before 2.7 takes only a CUDA ``device_id``: for an mlu one, the group is made
    without it, then bound to the device as later versions do."""

    def wrapper(backend=None, *args, device_id=None, **kwargs):
        if not (isinstance(device_id, torch.device) and device_id.type == "mlu"):
            return init_process_group(backend, *args, device_id=device_id, **kwargs)
        if device_id.index is None:
            raise ValueError("init_process_group: device_id must have an index, e.g. mlu:0")
        init_process_group(backend or NAME, *args, **kwargs)  # the device's backend, as later
        dist.distributed_c10d._get_default_group().bound_device_id = device_id

    wrapper.__wrapped__ = init_process_group
    wrapper.__doc__ = init_process_group.__doc__
    return wrapper


def register():
    if NAME in dist.Backend.backend_list:
        return
    # CPU tensors too, for init_process_group("cncl"); the default CPU backend stays gloo.
    cpu_default = dist.Backend.default_device_backend_map.get("cpu")
    dist.Backend.register_backend(NAME, _create, devices=["cpu", "mlu"])
    if cpu_default is not None:
        dist.Backend.default_device_backend_map["cpu"] = cpu_default
    # A gloo group answers barrier(device_ids=[i]) on an MLU machine as on a CUDA one (accelerate's
    # wait_for_everyone passes them, and PyTorch >= 2.8 then asks the group for an mlu backend).
    # gloo itself refuses mlu tensors in collectives, naming the device type.
    gloo_devices = dist.Backend.backend_capability[dist.Backend.GLOO]
    if "mlu" not in gloo_devices:
        gloo_devices.append("mlu")
    if _TORCH_VERSION < (2, 7):
        dist.init_process_group = _accept_mlu_device_id(dist.init_process_group)
        dist.distributed_c10d.init_process_group = dist.init_process_group
