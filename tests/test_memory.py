"""The caching allocator as torch.mlu reports and controls it, and out-of-memory errors."""

import gc
import re

import pytest
import torch

GiB = 2**30
MiB = 2**20


@pytest.fixture(autouse=True)
def _clean_device():
    gc.collect()
    torch.mlu.synchronize()
    torch.mlu.empty_cache()
    yield
    gc.collect()
    torch.mlu.empty_cache()


def test_memory_allocated_tracks_tensors():
    before = torch.mlu.memory_allocated()
    x = torch.empty(3 * MiB, dtype=torch.uint8, device="mlu")
    assert torch.mlu.memory_allocated() - before >= x.nbytes
    y = torch.empty(1000, dtype=torch.float64, device="mlu")
    assert torch.mlu.memory_allocated() - before >= x.nbytes + y.nbytes
    del x, y
    assert torch.mlu.memory_allocated() == before


def test_memory_is_per_device():
    before0, before1 = torch.mlu.memory_allocated(0), torch.mlu.memory_allocated(1)
    x = torch.empty(2 * MiB, dtype=torch.uint8, device="mlu:1")
    assert torch.mlu.memory_allocated(1) - before1 >= 2 * MiB
    assert torch.mlu.memory_allocated(0) == before0
    assert torch.mlu.memory_allocated("mlu:1") == torch.mlu.memory_allocated(1)
    del x
    assert torch.mlu.memory_allocated(1) == before1


def test_peak_and_reset_peak():
    torch.mlu.reset_peak_memory_stats()
    base = torch.mlu.memory_allocated()
    assert torch.mlu.max_memory_allocated() == base
    x = torch.empty(4 * MiB, dtype=torch.uint8, device="mlu")
    del x
    peak = torch.mlu.max_memory_allocated()
    assert peak - base >= 4 * MiB
    assert torch.mlu.memory_allocated() == base
    assert torch.mlu.max_memory_reserved() >= peak
    torch.mlu.reset_peak_memory_stats()
    assert torch.mlu.max_memory_allocated() == base


def test_reserved_covers_allocated_and_empty_cache_releases_unused():
    keep = torch.empty(2 * MiB, dtype=torch.uint8, device="mlu")
    drop = torch.empty(6 * MiB, dtype=torch.uint8, device="mlu")
    assert torch.mlu.memory_reserved() >= torch.mlu.memory_allocated()
    del drop
    # freed memory stays cached
    assert torch.mlu.memory_reserved() >= torch.mlu.memory_allocated() + 6 * MiB
    torch.mlu.empty_cache()
    assert torch.mlu.memory_reserved() == torch.mlu.memory_allocated()
    assert torch.mlu.memory_allocated() >= keep.nbytes
    del keep


def test_cached_block_is_reused():
    x = torch.empty(4 * MiB, dtype=torch.uint8, device="mlu")
    ptr = x.data_ptr()
    reserved = torch.mlu.memory_reserved()
    del x
    y = torch.empty(4 * MiB, dtype=torch.uint8, device="mlu")
    assert y.data_ptr() == ptr
    assert torch.mlu.memory_reserved() == reserved


def test_memory_stats_keys():
    x = torch.empty(1024, device="mlu")
    stats = torch.mlu.memory_stats()
    for key in ("allocated_bytes.all.current", "allocated_bytes.all.peak",
                "reserved_bytes.all.current", "active_bytes.all.current",
                "allocation.all.current", "segment.all.current",
                "allocated_bytes.small_pool.current", "allocated_bytes.large_pool.current",
                "num_ooms", "num_alloc_retries"):
        assert key in stats, key
    assert stats["allocated_bytes.all.current"] == torch.mlu.memory_allocated()
    assert stats["allocated_bytes.small_pool.current"] >= x.nbytes
    assert stats["allocation.all.current"] >= 1
    assert list(stats) == sorted(stats)
    del x


