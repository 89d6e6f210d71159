"""The CPU fallback's ledger: which operators ran without a native mlu kernel, and their cost."""

from torch_mlu import _C


def fallback_stats():
    """{operator name: {"calls", "seconds", "bytes"}} since start or the last reset."""
    return {name: {"calls": calls, "seconds": seconds, "bytes": nbytes}
            for name, (calls, seconds, nbytes) in _C._fallback_stats().items()}


def reset_fallback_stats():
    _C._reset_fallback_stats()


def fallback_table():
    """The ledger as a readable table, most expensive operator first."""
    stats = sorted(fallback_stats().items(), key=lambda kv: -kv[1]["seconds"])
    lines = [f"{'operator':<44}{'calls':>8}{'seconds':>10}{'MB':>10}"]
    for name, s in stats:
        lines.append(f"{name:<44}{s['calls']:>8}{s['seconds']:>10.4f}{s['bytes'] / 1e6:>10.2f}")
    return "\n".join(lines)
