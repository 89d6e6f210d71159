"""Streams and events on mlu, as torch.cuda's. Asynchrony itself is covered by runtime/tests."""

import pytest
import torch


def test_stream_is_a_torch_stream_on_the_current_device():
    s = torch.mlu.Stream()
    assert isinstance(s, torch.Stream)
    assert s.device == torch.device("mlu", 0)
    assert s != torch.mlu.default_stream()
    s1 = torch.mlu.Stream(device=1)
    assert s1.device == torch.device("mlu", 1)
    with torch.mlu.device(1):
        assert torch.mlu.Stream().device == torch.device("mlu", 1)
    assert "mlu" in repr(s)


def test_default_and_current_streams():
    d0 = torch.mlu.default_stream()
    assert isinstance(d0, torch.mlu.Stream)
    assert torch.mlu.current_stream() == d0
    assert torch.mlu.default_stream(1).device == torch.device("mlu", 1)
    assert torch.mlu.default_stream(1) != d0
    assert torch.mlu.current_stream("mlu:1") == torch.mlu.default_stream(1)


def test_set_stream_changes_current_stream():
    s = torch.mlu.Stream()
    torch.mlu.set_stream(s)
    assert torch.mlu.current_stream() == s
    torch.mlu.set_stream(torch.mlu.default_stream())
    assert torch.mlu.current_stream() == torch.mlu.default_stream()


def test_set_stream_of_other_device_makes_that_device_current():
    s1 = torch.mlu.Stream(device=1)
    torch.mlu.set_stream(s1)
    assert torch.mlu.current_device() == 1
    assert torch.mlu.current_stream() == s1
    assert torch.mlu.current_stream(0) == torch.mlu.default_stream(0)


def test_stream_context_manager():
    s = torch.mlu.Stream()
    before = torch.mlu.current_stream()
    with torch.mlu.stream(s):
        assert torch.mlu.current_stream() == s
        x = torch.ones(100, device="mlu") * 3
    assert torch.mlu.current_stream() == before
    s.synchronize()
    assert x.cpu().sum().item() == 300.0
    with torch.mlu.stream(None):                # a no-op, as on CUDA
        assert torch.mlu.current_stream() == before


def test_stream_context_on_another_device_restores_both():
    s1 = torch.mlu.Stream(device=1)
    with torch.mlu.stream(s1):
        assert torch.mlu.current_device() == 1
        assert torch.mlu.current_stream() == s1
        assert torch.empty(1, device="mlu").device.index == 1
    assert torch.mlu.current_device() == 0
    assert torch.mlu.current_stream(1) == torch.mlu.default_stream(1)
    assert torch.mlu.current_stream(0) == torch.mlu.default_stream(0)


def test_event_timing_query_and_synchronize():
    start = torch.mlu.Event(enable_timing=True)
    end = torch.mlu.Event(enable_timing=True)
    start.record()
    x = torch.randn(256, 256, device="mlu")
    y = x @ x
    end.record()
    end.synchronize()
    assert start.query() and end.query()
    elapsed = start.elapsed_time(end)
    assert isinstance(elapsed, float) and elapsed >= 0
    assert y.shape == (256, 256)


def test_event_without_timing_cannot_time():
    a, b = torch.mlu.Event(), torch.mlu.Event()
    a.record()
    b.record()
    b.synchronize()
    with pytest.raises((RuntimeError, ValueError), match="timing"):
        a.elapsed_time(b)


def test_unrecorded_event_is_complete_and_cannot_time():
    e = torch.mlu.Event(enable_timing=True)
    assert e.query()
    e.synchronize()
    with pytest.raises((RuntimeError, ValueError), match="record"):
        e.elapsed_time(torch.mlu.Event(enable_timing=True))


def test_record_event_on_stream_and_wait_event():
    s = torch.mlu.Stream()
    x = torch.zeros(1000, device="mlu")
    s.wait_stream(torch.mlu.current_stream())
    with torch.mlu.stream(s):
        x.fill_(5.0)
        done = s.record_event()
    assert isinstance(done, torch.mlu.Event)
    torch.mlu.current_stream().wait_event(done)
    y = x.to(torch.float64)                     # ordered after the fill on s
    assert y.cpu().sum().item() == 5000.0
    e = torch.mlu.Event()
    e.record(s)
    e.wait()                                    # the current stream waits
    e.synchronize()
    assert e.query()


def test_wait_stream_orders_work_between_streams():
    s1, s2 = torch.mlu.Stream(), torch.mlu.Stream()
    x = torch.zeros(4096, device="mlu")
    s1.wait_stream(torch.mlu.current_stream())  # the zero fill comes first
    with torch.mlu.stream(s1):
        for value in range(1, 6):
            x.fill_(float(value))
    s2.wait_stream(s1)
    with torch.mlu.stream(s2):
        y = torch.empty(4096, dtype=torch.float64, device="mlu")
        y.copy_(x)
    s2.synchronize()
    assert torch.equal(y.cpu(), torch.full((4096,), 5.0, dtype=torch.float64))


def test_stream_query_and_synchronize():
    s = torch.mlu.Stream()
    assert s.query()
    with torch.mlu.stream(s):
        x = torch.ones(1 << 16, device="mlu")
        x.fill_(2.0)
    s.synchronize()
    assert s.query()
    torch.mlu.default_stream().synchronize()
    assert x.cpu()[0].item() == 2.0


def test_high_priority_stream():
    s = torch.mlu.Stream(priority=-1)
    assert s.priority == -1 and torch.mlu.Stream().priority == 0
    assert torch.mlu.default_stream().priority == 0 and torch.mlu.current_stream().priority == 0
    assert torch.mlu.Stream.priority_range() == (0, -1)
    with torch.mlu.stream(s):
        assert torch.mlu.current_stream().priority == -1
        x = torch.full((8,), 3.0, device="mlu")
    s.synchronize()
    assert x.cpu().tolist() == [3.0] * 8


def test_record_stream_is_accepted_and_memory_is_reused_after_the_stream():
    torch.mlu.synchronize()
    torch.mlu.empty_cache()
    s = torch.mlu.Stream()
    x = torch.ones(1024, device="mlu")
    x.record_stream(s)
    x.record_stream(torch.mlu.current_stream())     # its own stream: nothing to wait for
    s.wait_stream(torch.mlu.current_stream())
    with torch.mlu.stream(s):
        x.fill_(2.0)
    ptr = x.data_ptr()
    del x
    torch.mlu.synchronize()
    # once s has passed the point where x was freed, the block returns to the cache
    y = torch.empty(1024, device="mlu")
    assert y.data_ptr() == ptr
    y.fill_(1.0)
    assert y.cpu().sum().item() == 1024.0


def test_record_stream_rejects_cpu_tensors():
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.ones(3).record_stream(torch.mlu.Stream())


def test_torch_stream_without_an_index_is_on_the_current_device():
    if torch.mlu.device_count() < 2:
        pytest.skip("needs two mlu devices (MLU_DEVICE_COUNT)")
    with torch.mlu.device(1):
        s = torch.Stream(device="mlu")
    assert s.device == torch.device("mlu", 1)
    assert torch.Stream(device="mlu").device == torch.device("mlu", 0)
