"""Forking after mlu is initialised: the child may not use mlu (it gets a clear error, never a
hang), while a child that leaves mlu alone works normally."""

import os
import signal
import time

import pytest
import torch

CHILD_TIMEOUT = 30


def wait_child(pid, timeout=CHILD_TIMEOUT):
    """The child's exit code; kills it and fails the test if it does not finish in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child {pid} hung for {timeout} s")


def fork_child(body):
    """Runs body() in a forked child; the child exits with body's return value."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = body()
        except BaseException:
            code = 98
        finally:
            os._exit(code)
    return wait_child(pid)


@pytest.fixture
def initialised():
    torch.ones(1, device="mlu").add_(1)
    torch.mlu.synchronize()
    assert torch.mlu.is_initialized()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_child_using_mlu_gets_forked_error(initialised):
    def child():
        try:
            torch.ones(1, device="mlu")
        except RuntimeError as e:
            return 0 if "forked" in str(e) else 2
        return 1
    assert fork_child(child) == 0
    assert torch.ones(2, device="mlu").sum().item() == 2.0   # the parent is unaffected


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_child_torch_mlu_calls_fail_cleanly(initialised):
    def child():
        if torch.mlu.is_available() or torch.mlu.device_count() != 0:
            return 1
        for call in (torch.mlu.current_device, torch.mlu.synchronize, torch.mlu.init,
                     lambda: torch.mlu.set_device(0)):
            try:
                call()
                return 2
            except RuntimeError as e:
                if "forked" not in str(e):
                    return 3
        torch.manual_seed(0)                   # seeds the CPU, skips mlu, does not raise
        return 0
    assert fork_child(child) == 0


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_child_not_touching_mlu_is_fine(initialised):
    def child():
        x = torch.arange(10.0)
        return 0 if (x * 2).sum().item() == 90.0 else 1
    assert fork_child(child) == 0


def test_fork_in_fresh_process(run_py):
    result = run_py("""
        import os, torch, torch_mlu
        x = torch.arange(4.0, device="mlu") * 2      # initialises mlu, runs on the fallback

        def child(touch):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    if touch:
                        torch.zeros(1, device="mlu")
                        code = 1
                    else:
                        code = 0 if torch.ones(3).sum().item() == 3 else 1
                except RuntimeError as e:
                    code = 3 if "forked" in str(e) else 2
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)

        print(child(True), child(False), x.cpu().tolist())
    """, timeout=60)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["3", "0", "[0.0,", "2.0,", "4.0,", "6.0]"], result


def test_fork_before_initialisation_lets_child_use_mlu(run_py):
    result = run_py("""
        import os, torch, torch_mlu
        pid = os.fork()
        if pid == 0:
            ok = torch.full((3,), 2.0, device="mlu").cpu().tolist() == [2.0, 2.0, 2.0]
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), torch.ones(1, device="mlu").item())
    """, timeout=60)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["0", "1.0"], result


def test_seeding_and_queries_before_fork_leave_the_child_usable(run_py):
    # Only device work starts threads; seeding, counting and properties do not.
    result = run_py("""
        import os, torch, torch_mlu
        torch.manual_seed(0)
        count = torch.mlu.device_count()
        name = torch.mlu.get_device_name(0)
        pid = os.fork()
        if pid == 0:
            ok = torch.rand(3, device="mlu").cpu().shape == (3,)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), count)
    """, timeout=60)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["0", "2"], result


def test_dataloader_fork_workers_after_initialisation(run_py):
    result = run_py("""
        import torch, torch_mlu
        from torch.utils.data import DataLoader, TensorDataset
        torch.ones(1, device="mlu")
        data = TensorDataset(torch.arange(32.0).view(16, 2))
        loader = DataLoader(data, batch_size=4, num_workers=2,
                            multiprocessing_context="fork")
        total = sum((batch.to("mlu") * 1).sum().item() for (batch,) in loader)
        print(total)
    """, timeout=120)
    assert result.returncode == 0, result
    assert result.stdout.split() == [str(float(sum(range(32))))], result
