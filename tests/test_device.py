"""Devices: availability, count, selection, properties, errors and the environment."""

import pytest
import torch

GiB = 2**30


def test_available_with_two_devices_by_default():
    assert torch.mlu.is_available()
    assert torch.mlu.device_count() == 2


def test_torch_is_mlu_available_as_mmengine_asks(run_py):
    assert torch.is_mlu_available() is True
    result = run_py("""
        import torch, torch_mlu
        print(torch.is_mlu_available())
    """, MLU_VISIBLE_DEVICES="")
    assert result.returncode == 0 and result.stdout.strip() == "False", result


def test_set_device_changes_current_device_and_default_placement():
    assert torch.mlu.current_device() == 0
    torch.mlu.set_device(1)
    assert torch.mlu.current_device() == 1
    assert torch.empty(1, device="mlu").device == torch.device("mlu", 1)
    torch.mlu.set_device("mlu:0")
    assert torch.mlu.current_device() == 0
    torch.mlu.set_device(torch.device("mlu", 1))
    assert torch.mlu.current_device() == 1


def test_device_context_manager_restores_previous_device():
    with torch.mlu.device(1):
        assert torch.mlu.current_device() == 1
        assert torch.zeros(2, device="mlu").device.index == 1
        with torch.mlu.device("mlu:0"):
            assert torch.mlu.current_device() == 0
        assert torch.mlu.current_device() == 1
    assert torch.mlu.current_device() == 0


def test_device_context_manager_restores_after_exception():
    with pytest.raises(KeyError):
        with torch.mlu.device(1):
            raise KeyError("boom")
    assert torch.mlu.current_device() == 0


def test_device_name_and_properties():
    for index in range(2):
        props = torch.mlu.get_device_properties(index)
        assert props.total_memory == 8 * GiB
        assert props.name == torch.mlu.get_device_name(index)
        assert isinstance(props.name, str) and props.name
        assert props.multi_processor_count >= 1
    assert torch.mlu.get_device_name() == torch.mlu.get_device_name(0)
    assert torch.mlu.get_device_properties("mlu:1").total_memory == 8 * GiB


def test_a_process_on_one_core_gets_one_kernel_thread(run_py):
    # taskset or a container's cpuset: the host may have more cores than the process may use.
    result = run_py("""
        import os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        import torch
        from torch_mlu import _C
        x = torch.ones(1 << 20, device="mlu")
        print(_C._operations_info()["threads"], torch.mlu.get_device_properties(0).multi_processor_count,
              int(x.sum().item()))
    """)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["1", "1", str(1 << 20)], result


def test_synchronize_waits_for_queued_work():
    x = torch.arange(1000, dtype=torch.float32, device="mlu")
    x.fill_(3.0)
    torch.mlu.synchronize()
    torch.mlu.synchronize(1)
    torch.mlu.synchronize("mlu:0")
    assert torch.equal(x.cpu(), torch.full((1000,), 3.0))


@pytest.mark.parametrize("make", [
    lambda: torch.empty(1, device="mlu:5"),
    lambda: torch.zeros(3, device="mlu:5"),
    lambda: torch.ones(2).to("mlu:5"),
])
def test_invalid_device_index_names_index_and_count(make):
    with pytest.raises(RuntimeError) as info:
        make()
    message = str(info.value)
    assert "5" in message and "2 MLU devices" in message


def test_set_device_out_of_range_raises_and_keeps_current():
    with pytest.raises(RuntimeError, match=r"7.*2 MLU devices"):
        torch.mlu.set_device(7)
    assert torch.mlu.current_device() == 0
    with pytest.raises(RuntimeError, match="-3|index"):
        torch.mlu.get_device_properties(-3)
    with pytest.raises(RuntimeError, match="9"):
        torch.mlu.synchronize(9)


def test_device_context_with_invalid_index_raises():
    with pytest.raises(RuntimeError, match="4"):
        with torch.mlu.device(4):
            pass
    assert torch.mlu.current_device() == 0


def test_device_count_and_memory_follow_environment(run_py):
    code = """
        import torch, torch_mlu
        print(torch.mlu.device_count(), torch.mlu.get_device_properties(0).total_memory)
    """
    cases = [
        (dict(MLU_DEVICE_COUNT="3"), "3 8589934592"),
        (dict(MLU_VISIBLE_DEVICES="1"), "1 8589934592"),
        (dict(MLU_VISIBLE_DEVICES="1,0"), "2 8589934592"),
        (dict(MLU_DEVICE_COUNT="4", MLU_VISIBLE_DEVICES="3,2,1"), "3 8589934592"),
        (dict(MLU_DEVICE_MEMORY="512M"), "2 536870912"),
        (dict(MLU_DEVICE_MEMORY="1G", MLU_DEVICE_COUNT="1"), "1 1073741824"),
    ]
    for env, expected in cases:
        result = run_py(code, **env)
        assert result.returncode == 0, (env, result)
        assert result.stdout.split() == expected.split(), (env, result)


def test_environment_limits_reach_tensors(run_py):
    result = run_py("""
        import torch, torch_mlu
        try:
            torch.empty(1, device="mlu:1")
        except RuntimeError as e:
            print("index error:", e)
        kept = torch.empty(2**20, dtype=torch.uint8, device="mlu")
        try:
            torch.empty(2 * 2**20, dtype=torch.uint8, device="mlu")
        except torch.OutOfMemoryError:
            print("oom")
        print(torch.mlu.mem_get_info()[1])
    """, MLU_VISIBLE_DEVICES="1", MLU_DEVICE_MEMORY="2M")
    assert result.returncode == 0, result
    assert "index error:" in result.stdout and "1 MLU device" in result.stdout, result
    assert "oom" in result.stdout, result
    assert result.stdout.split()[-1] == str(2 * 2**20), result


def test_zero_visible_devices_is_unavailable(run_py):
    result = run_py("""
        import torch, torch_mlu
        print(torch.mlu.is_available(), torch.mlu.device_count())
        try:
            torch.empty(1, device="mlu")
        except RuntimeError as e:
            print("raised")
    """, MLU_DEVICE_COUNT="0")
    assert result.returncode == 0, result
    assert result.stdout.split() == ["False", "0", "raised"], result


def test_plain_import_torch_autoloads_mlu(run_py):
    result = run_py("""
        import sys
        import torch
        assert "torch_mlu" in sys.modules, "backend autoload did not import torch_mlu"
        x = torch.arange(4.0, device="mlu")
        print(x.device, (x * 2).cpu().tolist(), torch.mlu.device_count())
    """)
    assert result.returncode == 0, result
    assert result.stdout.strip() == "mlu:0 [0.0, 2.0, 4.0, 6.0] 2", result


@pytest.mark.skipif(not hasattr(torch, "accelerator"), reason="torch.accelerator needs torch >= 2.6")
def test_torch_accelerator_reports_mlu():
    assert torch.accelerator.is_available()
    assert torch.accelerator.current_accelerator() == torch.device("mlu")
    assert torch.accelerator.device_count() == 2
    torch.accelerator.set_device_index(1)
    assert torch.accelerator.current_device_index() == 1
    assert torch.mlu.current_device() == 1
    torch.accelerator.synchronize()


@pytest.mark.skipif(not hasattr(torch, "accelerator"), reason="torch.accelerator needs torch >= 2.6")
def test_torch_accelerator_stream_is_mlu_stream():
    s = torch.accelerator.current_stream()
    assert s.device == torch.device("mlu", 0)
    assert s.stream_id == torch.mlu.current_stream().stream_id
