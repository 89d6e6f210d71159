"""CUDA device arguments and their mlu counterparts."""

import re

import torch

_CUDA_DEVICE = re.compile(r"cuda(:\d+)?")


def cuda_to_mlu(value):
    """The mlu counterpart of a CUDA device given as a string or torch.device; other values
    (mlu or cpu devices, dtypes, tensors, None) are returned as they are."""
    if isinstance(value, torch.device) and value.type == "cuda":
        return torch.device("mlu") if value.index is None else torch.device("mlu", value.index)
    if isinstance(value, str) and _CUDA_DEVICE.fullmatch(value):
        return "mlu" + value[len("cuda"):]
    return value


def mlu_device(device):
    """The mlu device that ``.cuda(device)`` means: the current one for None, an ordinal for an
    int, else the translation of a CUDA device."""
    if device is None:
        return torch.device("mlu", torch.mlu.current_device())
    if isinstance(device, int):
        return torch.device("mlu", device)
    translated = torch.device(cuda_to_mlu(device))
    if translated.type != "mlu":
        raise ValueError(f"Invalid device, must be cuda device: {device}")
    return translated

