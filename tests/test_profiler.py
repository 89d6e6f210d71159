"""torch.profiler on mlu: every kernel a queue runs is a device activity (Kineto's PrivateUse1
child profiler, csrc/profiler.cpp), linked to the operator that launched it: device time per
operator in key_averages(), a lane per stream and launch-to-kernel arrows in the Chrome trace."""

import json
import time

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function, schedule

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
