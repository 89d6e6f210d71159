"""torch.compile(model, backend="mlu") (torch_mlu/_compile.py): linear/convolution + activation
pairs become the kernel library's fused kernels and eval batch norms fold into convolutions, then
Inductor compiles the graph, with the results and gradients of eager mode."""

import pathlib
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torch_mlu  # noqa: F401
from torch_mlu import _compile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


class Mixed(nn.Module):
    """Every fusable pattern, and one of each that must stay as it is."""

    def __init__(self):
        super().__init__()
        self.up, self.down = nn.Linear(16, 32), nn.Linear(32, 16)
        self.head = nn.Linear(16, 4, bias=False)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.same = nn.Conv2d(8, 8, 3, padding="same")
        self.act = nn.ReLU(inplace=True)

    def forward(self, x, image):
        h = F.silu(self.down(nn.functional.gelu(self.up(x), approximate="tanh")))
        kept = self.up(h)  # used twice: not fused
        y = torch.relu(self.head(h)) + F.relu(kept).sum(-1, keepdim=True) + kept.mean(-1, True)
        z = self.act(self.same(self.act(self.conv(image))))
        return y, z.mean((2, 3))


def recording_backend(codes):
    def backend(gm, example_inputs):
        compiled = _compile.mlu_backend(gm, example_inputs)
        codes.append(gm.code)
        return compiled
    return backend


def inputs(device):
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 16, generator=g).to(device), torch.randn(2, 3, 6, 6, generator=g).to(device)


def test_fuses_the_pairs_and_matches_eager_with_gradients():
    torch.manual_seed(0)
    model = Mixed().to("mlu")
    codes = []
    compiled = torch.compile(model, backend=recording_backend(codes))
    torch.mlu.reset_fallback_stats()
    got = compiled(*inputs("mlu"))
    (got[0].sum() + got[1].sum()).backward()
    assert not torch.mlu.fallback_stats(), sorted(torch.mlu.fallback_stats())
    compiled_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    expected = model(*inputs("mlu"))
    (expected[0].sum() + expected[1].sum()).backward()
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)
    for g, p in zip(compiled_grads, model.parameters()):
        torch.testing.assert_close(g, p.grad)
    (code,) = codes
    # up + gelu_tanh, down + silu, head + relu, conv + relu; padding="same" is left to eager.
    assert code.count("linear_act(") == 3 and code.count("conv_relu(") == 1, code
    assert "'gelu_tanh'" in code and "'silu'" in code and "'relu'" in code


def test_backend_is_registered_by_name_and_follows_autocast():
    assert "mlu" in torch._dynamo.list_backends()
    torch.manual_seed(0)
    model = Mixed().to("mlu")
    compiled = torch.compile(model, backend="mlu")
    with torch.autocast("mlu", dtype=torch.bfloat16):
        got = compiled(*inputs("mlu"))
        expected = model(*inputs("mlu"))
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        torch.testing.assert_close(g.float(), e.float(), rtol=3e-2, atol=3e-2)


def test_cpu_graphs_and_new_shapes_run_unchanged():
    torch.manual_seed(0)
    model = Mixed()
    codes = []
    compiled = torch.compile(model, backend=recording_backend(codes))
    with torch.no_grad():
        for batch in (5, 9):
            x = torch.randn(batch, 16)
            image = torch.randn(2, 3, 6, 6)
            for g, e in zip(compiled(x, image), model(x, image)):
                torch.testing.assert_close(g, e)
    assert codes and not any("linear_act" in c or "conv_relu" in c for c in codes)


@pytest.mark.parametrize("name", ["gpt", "resnet18"])
def test_compiled_training_steps_match_cpu(name):
    workload = workloads.WORKLOADS[name]
    losses = {}
    for device in ("mlu", "cpu"):
        torch._dynamo.reset()
        model, optimizer = workloads.build(workload, device)
        compiled = torch.compile(model, backend="mlu") if device == "mlu" else model
        gen = torch.Generator().manual_seed(1)
        torch.mlu.reset_fallback_stats()
        losses[device] = []
        for _ in range(2):
            batch = workloads.to_device(workload.make_batch(gen), device)
            losses[device].append(
                workloads.train_step(workload, compiled, optimizer, batch).item())
        if device == "mlu":
            assert not torch.mlu.fallback_stats(), sorted(torch.mlu.fallback_stats())
    torch.testing.assert_close(torch.tensor(losses["mlu"]), torch.tensor(losses["cpu"]),
                               rtol=2e-3, atol=2e-4)


class ConvNormRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(8)
        self.shortcut = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8, affine=False))

    def forward(self, x):
        return F.relu(self.norm(self.conv(x))) + self.shortcut(x)


def test_eval_batch_norms_fold_into_convolutions_until_their_statistics_change():
    torch.manual_seed(0)
    model = ConvNormRelu().to("mlu")
    model.train()(torch.randn(4, 3, 6, 6, device="mlu"))  # running statistics that are not 0/1
    model.eval()
    codes = []
    compiled = torch.compile(model, backend=recording_backend(codes))
    x = torch.randn(2, 3, 6, 6, device="mlu")
    with torch.no_grad():
        for _ in range(2):  # the second call reuses the folded weights
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-5)
        model.norm.running_var.mul_(4)
        model.shortcut[1].running_mean.add_(1)
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-5)
    (code,) = codes
    assert code.count("fold_batch_norm(") == 2 and code.count("conv_relu(") == 1, code
    assert "batch_norm(" not in code.replace("fold_batch_norm(", "")


def test_training_batch_norms_stay_and_eval_folds_keep_gradients():
    torch.manual_seed(0)
    model = ConvNormRelu().to("mlu")
    codes = []
    compiled = torch.compile(model, backend=recording_backend(codes))
    x = torch.randn(2, 3, 6, 6, device="mlu")
    compiled(x).sum().backward()  # training mode: batch statistics, nothing folded
    assert "fold_batch_norm" not in codes[0]
    model.eval()
    model.zero_grad()
    compiled(x).sum().backward()  # eval mode with gradients: folded, differentiated through
    assert "fold_batch_norm" in codes[-1]
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(grads, model.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-5)
