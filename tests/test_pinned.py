"""Pinned host memory and non_blocking copies between it and mlu."""

import warnings

import pytest
import torch


def test_pin_memory_returns_pinned_copy():
    x = torch.randn(64, 32)
    assert not x.is_pinned()
    p = x.pin_memory()
    assert p.is_pinned()
    assert p.device.type == "cpu"
    assert p.data_ptr() != x.data_ptr()
    assert torch.equal(p, x)
    assert p.pin_memory().data_ptr() == p.data_ptr()      # already pinned: no new copy


def test_pinning_for_mlu_with_deprecated_device_argument():
    # torch 2.6 deprecates the device argument of pin_memory/is_pinned but still honours it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.zeros(1).is_pinned(device="mlu")
    except TypeError:
        pytest.skip("this torch no longer has the device argument")
    with pytest.warns(DeprecationWarning):
        p = torch.arange(10).pin_memory(device="mlu")
    assert p.is_pinned()
    with pytest.warns(DeprecationWarning):
        assert p.is_pinned(device="mlu")
        assert not torch.arange(3).is_pinned(device="mlu")


def test_empty_pinned_factory():
    p = torch.empty(128, pin_memory=True)
    assert p.is_pinned()
    p.fill_(3)
    assert p.sum().item() == 384.0


def test_non_blocking_host_to_device_from_pinned():
    src = torch.randn(1 << 16).pin_memory()
    expected = src.clone()
    dev = src.to("mlu", non_blocking=True)
    torch.mlu.synchronize()
    assert torch.equal(dev.cpu(), expected)
    dst = torch.empty(1 << 16, device="mlu:1")
    dst.copy_(src, non_blocking=True)
    torch.mlu.synchronize(1)
    assert torch.equal(dst.cpu(), expected)


def test_non_blocking_device_to_pinned_host():
    data = torch.randn(1 << 16)
    dev = data.to("mlu")
    host = torch.empty(1 << 16).pin_memory()
    host.copy_(dev, non_blocking=True)
    torch.mlu.synchronize()
    assert torch.equal(host, data)
    out = dev.to("cpu", non_blocking=True)
    torch.mlu.synchronize()
    assert torch.equal(out, data)


def test_non_blocking_with_dtype_change_and_views():
    src = torch.arange(24, dtype=torch.int32).view(4, 6).pin_memory()
    dev = src.t().to("mlu", dtype=torch.float32, non_blocking=True)
    torch.mlu.synchronize()
    assert torch.equal(dev.cpu(), src.t().float())
    host = torch.zeros(6, 4, dtype=torch.float64).pin_memory()
    host.copy_(dev, non_blocking=True)
    torch.mlu.synchronize()
    assert torch.equal(host, src.t().double())


def test_pinned_buffer_reused_after_sync_is_safe():
    buf = torch.empty(1024).pin_memory()
    results = []
    for value in range(4):
        buf.fill_(float(value))
        results.append(buf.to("mlu", non_blocking=True))
        torch.mlu.current_stream().synchronize()
    for value, dev in enumerate(results):
        assert torch.equal(dev.cpu(), torch.full((1024,), float(value)))


def test_freeing_pinned_source_while_copy_is_queued():
    dev = torch.empty(1 << 18, device="mlu")
    src = torch.full((1 << 18,), 7.0).pin_memory()
    dev.copy_(src, non_blocking=True)
    del src                                      # the block waits for the copy
    torch.mlu.synchronize()
    assert torch.equal(dev.cpu(), torch.full((1 << 18,), 7.0))


def test_non_blocking_from_pageable_memory_is_still_correct():
    src = torch.randn(5000)
    dev = src.to("mlu", non_blocking=True)
    back = dev.to("cpu", non_blocking=True)
    torch.mlu.synchronize()
    assert torch.equal(back, src)
