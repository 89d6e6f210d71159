"""Module.to / .mlu / .cpu keep tied parameters tied and Parameter objects alive."""

import torch
from torch import nn

import torch_mlu  # noqa: F401


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight
        self.register_buffer("scale", torch.ones(1))


def test_tied_weights_stay_tied_across_devices_and_dtypes():
    model = Tied()
    weight = model.embed.weight
    for convert in (lambda m: m.to("mlu"), lambda m: m.to(torch.float64), lambda m: m.cpu(),
                    lambda m: m.mlu(), lambda m: m.to("mlu:1"), lambda m: m.to("cpu", torch.float32)):
        model = convert(model)
        assert model.head.weight is model.embed.weight
        assert model.embed.weight is weight  # the same Parameter object throughout
    assert model.embed.weight.device.type == "cpu" and model.scale.device.type == "cpu"


def test_tied_gradient_accumulates_both_uses_on_mlu():
    torch.manual_seed(0)
    cpu = Tied()
    mlu = Tied()
    mlu.load_state_dict(cpu.state_dict())
    mlu.to("mlu")
    idx = torch.tensor([1, 2, 3])
    cpu.head(cpu.embed(idx)).sum().backward()
    mlu.head(mlu.embed(idx.to("mlu"))).sum().backward()
    torch.testing.assert_close(mlu.embed.weight.grad.cpu(), cpu.embed.weight.grad)


def test_optimizer_built_before_moving_updates_the_moved_parameters():
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model.to("mlu")
    model(torch.ones(1, 3, device="mlu")).sum().backward()
    before = model.bias.detach().cpu().clone()
    optimizer.step()
    assert model.bias.device.type == "mlu"
    torch.testing.assert_close(model.bias.detach().cpu(), before - 1.0)


def test_parameter_data_moves_between_cpu_and_mlu_in_place():
    param = nn.Parameter(torch.zeros(3))
    param.data = torch.arange(3.0).to("mlu")
    assert param.device.type == "mlu"
    param.data = param.data.cpu()
    torch.testing.assert_close(param.detach(), torch.arange(3.0))
    assert torch._has_compatible_shallow_copy_type(param, torch.zeros(1, device="mlu"))


def test_sparse_and_dense_stay_incompatible():
    sparse = torch.zeros(2).to_sparse()
    assert not torch._has_compatible_shallow_copy_type(torch.zeros(2, device="mlu"), sparse)
    assert not torch._has_compatible_shallow_copy_type(sparse, torch.zeros(2, device="mlu"))


def test_model_moves_to_cpu_while_other_references_hold_its_parameters():
    # DDP, FSDP and accelerate keep references to parameters; a swap-based move would fail.
    model = nn.Linear(3, 2).to("mlu")
    held = list(model.parameters()) * 3
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model(torch.ones(1, 3, device="mlu")).sum().backward()
    optimizer.step()
    model.cpu()
    assert all(p.device.type == "cpu" for p in held)
    assert held[0] is model.weight


def test_moving_to_mlu_keeps_autograd_history_out_of_the_new_data():
    param = nn.Parameter(torch.ones(2))
    (param * 3).sum().backward()
    param.data = param.data.to("mlu")
    param.grad = None
    (param * 2).sum().backward()
    assert param.grad.device.type == "mlu"
    torch.testing.assert_close(param.grad.cpu(), torch.full((2,), 2.0))
