"""Training on mlu: forward, backward and optimizer steps agree with the same run on the CPU."""

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

TOL = dict(rtol=1e-4, atol=1e-4)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=1, padding=1, bias=False)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def make_mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                         nn.LayerNorm(32), nn.Linear(32, 4))


def assert_grads_match(cpu_model, mlu_model):
    for (name, p), (_, q) in zip(cpu_model.named_parameters(), mlu_model.named_parameters()):
        assert q.grad is not None and q.grad.device.type == "mlu", name
        torch.testing.assert_close(q.grad.cpu(), p.grad, **TOL, msg=name)


def test_mlp_forward_backward_matches_cpu():
    torch.manual_seed(0)
    cpu_model = make_mlp()
    mlu_model = copy.deepcopy(cpu_model).to("mlu")
    x, y = torch.randn(16, 12), torch.randint(0, 4, (16,))
    cpu_loss = F.cross_entropy(cpu_model(x), y)
    mlu_loss = F.cross_entropy(mlu_model(x.to("mlu")), y.to("mlu"))
    assert mlu_loss.device.type == "mlu"
    torch.testing.assert_close(mlu_loss.cpu(), cpu_loss, **TOL)
    cpu_loss.backward()
    mlu_loss.backward()
    assert_grads_match(cpu_model, mlu_model)


def test_cnn_forward_backward_matches_cpu():
    torch.manual_seed(1)
    cpu_model = SmallCNN()
    mlu_model = copy.deepcopy(cpu_model).to("mlu")
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    cpu_x, mlu_x = x.clone().requires_grad_(), x.to("mlu").requires_grad_()
    cpu_loss = F.cross_entropy(cpu_model(cpu_x), y)
    mlu_loss = F.cross_entropy(mlu_model(mlu_x), y.to("mlu"))
    torch.testing.assert_close(mlu_loss.cpu(), cpu_loss, **TOL)
    cpu_loss.backward()
    mlu_loss.backward()
    assert_grads_match(cpu_model, mlu_model)
    torch.testing.assert_close(mlu_x.grad.cpu(), cpu_x.grad, **TOL)
    # batch norm's running statistics were updated the same way
    torch.testing.assert_close(mlu_model.bn1.running_mean.cpu(), cpu_model.bn1.running_mean, **TOL)
    torch.testing.assert_close(mlu_model.bn1.running_var.cpu(), cpu_model.bn1.running_var, **TOL)
    assert mlu_model.bn1.num_batches_tracked.item() == 1


def test_eval_mode_matches_cpu():
    torch.manual_seed(2)
    cpu_model = SmallCNN().eval()
    mlu_model = copy.deepcopy(cpu_model).to("mlu")
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(mlu_model(x.to("mlu")).cpu(), cpu_model(x), **TOL)


def test_gradient_accumulates_across_backward_calls():
    w_cpu = torch.randn(5, requires_grad=True)
    w_mlu = w_cpu.detach().to("mlu").requires_grad_()
    for w in (w_cpu, w_mlu):
        (w * w).sum().backward()
        (3 * w).sum().backward()
    torch.testing.assert_close(w_mlu.grad.cpu(), w_cpu.grad, **TOL)
    torch.testing.assert_close(w_cpu.grad, 2 * w_cpu.detach() + 3, **TOL)


def test_backward_through_views_and_indexing():
    x_cpu = torch.randn(4, 6, requires_grad=True)
    x_mlu = x_cpu.detach().to("mlu").requires_grad_()
    idx = torch.tensor([3, 0, 3])
    for x, i in ((x_cpu, idx), (x_mlu, idx.to("mlu"))):
        y = x.t()[1:, ::2].sum() + x[i].pow(2).sum() + x.diagonal().exp().sum()
        y.backward()
    torch.testing.assert_close(x_mlu.grad.cpu(), x_cpu.grad, **TOL)


def test_dropout_backward_uses_the_forward_mask():
    x = torch.ones(1000, device="mlu", requires_grad=True)
    y = F.dropout(x, p=0.5, training=True)
    y.sum().backward()
    torch.testing.assert_close(x.grad.cpu(), y.detach().cpu(), rtol=0, atol=0)


