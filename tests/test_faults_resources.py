"""Fault injection: pinned memory and garbage in every environment variable (a collective whose
peer dies: tests/test_distributed_faults.py)."""


import pytest
import torch

from conftest import run_python
from reliability_support import leaves_device_usable


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_a_long_lived_pinned_buffer_does_not_grow_per_copy():
    with leaves_device_usable():
        pinned = torch.ones(256).pin_memory()
        target = torch.empty(256, device="mlu")

        def copies(n):
            for i in range(n):
                target.copy_(pinned, non_blocking=True)
                if i % 500 == 499:  # how many copies wait in the queue is the scheduler's choice
                    torch.mlu.synchronize()
            torch.mlu.synchronize()

        copies(2000)  # warm up the allocator and the notifiers
        before = resident_bytes()
        copies(60000)
        grown = resident_bytes() - before
        # One notifier per copy grew 170 bytes a copy (10 MB here); now one per stream. The
        # allowance is two of the heap's huge pages.
        assert grown < 4 << 20, f"resident memory grew {grown} bytes over 60000 copies"
        assert target.sum().item() == 256
        del pinned, target


def test_freeing_pinned_memory_with_a_failure_pending():
    # Freeing waited for the copy's notifier and raised the pending failure from the deleter:
    # that aborted the process. It neither blocks nor raises now.
    result = run_python("""
        import torch
        pinned = torch.arange(1000.0).pin_memory()
        on_device = pinned.to("mlu", non_blocking=True)
        torch.zeros(3, device="mlu").index_select(0, torch.tensor([5], device="mlu"))
        del pinned
        try:
            torch.mlu.synchronize()
        except RuntimeError as e:
            print("raised:", "index_select" in str(e))
        print("copied:", on_device.sum().item())
    """)
    assert result.returncode == 0, result
    assert "raised: True" in result.stdout and "copied: 499500.0" in result.stdout


def test_pinned_memory_freed_before_its_copies_finish_keeps_their_data():
    with leaves_device_usable():
        results = []
        for i in range(20):
            pinned = torch.full((1 << 16,), float(i)).pin_memory()
            x = torch.randn(256, 256, device="mlu")
            for _ in range(3):
                x = x @ x  # the copy below queues behind this
            results.append(pinned.to("mlu", non_blocking=True))
            del pinned  # freed while its copy is still queued
        assert [r[-1].item() for r in results] == [float(i) for i in range(20)]
        back = torch.empty(1 << 16).pin_memory()
        back.copy_(results[-1], non_blocking=True)
        torch.mlu.synchronize()
        assert back[0].item() == 19.0
        del results, x, back


@pytest.mark.parametrize("variable, value, error", [
    ("MLU_DEVICE_COUNT", "200", "MLU_DEVICE_COUNT must be an integer from 0 to 64, got '200'"),
    ("MLU_DEVICE_COUNT", "two", "MLU_DEVICE_COUNT must be an integer"),
    ("MLU_DEVICE_MEMORY", "lots", "MLU_DEVICE_MEMORY must be a size"),
    ("MLU_DEVICE_MEMORY", "-1G", "MLU_DEVICE_MEMORY must be a size"),
    ("MLU_KERNEL_THREADS", "0", "MLU_KERNEL_THREADS must be an integer from 1 to 1024, got '0'"),
    ("MLU_KERNEL_THREADS", "4x", "MLU_KERNEL_THREADS must be an integer"),
    ("MLU_QUEUE_SPIN_US", "fast", "MLU_QUEUE_SPIN_US must be an integer"),
    ("MLU_CONV16", "fast", "MLU_CONV16 must be auto, native or float32, got 'fast'"),
    ("MLU_CONV_GEMM", "yes", "MLU_CONV_GEMM must be auto, always or never, got 'yes'"),
    ("ENABLE_FALLBACK_TO_CPU", "maybe", "ENABLE_FALLBACK_TO_CPU must be 0 or 1"),
])
def test_garbage_in_a_runtime_variable_is_a_clear_error(variable, value, error):
    result = run_python("""
        import torch
        print("available:", torch.mlu.is_available(), torch.mlu.device_count())
        try:
            torch.ones(2, device="mlu")
        except ValueError as e:
            print("ValueError:", e)
    """, **{variable: value})
    assert result.returncode == 0, result
    assert "available: False 0" in result.stdout, result
    assert f"ValueError: {error}" in result.stdout, result


def test_garbage_in_the_gpu_migration_variable_names_it():
    result = run_python("import torch", TORCH_MLU_GPU_MIGRATION="yes")
    assert result.returncode != 0
    assert "TORCH_MLU_GPU_MIGRATION must be 0, 1 or strict, got 'yes'" in result.stderr, result


def test_visible_devices_that_hide_everything():
    result = run_python("""
        import torch
        print("count:", torch.mlu.device_count())
        try:
            torch.ones(2, device="mlu")
        except RuntimeError as e:
            print("raised:", e)
    """, MLU_VISIBLE_DEVICES="none")
    assert result.returncode == 0, result
    assert "count: 0" in result.stdout and "no MLU device is visible" in result.stdout, result
