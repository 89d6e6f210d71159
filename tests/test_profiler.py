"""torch.profiler on mlu: every kernel, copy and graph replay a queue runs is a device activity
(Kineto's PrivateUse1 child profiler, csrc/profiler.cpp), linked to the operator that launched it:
device time per operator in key_averages(), a lane per stream and launch-to-kernel arrows in the
Chrome trace; device memory for profile_memory; collectives as ranges around their copies."""

import json
import time

import torch
from torch.autograd import DeviceType
from torch.profiler import (ProfilerActivity, profile, record_function, schedule,
                            tensorboard_trace_handler)

ACTIVITIES = [ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]


def device_events(prof):
    return [e for e in prof.events() if e.device_type == DeviceType.PrivateUse1]


def step(a, b):
    with record_function("my_step"):
        return torch.relu(torch.mm(a, b)).sum()


def device_total(avg):
    return getattr(avg, "self_device_time_total", None) or avg.self_cuda_time_total


def test_kernels_are_device_activities_of_their_operators():
    a, b = torch.randn(256, 256, device="mlu"), torch.randn(256, 256, device="mlu")
    step(a, b).item()
    start = time.perf_counter()
    with profile(activities=ACTIVITIES) as prof:
        step(a, b).item()
    wall_us = (time.perf_counter() - start) * 1e6
    kernels = device_events(prof)
    assert {"gemm", "unary", "reduce"} <= {k.name for k in kernels}
    assert all(k.device_index == 0 for k in kernels)
    mm = next(e for e in prof.events() if e.name == "aten::mm")
    assert [k.name for k in mm.kernels] == ["gemm"]
    gemm = next(k for k in kernels if k.name == "gemm")
    assert gemm.time_range.start >= mm.time_range.start  # launched, then run
    assert sum(k.time_range.elapsed_us() for k in kernels) <= wall_us
    averages = {e.key: e for e in prof.key_averages()}
    assert device_total(averages["aten::mm"]) > 0
    assert device_total(averages["aten::relu"]) > 0


def test_chrome_trace_has_a_lane_per_stream_and_flow_arrows(tmp_path):
    a = torch.randn(64, 64, device="mlu")
    side = torch.mlu.Stream()
    torch.mlu.synchronize()
    with profile(activities=ACTIVITIES) as prof:
        a * 2
        with torch.mlu.stream(side):
            a + 1
        torch.mlu.synchronize()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    lanes = {e["tid"] for e in events if e.get("cat") == "kernel"}
    assert lanes == {0, side.stream_id}
    assert any(e.get("ph") == "f" and e.get("cat") == "ac2g" for e in events)


def test_schedule_and_trace_handler_record_only_active_steps():
    x = torch.randn(32, 32, device="mlu")
    traces = []
    with profile(activities=ACTIVITIES, schedule=schedule(wait=1, warmup=1, active=2),
                 on_trace_ready=traces.append) as prof:
        for _ in range(4):
            (x @ x).sum().item()
            prof.step()
    assert len(traces) == 1
    assert len([e for e in device_events(traces[0]) if e.name == "gemm"]) == 2


def test_nothing_is_recorded_without_the_device_activity():
    x = torch.ones(8, device="mlu")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        (x + 1).sum().item()
    assert device_events(prof) == []
    # and outside any trace, kernels run untraced
    with profile(activities=ACTIVITIES) as prof:
        pass
    (x + 1).sum().item()
    assert device_events(prof) == []