@pytest.mark.parametrize("make_optimizer", [
    lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-3),
    lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
    lambda params: torch.optim.AdamW(params, lr=1e-2, foreach=True),
    lambda params: torch.optim.Adam(params, lr=1e-2, amsgrad=True),
], ids=["sgd-momentum", "sgd-nesterov", "adamw", "adamw-foreach", "adam-amsgrad"])
def test_optimizer_steps_match_cpu(make_optimizer):
    torch.manual_seed(3)
    cpu_model = make_mlp()
    mlu_model = copy.deepcopy(cpu_model).to("mlu")
    cpu_opt = make_optimizer(cpu_model.parameters())
    mlu_opt = make_optimizer(mlu_model.parameters())
    for step in range(3):
        x, y = torch.randn(8, 12), torch.randint(0, 4, (8,))
        for model, opt, device in ((cpu_model, cpu_opt, "cpu"), (mlu_model, mlu_opt, "mlu")):
            opt.zero_grad()
            F.cross_entropy(model(x.to(device)), y.to(device)).backward()
            opt.step()
    for (name, p), (_, q) in zip(cpu_model.named_parameters(), mlu_model.named_parameters()):
        assert q.device.type == "mlu"
        torch.testing.assert_close(q.detach().cpu(), p.detach(), **TOL, msg=name)
    # the optimizer's state lives on the device too
    for state in mlu_opt.state.values():
        for value in state.values():
            if torch.is_tensor(value) and value.dim() > 0:
                assert value.device.type == "mlu"


def test_training_loop_reduces_loss():
    torch.manual_seed(4)
    model = make_mlp().to("mlu")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(32, 12, device="mlu"), torch.randint(0, 4, (32,), device="mlu")
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


BACKWARD_THREADS = """
import threading, torch
seen = []
w = torch.ones(3, device="mlu", requires_grad=True)
w.register_hook(lambda g: seen.append(threading.get_ident()))
(w * 2).sum().backward()
print("caller" if seen == [threading.get_ident()] else "other", w.grad.cpu().tolist())
"""


@pytest.mark.parametrize("setting, thread", [(None, "caller"), ("caller", "caller"),
                                             ("device", "other")])
def test_backward_runs_on_the_thread_that_TORCH_MLU_BACKWARD_THREAD_names(setting, thread):
    from conftest import run_python
    env = {} if setting is None else {"TORCH_MLU_BACKWARD_THREAD": setting}
    result = run_python(BACKWARD_THREADS, **env)
    assert result.returncode == 0, result
    assert result.stdout.split("\n")[0] == f"{thread} [2.0, 2.0, 2.0]", result


def test_a_bad_TORCH_MLU_BACKWARD_THREAD_is_named_at_import():
    from conftest import run_python
    result = run_python("import torch_mlu", TORCH_MLU_BACKWARD_THREAD="gpu")
    assert result.returncode != 0
    assert "TORCH_MLU_BACKWARD_THREAD must be caller or device, got 'gpu'" in result.stderr


def test_backward_across_two_devices_and_a_side_stream_on_the_calling_thread():
    # The engine sets each node's device and stream itself; the caller's stay as they were.
    assert torch.mlu.device_count() >= 2
    cpu_model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
    first, second = copy.deepcopy(cpu_model[:2]).to("mlu:0"), copy.deepcopy(cpu_model[2]).to("mlu:1")
    x = torch.randn(5, 6)
    side = torch.mlu.Stream("mlu:0")
    with torch.mlu.stream(side):
        hidden = first(x.to("mlu:0"))
    side.synchronize()
    second(hidden.to("mlu:1")).square().sum().backward()
    cpu_model(x).square().sum().backward()
    assert torch.mlu.current_device() == 0
    assert torch.mlu.current_stream("mlu:0") == torch.mlu.default_stream("mlu:0")
    for p, q in zip(cpu_model.parameters(), [*first.parameters(), *second.parameters()]):
        torch.testing.assert_close(q.grad.cpu(), p.grad, **TOL)
    assert [q.grad.device.index for q in [*first.parameters(), *second.parameters()]] == [0, 0, 1, 1]
