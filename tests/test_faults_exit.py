"""Fault injection: ways a program ends, signals and fork. Each case runs in its own interpreter,
since the failure being guarded against is the interpreter dying (a signal, an abort)."""

import signal

import pytest

from conftest import run_python

# A chain of products long enough to still be queued when the script ends.
QUEUED_WORK = """
import torch
x = torch.randn(512, 512, device="mlu")
for _ in range(40):
    x = torch.tanh(x @ x)
"""


def assert_clean(result, code=0):
    """Exited with `code`, not killed by a signal, and no C++ termination message."""
    assert result.returncode == code, result
    assert "terminate called" not in result.stderr, result
    assert "Caught signal" not in result.stderr, result


def test_exit_with_work_still_queued():
    assert_clean(run_python(QUEUED_WORK + "print('queued')"))


def test_exit_with_queued_work_on_every_stream_and_device():
    result = run_python("""
        import torch
        for d in range(torch.mlu.device_count()):
            for s in [torch.mlu.Stream(d), torch.mlu.Stream(d, priority=-1), torch.mlu.default_stream(d)]:
                with torch.mlu.stream(s):
                    x = torch.randn(256, 256, device=f"mlu:{d}")
                    for _ in range(20):
                        x = x @ x.tanh()
    """)
    assert_clean(result)


def test_sys_exit_with_queued_work_keeps_its_status():
    assert_clean(run_python(QUEUED_WORK + "import sys; sys.exit(3)"), code=3)


def test_uncaught_exception_with_queued_work_exits_with_a_traceback():
    result = run_python(QUEUED_WORK + "raise KeyError('boom')")
    assert_clean(result, code=1)
    assert "KeyError: 'boom'" in result.stderr


def test_a_failure_nobody_synchronized_is_reported_at_exit():
    result = run_python("""
        import torch
        torch.zeros(3, device="mlu").index_select(0, torch.tensor([9], device="mlu"))
    """)
    assert_clean(result)
    assert "at exit" in result.stderr and "index_select" in result.stderr, result


def test_exit_settles_the_autograd_threads_only_once_a_backward_pass_started_them():
    # Settling at exit runs a backward pass on each device; before any backward pass that would
    # start the engine's threads just to end them.
    result = run_python("""
        import time
        import torch
        from torch_mlu.mlu.device import _autograd_device_threads_started
        x = torch.ones(4, device="mlu", requires_grad=True)
        y = (x * 3).sum()
        print("before:", _autograd_device_threads_started())
        y.backward()
        # PyTorch's Python engine lets backward() return before its new threads have taken the
        # GIL and named themselves; sleeping hands them the GIL.
        deadline = time.monotonic() + 30
        while not _autograd_device_threads_started() and time.monotonic() < deadline:
            time.sleep(0.01)
        print("after:", _autograd_device_threads_started(), x.grad.sum().item())
    """)
    assert_clean(result)
    assert "before: False" in result.stdout and "after: True 12.0" in result.stdout, result


def test_keyboard_interrupt_while_work_is_queued():
    result = run_python(QUEUED_WORK + """
import os, signal
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background parent may ignore it
os.kill(os.getpid(), signal.SIGINT)
import time; time.sleep(5)
""")
    # Python ends an interrupted program by re-raising SIGINT on itself after the traceback.
    assert_clean(result, code=-signal.SIGINT)
    assert "KeyboardInterrupt" in result.stderr


def test_a_signal_handler_may_synchronize_the_device():
    result = run_python(QUEUED_WORK + """
import os, signal
seen = []
def handler(signum, frame):
    torch.mlu.synchronize()
    seen.append(x.sum().item())
signal.signal(signal.SIGUSR1, handler)
os.kill(os.getpid(), signal.SIGUSR1)
print("handled", len(seen))
""")
    assert_clean(result)
    assert "handled 1" in result.stdout


def test_sigterm_ends_the_process_as_a_sigterm():
    result = run_python(QUEUED_WORK + "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert result.returncode == -signal.SIGTERM, result


FORK_CHILD = """
import gc, os, torch
t = torch.ones(1000, device="mlu") * 2
event = torch.mlu.Event(enable_timing=True)
event.record()
pinned = torch.ones(100).pin_memory()
stream = torch.mlu.Stream()
pid = os.fork()
if pid == 0:
    {child}
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child status", status)
print("parent still works", (t + 1).sum().item())
"""


@pytest.mark.parametrize("child", [
    "del t; gc.collect()",
    "del event; gc.collect()",
    "del pinned; gc.collect()",
    "del stream, t, event, pinned; gc.collect()",
])
def test_a_forked_child_may_drop_what_it_inherited(child):
    result = run_python(FORK_CHILD.format(child=child))
    assert_clean(result)
    assert "child status 0" in result.stdout and "parent still works 3000.0" in result.stdout


def test_a_forked_child_that_uses_mlu_gets_a_clear_error():
    child = """
    try:
        torch.ones(2, device="mlu")
    except RuntimeError as e:
        os._exit(0 if "forked" in str(e) else 5)
    os._exit(6)"""
    result = run_python(FORK_CHILD.format(child=child))
    assert_clean(result)
    assert "child status 0" in result.stdout


def test_a_child_exiting_normally_runs_no_device_teardown():
    # sys.exit runs the atexit handlers in the child: they must leave the parent's driver alone.
    result = run_python(FORK_CHILD.format(child="import sys; sys.exit(0)"))
    assert_clean(result)
    assert "child status 0" in result.stdout