def test_copies_are_device_activities_of_the_copying_operator():
    host, pinned = torch.randn(1024), torch.randn(1024).pin_memory()
    torch.mlu.synchronize()
    with profile(activities=ACTIVITIES) as prof:
        d = host.to("mlu")
        p = pinned.to("mlu", non_blocking=True)
        (d + p).cpu()
        d.to("mlu:1")
        torch.mlu.synchronize()
    copies = [(e.name, e.device_index) for e in device_events(prof) if e.name.startswith("Memcpy")]
    assert sorted(copies) == [("Memcpy DtoD", 1), ("Memcpy DtoH", 0), ("Memcpy HtoD", 0),
                              ("Memcpy HtoD", 0)]
    launched = [k.name for e in prof.events() if e.name == "aten::_copy_from" for k in e.kernels]
    assert sorted(launched) == sorted(name for name, _ in copies)
    assert all(e.time_range.elapsed_us() >= 0 for e in device_events(prof))


def test_a_graph_replay_is_one_activity_and_its_capture_none():
    x = torch.ones(64, device="mlu")
    g = torch.mlu.MLUGraph()
    with profile(activities=ACTIVITIES) as prof:
        with torch.mlu.graph(g):
            y = torch.relu(x * 2 - 1)
    assert device_events(prof) == []  # capturing runs nothing
    with profile(activities=ACTIVITIES) as prof:
        g.replay()
        torch.mlu.synchronize()
    assert [e.name for e in device_events(prof)] == ["graph replay"]
    assert torch.equal(y.cpu(), torch.ones(64))


def test_profile_memory_reports_device_allocations():
    with profile(activities=ACTIVITIES, profile_memory=True) as prof:
        y = torch.empty(1 << 20, device="mlu")
        del y
    empties = [e for e in prof.key_averages() if e.key == "aten::empty"]
    assert empties and empties[0].device_memory_usage == 4 << 20
    assert empties[0].cpu_memory_usage == 0


def test_with_stack_records_the_python_frames_around_the_kernels(tmp_path):
    a = torch.randn(64, 64, device="mlu")

    def my_layer(t):
        return torch.mm(t, t)

    with profile(activities=ACTIVITIES, with_stack=True) as prof:
        my_layer(a)
        torch.mlu.synchronize()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    frames = [e for e in events if e.get("cat") == "python_function" and "my_layer" in e["name"]]
    mm = next(e for e in events if e.get("cat") == "cpu_op" and e["name"] == "aten::mm")
    assert frames and frames[0]["ts"] <= mm["ts"]
    assert mm["ts"] + mm["dur"] <= frames[0]["ts"] + frames[0]["dur"]
    assert any(e.get("cat") == "kernel" and e["name"] == "gemm" for e in events)


def test_tensorboard_trace_handler_writes_device_lanes(tmp_path):
    x = torch.randn(32, 32, device="mlu")
    with profile(activities=ACTIVITIES, schedule=schedule(wait=0, warmup=1, active=1),
                 on_trace_ready=tensorboard_trace_handler(str(tmp_path), worker_name="w")) as prof:
        for _ in range(2):
            (x @ x).sum().item()
            prof.step()
    written = list(tmp_path.glob("w.*.pt.trace.json"))
    assert len(written) == 1
    events = json.loads(written[0].read_text())["traceEvents"]
    assert [e["name"] for e in events if e.get("cat") == "kernel"].count("gemm") == 1


def test_a_collective_is_a_device_activity_of_its_communication_stream(run_py):
    result = run_py("""
        import torch, torch_mlu, torch.distributed as dist
        from torch.autograd import DeviceType
        from torch.profiler import profile, ProfilerActivity
        dist.init_process_group("cncl", store=dist.HashStore(), rank=0, world_size=1)
        x = torch.ones(4, device="mlu")
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]) as prof:
            (x * 2).sum()
            dist.all_reduce(x)
            torch.mlu.synchronize()
        kernels = {e.name: e for e in prof.events() if e.device_type == DeviceType.PrivateUse1}
        print("kernels:", sorted(kernels))
        print("own stream:", kernels["cncl:all_reduce"].device_resource_id
              != kernels["binary"].device_resource_id)
        dist.destroy_process_group()
    """)
    assert result.returncode == 0, result
    assert "'cncl:all_reduce'" in result.stdout and "own stream: True" in result.stdout
