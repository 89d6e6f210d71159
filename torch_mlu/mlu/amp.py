"""Automatic mixed precision on mlu: torch.mlu.amp.autocast and torch.mlu.amp.GradScaler behave
exactly like torch.amp.autocast("mlu") and torch.amp.GradScaler("mlu")."""

import functools

import torch


def get_amp_supported_dtype():
    """The lower-precision dtypes autocast may use on mlu."""
    return [torch.float16, torch.bfloat16]


def is_bf16_supported(including_emulation=True):
    return True


class autocast(torch.amp.autocast):
    """torch.amp.autocast with device_type "mlu"."""

    def __init__(self, enabled=True, dtype=torch.float16, cache_enabled=True):
        super().__init__("mlu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(torch.amp.GradScaler):
    """torch.amp.GradScaler with device "mlu"."""

    @functools.wraps(torch.amp.GradScaler.__init__)
    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        super().__init__("mlu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
