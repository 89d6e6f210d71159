"""Devices: availability, selection, properties and lazy initialisation."""

import dataclasses
import os
import sys
import threading

import torch

from torch_mlu import _C

_init_lock = threading.Lock()


def _lazy_init():
    if _C._in_bad_fork():
        raise RuntimeError(
            "Cannot re-initialize MLU in forked subprocess. To use MLU with multiprocessing, "
            "use the 'spawn' or 'forkserver' start method"
        )
    if not _C._is_initialized():
        with _init_lock:
            _C._init()


def _synchronize_at_exit():
    """Registered with atexit: queued work finishes before the interpreter and the libraries its
    kernels use shut down, and a failure that no one synchronized is reported, not lost. The
    autograd engine's mlu threads finish freeing earlier backward passes' tensors too, which
    they could not do once the interpreter finalizes (csrc/module.cpp)."""
    if not _C._is_initialized():
        return
    settle = _autograd_device_threads_started()
    for index in range(_C._device_count()):
        try:
            _C._synchronize(index)
            if settle:
                _C._settle_autograd_threads(index)
        except RuntimeError as error:
            print(f"torch_mlu: at exit: {error}", file=sys.stderr)


def _autograd_device_threads_started():
    """Whether a backward pass has started the autograd engine's device threads (it names them
    pt_autograd_<index>). Without them there is nothing to settle at exit, and settling would
    start them. A thread still unnamed (PyTorch's Python engine names it only once it has held
    the GIL, after backward() may have returned) has run no backward work either."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:  # no procfs: settle, as if they ran
        return True
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                if comm.read().startswith("pt_autograd_"):
                    return True
        except OSError:  # the thread has ended
            continue
    return False


def _is_in_bad_fork():
    """True in a child forked after the parent initialised mlu (torch.manual_seed asks this)."""
    return _C._in_bad_fork()


def init():
    """Initialise the MLU driver now rather than on first use."""
    _lazy_init()


def is_initialized():
    return _C._is_initialized()


def is_available():
    return not _C._in_bad_fork() and _C._device_count() > 0


def device_count():
    return 0 if _C._in_bad_fork() else _C._device_count()


def _index(device):
    """Device index of an int, str, torch.device or None (the current device)."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    device = torch.device(device)
    if device.type != "mlu":
        raise ValueError(f"Expected an mlu device, but got: {device}")
    return current_device() if device.index is None else device.index


def current_device():
    _lazy_init()
    return _C._current_device()


def set_device(device):
    _lazy_init()
    _C._set_device(_index(device))


def synchronize(device=None):
    """Wait for all work queued on the device; raises failures of asynchronous work."""
    _lazy_init()
    _C._synchronize(_index(device))


@dataclasses.dataclass(frozen=True)
class DeviceProperties:
    name: str
    total_memory: int
    multi_processor_count: int
    major: int
    minor: int
    # False where the host cannot dereference device memory (hardware, MLU_STRICT_DEVICE_MEMORY=1)
    host_accessible: bool


def get_device_properties(device=None):
    _lazy_init()
    return DeviceProperties(*_C._device_properties(_index(device)))


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    props = get_device_properties(device)
    return props.major, props.minor


class device:
    """Context manager that makes ``device`` the current mlu device."""

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx != -1:
            self.prev_idx = current_device()
            if self.prev_idx != self.idx:
                set_device(self.idx)

    def __exit__(self, *exc):
        if self.idx != -1 and self.prev_idx != self.idx:
            set_device(self.prev_idx)
        return False
