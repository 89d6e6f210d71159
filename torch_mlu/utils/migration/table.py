"""Everything the GPU migration patches, in one table (docs/migration.md explains each row).

A row replaces one attribute (``target``, a dotted path from ``torch``) while the migration is
active; leaving the migration puts every original back.
"""

import dataclasses
import inspect
from typing import Callable

import torch

from . import wrappers

# torch.cuda.<name> -> torch.mlu.<name>: the same API, answered by the mlu backend.
CUDA_TO_MLU = {name: name for name in (
    "is_available", "is_initialized", "init", "device_count", "current_device", "set_device",
    "device", "synchronize", "get_device_name", "get_device_properties",
    "get_device_capability", "Stream", "Event", "StreamContext", "stream", "current_stream",
    "default_stream", "set_stream", "memory_allocated", "max_memory_allocated",
    "memory_reserved", "max_memory_reserved", "memory_stats", "memory_summary",
    "reset_peak_memory_stats", "reset_accumulated_memory_stats", "empty_cache", "mem_get_info",
    "set_per_process_memory_fraction", "manual_seed", "manual_seed_all", "seed", "seed_all",
    "initial_seed", "get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all",
    "default_generators",
)}
# CUDA's deprecated names for the same statistics.
CUDA_TO_MLU.update(memory_cached="memory_reserved", max_memory_cached="max_memory_reserved",
                   reset_max_memory_allocated="reset_peak_memory_stats",
                   reset_max_memory_cached="reset_peak_memory_stats")

# Graph capture and replay: torch.mlu's, also under torch.cuda.graphs.
CUDA_GRAPHS = {"CUDAGraph": "MLUGraph", **{name: name for name in (
    "graph", "graph_pool_handle", "make_graphed_callables", "is_current_stream_capturing")}}
CUDA_TO_MLU.update(CUDA_GRAPHS)

# torch.cuda functions torch.mlu has no function for, answered by the migration.
CUDA_ANSWERS = {
    "is_bf16_supported": (lambda including_emulation=True: True,
                          "True: mlu computes bfloat16"),
}

# Public functions and classes of these namespaces that are in none of the tables are CUDA-only:
# calling one warns (strict mode: raises MigrationError), then runs the CUDA original.
CUDA_ONLY_NAMESPACES = ("torch.cuda", "torch.cuda.amp", "torch.cuda.graphs", "torch.cuda.nvtx")
# Not CUDA-only: their torch.amp base classes translate the device (rows below).
CUDA_KEPT = ("torch.cuda.amp.autocast", "torch.cuda.amp.GradScaler")

# Factory functions whose ``device`` keyword may name a CUDA device.
FACTORIES = (
    "tensor", "as_tensor", "asarray", "scalar_tensor", "empty", "empty_like", "empty_strided",
    "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "eye", "arange", "range",
    "linspace", "logspace", "rand", "rand_like", "randn", "randn_like", "randint",
    "randint_like", "randperm", "normal", "tril_indices", "triu_indices", "sparse_coo_tensor",
    "hann_window", "hamming_window", "bartlett_window", "blackman_window", "kaiser_window",
)
TENSOR_FACTORIES = ("new_tensor", "new_empty", "new_zeros", "new_ones", "new_full")


@dataclasses.dataclass(frozen=True)
class Patch:
    target: str  # dotted path of the attribute replaced, from the torch module
    build: Callable  # (original, ledger, api) -> replacement; see wrappers.py
    why: str


