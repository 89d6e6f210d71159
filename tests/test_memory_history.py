"""Memory history and snapshots in PyTorch's format (torch.mlu.memory._record_memory_history,
_snapshot, _dump_snapshot, memory_snapshot), rendered by torch.cuda._memory_viz, and the
out-of-memory message naming what holds the memory."""

import pickle
import re

import pytest
import torch
from torch.cuda import _memory_viz

MiB = 1 << 20


@pytest.fixture
def history():
    torch.mlu.memory._record_memory_history(stacks="python")
    yield
    torch.mlu.memory._record_memory_history(None)


def allocate_activations():
    return torch.empty(3 * MiB, dtype=torch.uint8, device="mlu")


def frames_name(frames, name):
    return any(f["name"] == name for f in frames)


def test_snapshot_segments_blocks_and_frames(history):
    kept = allocate_activations()
    dropped = torch.empty(5000, device="mlu")
    del dropped
    snap = torch.mlu.memory._snapshot()
    assert set(snap) >= {"segments", "device_traces"}
    by_address = {s["address"]: s for s in snap["segments"]}
    segment = by_address[kept.data_ptr()]
    assert segment["device"] == 0 and segment["total_size"] >= 3 * MiB
    assert segment["segment_type"] == "large"
    (block,) = segment["blocks"]
    assert block["state"] == "active_allocated"
    assert block["requested_size"] == 3 * MiB
    assert frames_name(block["frames"], "allocate_activations")
    assert frames_name(block["frames"], "test_snapshot_segments_blocks_and_frames")
    assert any(s["blocks"][0]["state"] == "inactive" and not s["blocks"][0]["frames"]
               for s in snap["segments"])
    assert len(torch.mlu.memory_snapshot()) == len(snap["segments"])


def test_trace_records_allocator_events_in_order(history):
    x = torch.empty(1000, device="mlu")
    address = x.data_ptr()
    del x
    trace = torch.mlu.memory._snapshot()["device_traces"][0]
    actions = [e["action"] for e in trace if e["addr"] == address]
    assert actions[-3:] == ["alloc", "free_requested", "free_completed"]
    alloc = [e for e in trace if e["addr"] == address and e["action"] == "alloc"][-1]
    assert alloc["size"] == 4096 and alloc["time_us"] > 0
    assert frames_name(alloc["frames"], "test_trace_records_allocator_events_in_order")


def test_memory_viz_renders_and_pickle_round_trips(history, tmp_path):
    kept = allocate_activations()  # noqa: F841
    snap = torch.mlu.memory._snapshot()
    assert "<html" in _memory_viz.trace_plot(snap).lower()
    assert "<html" in _memory_viz.segment_plot(snap).lower()
    assert "total_allocated" in _memory_viz.segsum(snap)
    path = tmp_path / "snapshot.pickle"
    torch.mlu.memory._dump_snapshot(str(path))
    with open(path, "rb") as f:
        loaded = pickle.load(f)
    assert len(loaded["segments"]) == len(snap["segments"])


def test_history_off_records_nothing():
    torch.mlu.memory._record_memory_history(None)
    x = torch.empty(1000, device="mlu")
    snap = torch.mlu.memory._snapshot()
    assert snap["device_traces"][0] == []
    segment = {s["address"]: s for s in snap["segments"]}[x.data_ptr()]
    assert segment["blocks"][0]["frames"] == []


def test_state_only_keeps_frames_without_a_trace():
    torch.mlu.memory._record_memory_history("state", stacks="python")
    try:
        x = allocate_activations()
        snap = torch.mlu.memory._snapshot()
    finally:
        torch.mlu.memory._record_memory_history(None)
    assert snap["device_traces"][0] == []
    segment = {s["address"]: s for s in snap["segments"]}[x.data_ptr()]
    assert frames_name(segment["blocks"][0]["frames"], "allocate_activations")


@pytest.mark.parametrize("kwargs", [dict(enabled="yes"), dict(stacks="cpp"), dict(context="x")])
def test_invalid_history_settings_raise(kwargs):
    with pytest.raises(ValueError):
        torch.mlu.memory._record_memory_history(**kwargs)


def test_out_of_memory_names_the_largest_allocations_and_where(run_py):
    result = run_py("""
        import torch, torch_mlu
        torch.mlu.memory._record_memory_history(stacks="python")
        def load_embeddings():
            return torch.empty(200 << 20, dtype=torch.uint8, device="mlu")
        table = load_embeddings()
        try:
            torch.empty(400 << 20, dtype=torch.uint8, device="mlu")
        except torch.OutOfMemoryError as e:
            print("oom:", e)
        print("usable:", torch.ones(4, device="mlu").sum().item())
        trace = torch.mlu.memory._snapshot()["device_traces"][0]
        print("oom traced:", any(e["action"] == "oom" for e in trace))
    """, MLU_DEVICE_MEMORY="512M")
    assert result.returncode == 0, result
    assert "Largest live allocations: 200.00 MiB (allocated at" in result.stdout
    assert "in load_embeddings)" in result.stdout
    assert "usable: 4.0" in result.stdout and "oom traced: True" in result.stdout


def test_out_of_memory_without_history_says_how_to_get_it(run_py):
    result = run_py("""
        import torch, torch_mlu
        table = torch.empty(200 << 20, dtype=torch.uint8, device="mlu")
        try:
            torch.empty(400 << 20, dtype=torch.uint8, device="mlu")
        except torch.OutOfMemoryError as e:
            print("oom:", e)
    """, MLU_DEVICE_MEMORY="512M")
    assert result.returncode == 0, result
    assert "Largest live allocations: 200.00 MiB." in result.stdout
    assert "_record_memory_history()" in result.stdout


def test_out_of_memory_suggests_a_batch_that_fits_and_names_graph_pools(run_py):
    result = run_py("""
        import torch, torch_mlu
        x = torch.ones(1, device="mlu")
        g = torch.mlu.MLUGraph()
        with torch.mlu.graph(g):
            scratch = torch.empty(100 << 20, dtype=torch.uint8, device="mlu")
            del scratch  # freed into the graph's private pool, which keeps it
            y = x + 1
        table = torch.empty(100 << 20, dtype=torch.uint8, device="mlu")
        free, _ = torch.mlu.mem_get_info()
        try:
            torch.empty(400 << 20, dtype=torch.uint8, device="mlu")
        except torch.OutOfMemoryError as e:
            print("oom:", e)
        print("expected percent:", free * 100 // (400 << 20))
    """, MLU_DEVICE_MEMORY="512M")
    assert result.returncode == 0, result
    percent = re.search(r"a batch of at most (\d+)% of this one would fit", result.stdout)
    assert percent and f"expected percent: {percent.group(1)}" in result.stdout, result.stdout
    assert "100.00 MiB reserved but unallocated (1 free block) belongs to the private pools" \
        in result.stdout
