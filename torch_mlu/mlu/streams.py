"""Streams and events: torch.Stream / torch.Event on mlu, as torch.cuda's."""

import torch

from torch_mlu import _C
from .device import _index, _lazy_init


class Stream(torch.Stream):
    """An in-order queue of device work. priority: 0 normal, negative high."""

    def __new__(cls, device=None, priority=0, **kwargs):
        _lazy_init()
        if "stream_id" in kwargs:
            return super().__new__(cls, **kwargs)
        with torch.mlu.device(device):
            return super().__new__(cls, device=torch.device("mlu", torch.mlu.current_device()),
                                   priority=priority)

    @property
    def priority(self):
        return _C._stream_priority(self.stream_id, self.device_index, self.device_type)

    @staticmethod
    def priority_range():
        """(lowest, highest) priority, as torch.cuda.Stream.priority_range() gives them."""
        return 0, -1

    def wait_event(self, event):
        event.wait(self)

    def wait_stream(self, stream):
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def __repr__(self):
        return f"<torch.mlu.Stream device={self.device} stream_id={self.stream_id}>"


class Event(torch.Event):
    """A marker in a stream; enable_timing=True allows elapsed_time()."""

    def __new__(cls, enable_timing=False, blocking=False, interprocess=False):
        _lazy_init()
        return super().__new__(cls, device="mlu", enable_timing=enable_timing,
                               blocking=blocking, interprocess=interprocess)

    def record(self, stream=None):
        super().record(current_stream() if stream is None else stream)

    def wait(self, stream=None):
        super().wait(current_stream() if stream is None else stream)

    def elapsed_time(self, end_event):
        """Milliseconds from this event to end_event; both need enable_timing=True."""
        return _C._event_elapsed_time(self, end_event)


def _wrap(packed):
    stream_id, device_index, device_type = packed
    return Stream(stream_id=stream_id, device_index=device_index, device_type=device_type)


def current_stream(device=None):
    _lazy_init()
    return _wrap(_C._current_stream(_index(device)))


def default_stream(device=None):
    _lazy_init()
    return _wrap(_C._default_stream(_index(device)))


def set_stream(stream):
    if stream is None:
        return
    _lazy_init()
    _C._set_stream(stream.stream_id, stream.device_index, stream.device_type)
    _C._set_device(stream.device_index)  # as torch.cuda.set_stream does


class StreamContext:
    """Makes ``stream`` current on its device (and that device current) inside the block."""

    def __init__(self, stream):
        self.stream = stream
        self.src_prev_stream = None
        self.dst_prev_stream = None

    def __enter__(self):
        if self.stream is None:
            return
        self.src_prev_stream = current_stream()
        if self.src_prev_stream.device != self.stream.device:
            with torch.mlu.device(self.stream.device):
                self.dst_prev_stream = current_stream()
        set_stream(self.stream)

    def __exit__(self, *exc):
        if self.stream is None:
            return False
        if self.dst_prev_stream is not None:
            set_stream(self.dst_prev_stream)
        set_stream(self.src_prev_stream)
        return False


def stream(stream):
    return StreamContext(stream)
