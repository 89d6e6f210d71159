"""Fault injection: kernel failures on several streams and threads, event ordering, and the
stream and device boundaries PyTorch calls without the right to raise (noexcept).

Semantics (docs/architecture.md, "Errors of asynchronous work"): a failure belongs to the stream
whose work failed. It is raised once, by that stream's synchronize or a synchronizing operation on
it (.item(), a copy to pageable memory, the CPU fallback), or by a device synchronize; waiting for
an event raises what the event covers; a stream that waits on failed work fails as well."""

import threading

import pytest
import torch

from conftest import run_python
from reliability_support import device_works, leaves_device_usable, raises_then_usable

OUT_OF_RANGE = torch.tensor([7])


def failing_kernel(device="mlu"):
    """Queues a gather that reads out of range: it fails on the device, asynchronously."""
    torch.zeros(3, device=device).index_select(0, OUT_OF_RANGE.to(device))


def test_a_failure_is_raised_at_the_next_synchronize():
    with raises_then_usable(RuntimeError, "index_select.*out of bounds"):
        failing_kernel()
        torch.mlu.synchronize()


def test_a_side_streams_failure_is_not_raised_by_the_default_stream():
    with leaves_device_usable():
        side = torch.mlu.Stream()
        with torch.mlu.stream(side):
            failing_kernel()
        torch.mlu.default_stream().synchronize()
        assert torch.ones(2, device="mlu").sum().item() == 2.0  # .item() on the default stream
        with pytest.raises(RuntimeError, match="index_select"):
            side.synchronize()
        side.synchronize()  # raised once


def test_a_device_synchronize_raises_every_streams_failure():
    with leaves_device_usable():
        a, b = torch.mlu.Stream(), torch.mlu.Stream()
        with torch.mlu.stream(a):
            failing_kernel()
        with torch.mlu.stream(b):
            torch.zeros(2, device="mlu").gather(0, torch.tensor([5], device="mlu"))
        with pytest.raises(RuntimeError, match="index_select.*gather|gather.*index_select"):
            torch.mlu.synchronize()


def test_a_stream_waiting_on_failed_work_fails_too():
    with leaves_device_usable():
        producer, consumer = torch.mlu.Stream(), torch.mlu.Stream()
        with torch.mlu.stream(producer):
            failing_kernel()
        consumer.wait_stream(producer)
        with pytest.raises(RuntimeError, match="waits for work that failed.*index_select"):
            consumer.synchronize()
        with pytest.raises(RuntimeError, match="index_select"):
            producer.synchronize()


def test_an_event_synchronize_raises_what_the_event_covers():
    with leaves_device_usable():
        side = torch.mlu.Stream()
        event = torch.mlu.Event()
        with torch.mlu.stream(side):
            failing_kernel()
            event.record()
        with pytest.raises(RuntimeError, match="index_select"):
            event.synchronize()
        with pytest.raises(RuntimeError, match="index_select"):
            side.synchronize()  # still pending for the stream that failed


def test_failures_in_threads_reach_their_own_threads():
    errors, barrier = {}, threading.Barrier(4)

    def worker(i):
        stream = torch.mlu.Stream()
        with torch.mlu.stream(stream):
            barrier.wait()
            if i % 2:
                torch.zeros(3, device="mlu").index_select(0, torch.tensor([10 + i], device="mlu"))
            try:
                stream.synchronize()
                errors[i] = None
            except RuntimeError as e:
                errors[i] = str(e)

    with leaves_device_usable():
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors[0] is None and errors[2] is None
    assert f"index {11}" in errors[1] and f"index {13}" in errors[3]
    assert f"index {13}" not in errors[1]


def test_streams_in_threads_compute_what_the_cpu_computes():
    torch.manual_seed(0)
    inputs = [torch.randn(64, 64) for _ in range(6)]
    expected = [(x @ x).relu().sum(0) + i for i, x in enumerate(inputs)]
    results = [None] * len(inputs)

    def worker(i):
        stream = torch.mlu.Stream()
        with torch.mlu.stream(stream):
            for _ in range(20):
                x = inputs[i].to("mlu", non_blocking=True)
                y = (x @ x).relu().sum(0) + i
            results[i] = y.cpu()

    with leaves_device_usable():
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for got, want in zip(results, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-3)


def test_a_rerecorded_event_does_not_release_an_earlier_wait():
    with leaves_device_usable():
        busy, idle, waiter = torch.mlu.Stream(), torch.mlu.Stream(), torch.mlu.Stream()
        event = torch.mlu.Event()
        x = torch.randn(384, 384, device="mlu")
        torch.mlu.synchronize()
        with torch.mlu.stream(busy):
            y = x
            for _ in range(30):
                y = torch.tanh(y @ x)
            event.record()
        waiter.wait_event(event)
        with torch.mlu.stream(idle):
            event.record()  # a newer record, done at once
        with torch.mlu.stream(waiter):
            snapshot = y.clone()  # must see busy's finished result
        y.record_stream(waiter)
        torch.mlu.synchronize()
        assert torch.equal(snapshot, y)
        del x, y, snapshot


def test_an_event_elapsed_time_needs_both_records_completed():
    start, end = torch.mlu.Event(enable_timing=True), torch.mlu.Event(enable_timing=True)
    start.record()
    torch.randn(256, 256, device="mlu").matmul(torch.randn(256, 256, device="mlu"))
    end.record()
    end.synchronize()
    assert start.query() and end.query()
    assert start.elapsed_time(end) >= 0
    with pytest.raises((RuntimeError, ValueError)):
        torch.mlu.Event(enable_timing=True).elapsed_time(end)


def test_an_invalid_stream_through_torch_accelerator_raises_at_use():
    # torch.accelerator.set_stream reaches a noexcept guard function: it cannot raise there
    # (that aborted the process), so the stream is taken and its first use raises.
    result = run_python("""
        import torch
        bad = torch.Stream(stream_id=999, device_index=0, device_type=torch.mlu.default_stream().device_type)
        torch.accelerator.set_stream(bad)
        try:
            torch.ones(2, device="mlu") + 1
        except RuntimeError as e:
            print("raised:", e)
        torch.accelerator.set_stream(torch.mlu.default_stream())
        print("works:", (torch.ones(2, device="mlu") + 1).tolist())
    """)
    assert result.returncode == 0, result
    assert "raised: invalid mlu stream id 999 on mlu:0" in result.stdout, result
    assert "works: [2.0, 2.0]" in result.stdout


def test_current_stream_of_a_missing_device_raises_at_use():
    result = run_python("""
        import torch
        stream = torch.accelerator.current_stream(99)
        try:
            stream.synchronize()
        except RuntimeError as e:
            print("raised:", e)
    """)
    assert result.returncode == 0, result
    assert "raised: Invalid MLU device index 99" in result.stdout, result


@pytest.mark.parametrize("make", [
    lambda: torch.mlu.set_stream(torch.Stream(stream_id=999, device_index=0,
                                              device_type=torch.mlu.default_stream().device_type)),
    lambda: torch.mlu.Stream(device=99),
    lambda: torch.mlu.current_stream(300),
    lambda: torch.mlu.default_stream(-2),
])
def test_invalid_streams_through_torch_mlu_raise(make):
    with raises_then_usable((RuntimeError, ValueError), "stream id|device index|Invalid|invalid"):
        make()