def test_memory_summary_is_readable():
    x = torch.empty(MiB, dtype=torch.uint8, device="mlu")
    summary = torch.mlu.memory_summary()
    assert isinstance(summary, str)
    assert "Allocated memory" in summary and "Reserved memory" in summary
    assert "Out-of-memory errors" in summary
    assert "MiB" in summary or "KiB" in summary
    assert len(torch.mlu.memory_summary(abbreviated=True)) < len(summary)
    del x


def test_mem_get_info_reports_capacity_and_free():
    free, total = torch.mlu.mem_get_info()
    assert total == 8 * GiB == torch.mlu.get_device_properties(0).total_memory
    assert 0 < free <= total
    x = torch.empty(64 * MiB, dtype=torch.uint8, device="mlu")
    free_after, _ = torch.mlu.mem_get_info()
    assert free - free_after >= 64 * MiB
    assert torch.mlu.mem_get_info(1)[1] == 8 * GiB
    del x


def test_out_of_memory_error_explains_and_recovers():
    before_allocated = torch.mlu.memory_allocated()
    ooms = torch.mlu.memory_stats()["num_ooms"]
    keep = torch.empty(8 * MiB, dtype=torch.uint8, device="mlu")
    with pytest.raises(torch.OutOfMemoryError) as info:
        torch.empty(9 * GiB, dtype=torch.uint8, device="mlu")
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "9.00 GiB" in message                      # the request
    assert "total capacity of 8.00 GiB" in message    # the capacity
    assert re.search(r"of which [\d.]+ \w+ is free", message), message
    assert "reserved by PyTorch" in message
    assert "allocated by PyTorch" in message
    assert torch.mlu.memory_stats()["num_ooms"] == ooms + 1
    # the device is usable afterwards and nothing leaked
    y = torch.full((1000,), 2.0, device="mlu")
    assert y.sum().item() == 2000.0
    del y, keep
    assert torch.mlu.memory_allocated() == before_allocated


def test_out_of_memory_retries_after_freeing_cache():
    x = torch.empty(5 * GiB, dtype=torch.uint8, device="mlu")
    del x                                          # cached, still reserved
    retries = torch.mlu.memory_stats()["num_alloc_retries"]
    y = torch.empty(6 * GiB, dtype=torch.uint8, device="mlu")   # needs the cache released
    assert torch.mlu.memory_stats()["num_alloc_retries"] == retries + 1
    del y


def test_memory_fraction_limits_allocation():
    torch.mlu.set_per_process_memory_fraction(0.1)
    try:
        with pytest.raises(torch.OutOfMemoryError, match="1.00 GiB"):
            torch.empty(GiB, dtype=torch.uint8, device="mlu")
        small = torch.empty(100 * MiB, dtype=torch.uint8, device="mlu")   # within 10 %
        del small
    finally:
        torch.mlu.set_per_process_memory_fraction(1.0)
    x = torch.empty(GiB, dtype=torch.uint8, device="mlu")
    assert x.numel() == GiB
    del x


def test_memory_fraction_is_per_device():
    torch.mlu.set_per_process_memory_fraction(0.05, 1)
    with pytest.raises(torch.OutOfMemoryError):
        torch.empty(GiB, dtype=torch.uint8, device="mlu:1")
    x = torch.empty(GiB, dtype=torch.uint8, device="mlu:0")
    del x
    torch.mlu.set_per_process_memory_fraction(1.0, 1)


@pytest.mark.parametrize("fraction, error", [(1.5, ValueError), (-0.1, ValueError),
                                             (1, TypeError), ("0.5", TypeError)])
def test_invalid_memory_fraction_raises(fraction, error):
    with pytest.raises(error):
        torch.mlu.set_per_process_memory_fraction(fraction)


def test_reset_accumulated_stats():
    x = torch.empty(MiB, dtype=torch.uint8, device="mlu")
    del x
    assert torch.mlu.memory_stats()["allocation.all.allocated"] > 0
    torch.mlu.reset_accumulated_memory_stats()
    stats = torch.mlu.memory_stats()
    assert stats["allocation.all.allocated"] == 0
    assert stats["num_ooms"] == 0