PATCHES = (
    *(Patch(f"torch.{name}", wrappers.device_argument(),
            "device='cuda' -> 'mlu'") for name in FACTORIES if hasattr(torch, name)),
    *(Patch(f"torch.Tensor.{name}", wrappers.device_argument(),
            "device='cuda' -> 'mlu'") for name in TENSOR_FACTORIES),
    Patch("torch.Tensor.to", wrappers.device_argument(position=1), "cuda devices -> mlu"),
    Patch("torch.Tensor.cuda", wrappers.tensor_cuda, "moves to mlu (ordinal, or current device)"),
    Patch("torch.Tensor.is_cuda", wrappers.is_cuda_property,
          "True for mlu tensors when the script asks (PyTorch's own code sees False)"),
    Patch("torch.Tensor.pin_memory", wrappers.device_argument(position=1),
          "pins for mlu when given device 'cuda'"),
    Patch("torch.Tensor.is_pinned", wrappers.device_argument(position=1),
          "asks about mlu when given device 'cuda'"),
    Patch("torch.nn.Module.to", wrappers.device_argument(position=1), "cuda devices -> mlu"),
    Patch("torch.nn.Module.cuda", wrappers.module_cuda, "moves to mlu"),
    Patch("torch.storage._StorageBase.cuda", wrappers.storage_cuda, "moves to mlu"),
    Patch("torch.storage.TypedStorage.cuda", wrappers.storage_cuda, "moves to mlu"),
    Patch("torch.load", wrappers.load,
          "map_location cuda -> mlu; storages saved on CUDA load on mlu"),
    Patch("torch.Generator", wrappers.device_argument(position=0),
          "Generator(device='cuda') makes an mlu generator; isinstance still works"),
    Patch("torch.set_default_device", wrappers.device_argument(position=0), "cuda -> mlu"),
    Patch("torch.amp.autocast_mode.autocast.__init__",
          wrappers.device_argument(position=1, keyword="device_type"),
          "device_type 'cuda' -> 'mlu' (torch.autocast, torch.amp.autocast, "
          "torch.cuda.amp.autocast)"),
    Patch("torch.amp.GradScaler.__init__", wrappers.grad_scaler_init,
          "device 'cuda' (the default) -> 'mlu' (torch.amp.GradScaler, "
          "torch.cuda.amp.GradScaler)"),
    Patch("torch.utils.data.DataLoader.__init__",
          wrappers.device_argument(keyword="pin_memory_device"),
          "pin_memory_device 'cuda' -> 'mlu'"),
    *((Patch("torch.distributed.init_process_group", wrappers.collective_backend(position=0),
             "backend 'nccl' -> the mlu collective backend, or a clear error while none exists"),
       Patch("torch.distributed.new_group", wrappers.collective_backend(position=2),
             "backend 'nccl' -> the mlu collective backend, or a clear error while none exists"),
       Patch("torch.distributed.is_nccl_available", wrappers.nccl_available,
             "whether the mlu collective backend is registered"))
      if torch.distributed.is_available() else ()),
    *(Patch(f"torch.cuda.{name}", wrappers.to_mlu(mlu_name), f"-> torch.mlu.{mlu_name}")
      for name, mlu_name in CUDA_TO_MLU.items()),
    *(Patch(f"torch.cuda.graphs.{name}", wrappers.to_mlu(mlu_name), f"-> torch.mlu.{mlu_name}")
      for name, mlu_name in CUDA_GRAPHS.items()),
    *(Patch(f"torch.cuda.{name}", wrappers.answer(function, why), why)
      for name, (function, why) in CUDA_ANSWERS.items()),
)


def _is_cuda_only_api(namespace, name):
    value = getattr(namespace, name)
    if name.startswith("_") or inspect.ismodule(value) or not callable(value):
        return False
    if isinstance(value, type) and issubclass(value, BaseException):
        return False  # e.g. torch.cuda.OutOfMemoryError is torch.OutOfMemoryError, raised by mlu
    return (getattr(value, "__module__", None) or "").startswith("torch.cuda")


def cuda_only_patches():
    """Rows for the public CUDA APIs of CUDA_ONLY_NAMESPACES that no other row covers."""
    covered = {patch.target for patch in PATCHES} | set(CUDA_KEPT)
    rows = []
    for path in CUDA_ONLY_NAMESPACES:
        namespace = torch
        for part in path.split(".")[1:]:
            namespace = getattr(namespace, part)
        rows += [Patch(f"{path}.{name}", wrappers.cuda_only, "CUDA-only: warns (strict: raises)")
                 for name in dir(namespace)
                 if f"{path}.{name}" not in covered and _is_cuda_only_api(namespace, name)]
    return rows
