"""Device memory: the caching allocator's statistics and controls, as torch.cuda's."""

import collections
import pickle
import sys

from torch_mlu import _C
from .device import _index, _lazy_init


def memory_stats(device=None):
    """A flat, sorted dict of the caching allocator's statistics for the device."""
    if not _C._is_initialized():
        return collections.OrderedDict()
    stats = _C._memory_stats(_index(device))
    return collections.OrderedDict(sorted(stats.items()))


def _stat(name, device):
    return memory_stats(device).get(name, 0)


def memory_allocated(device=None):
    return _stat("allocated_bytes.all.current", device)


def max_memory_allocated(device=None):
    return _stat("allocated_bytes.all.peak", device)


def memory_reserved(device=None):
    return _stat("reserved_bytes.all.current", device)


def max_memory_reserved(device=None):
    return _stat("reserved_bytes.all.peak", device)


def reset_peak_memory_stats(device=None):
    _lazy_init()
    _C._reset_peak_memory_stats(_index(device))


def reset_max_memory_allocated(device=None):
    """torch.cuda's older name, still called by libraries: resets every peak, as CUDA's does."""
    reset_peak_memory_stats(device)


def reset_accumulated_memory_stats(device=None):
    _lazy_init()
    _C._reset_accumulated_memory_stats(_index(device))


def empty_cache():
    """Return all unused cached blocks to the device."""
    if _C._is_initialized():
        _C._empty_cache()


def mem_get_info(device=None):
    """(free, total) bytes of the device."""
    _lazy_init()
    return _C._mem_get_info(_index(device))


def set_per_process_memory_fraction(fraction, device=None):
    """Limit what this process's cache may reserve on the device to fraction * capacity."""
    _lazy_init()
    if not isinstance(fraction, float):
        raise TypeError("Invalid type for fraction argument, must be `float`")
    _C._set_memory_fraction(fraction, _index(device))


def _format_size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024


def memory_summary(device=None, abbreviated=False):
    """A readable table of the caching allocator's statistics."""
    stats = memory_stats(device)
    rows = [
        ("Allocated memory", "allocated_bytes", _format_size),
        ("Active memory", "active_bytes", _format_size),
        ("Requested memory", "requested_bytes", _format_size),
        ("Reserved memory", "reserved_bytes", _format_size),
        ("Allocations", "allocation", str),
        ("Active allocations", "active", str),
        ("Device segments", "segment", str),
    ]
    pools = ("all",) if abbreviated else ("all", "large_pool", "small_pool")
    lines = [f"MLU memory summary, device {_index(device) if _C._is_initialized() else 0}",
             f"{'Metric':<28}{'Current':>14}{'Peak':>14}{'Allocated':>14}{'Freed':>14}"]
    for title, key, fmt in rows:
        for pool in pools:
            label = title if pool == "all" else f"  from {pool.replace('_', ' ')}"
            values = [fmt(stats.get(f"{key}.{pool}.{field}", 0))
                      for field in ("current", "peak", "allocated", "freed")]
            lines.append(f"{label:<28}" + "".join(f"{v:>14}" for v in values))
    lines.append(f"{'Allocation retries':<28}{stats.get('num_alloc_retries', 0):>14}")
    lines.append(f"{'Out-of-memory errors':<28}{stats.get('num_ooms', 0):>14}")
    return "\n".join(lines)


def _record_memory_history(enabled="all", context="all", stacks="all", max_entries=sys.maxsize,
                           device=None):
    """Records where each allocation is made (enabled="state") and also a trace of allocator
    events (enabled="all"), as torch.cuda.memory._record_memory_history; None turns it off.

    stacks: "python" (Python frames) or "all" (also TorchScript and C++ frames). The history
    feeds _snapshot() (rendered by torch.cuda._memory_viz or pytorch.org/memory_viz) and the
    out-of-memory message. With history off, allocations pay nothing for it."""
    if enabled not in (None, "state", "all"):
        raise ValueError(f"enabled must be None, 'state' or 'all', got {enabled!r}")
    if context not in (None, "state", "alloc", "all"):
        raise ValueError(f"context must be None, 'state', 'alloc' or 'all', got {context!r}")
    if stacks not in ("python", "all"):
        raise ValueError(f"stacks must be 'python' or 'all', got {stacks!r}")
    _lazy_init()
    _C._record_memory_history(enabled is not None and context is not None, enabled == "all",
                              stacks == "all", max_entries)


def _snapshot(device=None):
    """The allocator's state in torch.cuda.memory._snapshot()'s format: "segments" (every
    reserved block of every device, with the frames that allocated it when history is recorded)
    and "device_traces" (one list of events per device)."""
    if not _C._is_initialized():
        return {"segments": [], "device_traces": [], "allocator_settings": {}}
    segments, traces = [], []
    devices = range(_C._device_count()) if device is None else [_index(device)]
    for index in devices:
        device_segments, trace = _C._memory_snapshot(index)
        segments.extend(device_segments)
        traces.append(trace)
    return {"segments": segments, "device_traces": traces, "allocator_settings": {}}


def _dump_snapshot(filename="dump_snapshot.pickle"):
    """Writes _snapshot() as the pickle PyTorch's memory viewer reads."""
    with open(filename, "wb") as f:
        pickle.dump(_snapshot(), f)


def memory_snapshot():
    """The segments of every device, as torch.cuda.memory_snapshot()."""
    return _snapshot()["segments"]
