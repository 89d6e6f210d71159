"""Tied parameters survive Module.to("mlu") and the way back.

PyTorch moves a module's parameters in place (`param.data = converted`) only between device types
it treats as layout-compatible (CPU, CUDA and a few others); PrivateUse1 is not one of them, so
Module.to would create a new Parameter per use and untie shared weights (a GPT's tied embedding
would train as two tensors). Swapping tensor contents keeps every Parameter object, so for the
duration of a conversion that crosses the mlu boundary PyTorch's swap-on-conversion mode is on.
Only Module.to, Module.cpu and Module.mlu are wrapped; other conversions are untouched.
"""

import contextlib
import functools
import itertools
import threading

import torch

_lock = threading.Lock()


@contextlib.contextmanager
def _swapping():
    with _lock:
        previous = torch.__future__.get_swap_module_params_on_conversion()
        torch.__future__.set_swap_module_params_on_conversion(True)
        try:
            yield
        finally:
            torch.__future__.set_swap_module_params_on_conversion(previous)


def _crosses_mlu(module, device):
    if device is None:
        return False
    target = torch.device(device).type
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        if tensor.device.type != target and "mlu" in (target, tensor.device.type):
            return True
    return False


def _wrap(method, target_device):
    @functools.wraps(method)
    def convert(self, *args, **kwargs):
        if _crosses_mlu(self, target_device(*args, **kwargs)):
            with _swapping():
                return method(self, *args, **kwargs)
        return method(self, *args, **kwargs)

    return convert


def install():
    module = torch.nn.Module
    module.to = _wrap(module.to, lambda *a, **k: torch._C._nn._parse_to(*a, **k)[0])
    module.cpu = _wrap(module.cpu, lambda *a, **k: "cpu")
    module.mlu = _wrap(module.mlu, lambda device=None, *a, **k: "mlu")
