"""torch.save / torch.load of mlu tensors and modules, with and without map_location."""

import io

import pytest
import torch
import torch.nn as nn


def saved(obj, tmp_path, name="obj.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_tensor_round_trip_keeps_device_and_values(tmp_path):
    cpu = torch.randn(4, 5)
    path = saved({"a": cpu.to("mlu"), "b": cpu.to("mlu:1").t(), "i": torch.arange(3, device="mlu")},
                 tmp_path)
    loaded = torch.load(path)
    assert loaded["a"].device == torch.device("mlu", 0)
    assert loaded["b"].device == torch.device("mlu", 1)
    assert torch.equal(loaded["a"].cpu(), cpu)
    assert torch.equal(loaded["b"].cpu(), cpu.t())
    assert loaded["b"].stride() == (1, 5)
    assert torch.equal(loaded["i"].cpu(), torch.arange(3))


def test_views_keep_sharing_storage_after_load(tmp_path):
    base = torch.arange(10.0, device="mlu")
    path = saved([base, base[2:5]], tmp_path)
    a, v = torch.load(path)
    v.fill_(-1.0)
    assert a[2:5].cpu().tolist() == [-1.0, -1.0, -1.0]


def test_state_dict_round_trip(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).to("mlu")
    model(torch.randn(6, 4, device="mlu"))      # updates the running statistics
    path = saved(model.state_dict(), tmp_path)
    state = torch.load(path)
    for key, value in model.state_dict().items():
        assert state[key].device.type == "mlu", key
        assert torch.equal(state[key].cpu(), value.cpu()), key
    fresh = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).to("mlu")
    fresh.load_state_dict(state)
    x = torch.randn(2, 4, device="mlu")
    model.eval(), fresh.eval()
    torch.testing.assert_close(fresh(x).cpu(), model(x).cpu())


def test_map_location_cpu(tmp_path):
    cpu = torch.randn(3, 3)
    path = saved({"t": cpu.to("mlu:1"), "sd": nn.Linear(2, 2).to("mlu").state_dict()}, tmp_path)
    loaded = torch.load(path, map_location="cpu")
    assert loaded["t"].device.type == "cpu"
    assert torch.equal(loaded["t"], cpu)
    assert all(v.device.type == "cpu" for v in loaded["sd"].values())


def test_map_location_mlu_for_cpu_saved_file(tmp_path):
    cpu = torch.randn(3, 3)
    model = nn.Linear(3, 2)
    path = saved({"t": cpu, "sd": model.state_dict()}, tmp_path)
    loaded = torch.load(path, map_location="mlu")
    assert loaded["t"].device == torch.device("mlu", 0)
    assert torch.equal(loaded["t"].cpu(), cpu)
    assert all(v.device.type == "mlu" for v in loaded["sd"].values())
    assert torch.equal(loaded["sd"]["weight"].cpu(), model.weight.detach())


def test_map_location_other_mlu_device(tmp_path):
    cpu = torch.randn(6)
    path = saved({"cpu": cpu, "mlu0": cpu.to("mlu:0")}, tmp_path)
    loaded = torch.load(path, map_location="mlu:1")
    assert loaded["cpu"].device == torch.device("mlu", 1)
    assert loaded["mlu0"].device == torch.device("mlu", 1)
    assert torch.equal(loaded["mlu0"].cpu(), cpu)
    remapped = torch.load(path, map_location={"mlu:0": "mlu:1"})
    assert remapped["mlu0"].device == torch.device("mlu", 1)
    assert remapped["cpu"].device.type == "cpu"
    as_device = torch.load(path, map_location=torch.device("mlu", 1))
    assert as_device["mlu0"].device.index == 1


def test_in_memory_buffer_and_every_dtype():
    tensors = {str(dt): torch.arange(6).to(dt).to("mlu")
               for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8,
                          torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)}
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)
    for key, value in tensors.items():
        assert loaded[key].dtype == value.dtype and loaded[key].device.type == "mlu"
        assert torch.equal(loaded[key].cpu(), value.cpu()), key


def test_loading_onto_missing_device_raises(tmp_path, run_py):
    path = saved(torch.arange(3.0, device="mlu:1"), tmp_path)
    result = run_py(f"""
        import torch, torch_mlu
        try:
            torch.load({str(path)!r})
            print("loaded")
        except RuntimeError as e:
            print("error:", e)
        print(torch.load({str(path)!r}, map_location="mlu:0").cpu().tolist())
    """, MLU_DEVICE_COUNT="1")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].startswith("error:") and "1" in lines[0], result
    assert lines[1] == "[0.0, 1.0, 2.0]", result
