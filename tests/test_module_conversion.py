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
