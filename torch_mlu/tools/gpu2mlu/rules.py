"""What gpu2mlu rewrites, and the hazards it reports, as data.

The torch.cuda -> torch.mlu names are the runtime migration's table, so the converter and
``torch_mlu.utils.gpu_migration`` agree on what has an MLU counterpart.
"""

import re

from torch_mlu.utils.migration.table import CUDA_TO_MLU
from torch_mlu.utils.migration.wrappers import MLU_COLLECTIVE_BACKEND

# torch.cuda.amp's classes become torch.amp's, which take the device first.
AMP_CLASSES = ("autocast", "GradScaler")
CUDA_AUTOCAST_PARAMETERS = ("enabled", "dtype", "cache_enabled")  # torch.cuda.amp.autocast's
GRAD_SCALERS = ("torch.amp.GradScaler", "torch.GradScaler", "torch.amp.grad_scaler.GradScaler")

_DEVICE = re.compile(r"cuda(?=$|:)")  # "cuda", "cuda:0", and templates "cuda:%d", "cuda:{}"
_BACKEND_LIST = re.compile(r"[\w:]+(,[\w:]+)*")  # "nccl", "cpu:gloo,cuda:nccl"
_ENVIRONMENT = {"CUDA_VISIBLE_DEVICES": "MLU_VISIBLE_DEVICES"}


def convert_literal(text):
    """The mlu counterpart of a string literal's text if it names a CUDA device, the NCCL
    backend or a CUDA environment variable; None for any other text."""
    if _DEVICE.match(text):
        return "mlu" + text[len("cuda"):]
    if _BACKEND_LIST.fullmatch(text) and re.search(r"\bnccl\b", text):
        return re.sub(r"\bcuda:", "mlu:", re.sub(r"\bnccl\b", MLU_COLLECTIVE_BACKEND, text))
    return _ENVIRONMENT.get(text)


def names_cuda(text):
    """True for a literal a script compares devices or backends with: "cuda...", "nccl"."""
    return bool(_DEVICE.match(text)) or text == "nccl"


# Imports of these fail, or run CUDA code, on an MLU machine.
CUDA_ONLY_LIBRARIES = {
    "apex": "NVIDIA apex (amp, fused optimizers and layers) is CUDA-only: use torch.amp, "
            "torch.optim and torch.nn",
    "flash_attn": "FlashAttention is CUDA kernels: use "
                  "torch.nn.functional.scaled_dot_product_attention",
    "xformers": "xformers' attention is CUDA kernels: use "
                "torch.nn.functional.scaled_dot_product_attention",
    "bitsandbytes": "bitsandbytes' quantized optimizers and layers are CUDA kernels",
    "cupy": "CuPy arrays live in CUDA memory: use torch tensors on mlu",
    "pynvml": "NVML queries NVIDIA drivers: use torch.mlu's device and memory APIs",
    "pycuda": "PyCUDA drives the CUDA runtime directly",
    "tensorrt": "TensorRT is NVIDIA's inference engine",
    "triton": "Triton kernels compile for NVIDIA and AMD GPUs; there is no Triton backend "
              "for mlu: keep the PyTorch reference implementation",
}

# torch.cuda.graphs.<name>: gpu2mlu converts torch.cuda.<name> (the same objects) only.
CUDA_GRAPH_APIS = ("graphs",)
CAPABILITY_APIS = ("torch.cuda.get_device_capability", "torch.cuda.get_arch_list")
ARCH_STRING = re.compile(r"\b(sm|compute)_\d+|TORCH_CUDA_ARCH_LIST")

WHY = {
    "CUDA source": "CUDA C++ kernels: port them to the MLU (BANG C) or express them with "
                   "PyTorch operators; gpu2mlu copies them unchanged",
    "CUDA extension": "builds CUDA code with nvcc (CUDAExtension, cuda_sources): port the "
                      "kernels and build a CppExtension",
    "Triton kernel": CUDA_ONLY_LIBRARIES["triton"],
    "device comparison": "compares with a CUDA device or backend name: gpu2mlu rewrites the "
                         "literal, but the other side may come from outside the code "
                         "(arguments, configs, checkpoints) and still say cuda/nccl; under "
                         "runtime migration tensors report 'mlu', so == 'cuda' is False",
    "CUDA graphs": "torch.cuda.graphs.<name> is left unchanged: write torch.cuda.<name>, which "
                   "gpu2mlu converts to torch.mlu's graph capture and replay",
    "capability check": "NVIDIA compute capabilities (sm_XX) do not carry over: "
                        "torch.mlu.get_device_capability reports the MLU's own version",
    "no MLU counterpart": "left unchanged: torch.mlu has no counterpart",
    "unparsable": "not valid Python for libcst: copied unchanged",
}
