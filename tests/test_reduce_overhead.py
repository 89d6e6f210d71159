"""torch.compile(mode="reduce-overhead") on mlu (torch_mlu/_reduce_overhead.py): compiled graphs on
one mlu device are recorded once as mlu graphs and replayed, with the results of eager mode, the
caller's tensors updated in place, and outputs that stay valid while they are referenced.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch._dynamo.utils import counters

import torch_mlu  # noqa: F401
from torch_mlu import _reduce_overhead

pytestmark = pytest.mark.skipif(not hasattr(torch.mlu, "MLUGraph"), reason="needs mlu graphs")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def skips():
    return counters["inductor"]["cudagraph_skips"]


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 8)).to("mlu")


def test_inference_replays_and_matches_eager_with_refilled_inputs():
    model = mlp().eval()
    compiled = torch.compile(model, mode="reduce-overhead")
    x = torch.empty(4, 16, device="mlu")
    replays, captures = _reduce_overhead.replays(), _reduce_overhead.captures()
    with torch.no_grad():
        for step in range(5):
            x.copy_(torch.randn(4, 16) * (step + 1))  # the same input tensor, new values
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
            if step == 1:
                # The first call warms up eagerly; the second records the graph and replays it.
                assert _reduce_overhead.captures() == captures + 1
    # Calls 2-5 replay one recording: each call's output is dropped before the next call.
    assert _reduce_overhead.replays() - replays == 4
    assert _reduce_overhead.captures() - captures == 1
    assert skips() == 0


def test_outputs_kept_by_the_caller_are_not_overwritten():
    f = torch.compile(lambda t: (t.sin() * 2).exp(), mode="reduce-overhead")
    xs = [torch.randn(64, device="mlu") for _ in range(6)]
    before = _reduce_overhead.replays()
    outs = [f(x) for x in xs]  # every output stays referenced
    assert _reduce_overhead.replays() > before
    for x, out in zip(xs, outs):
        torch.testing.assert_close(out, (x.sin() * 2).exp())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.bn = nn.BatchNorm1d(32)  # running statistics: buffers the forward updates in place
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.tanh(self.bn(self.fc1(x))))


def test_training_loop_matches_eager():
    torch.manual_seed(0)
    eager = Net().to("mlu")
    model = copy.deepcopy(eager)
    opt_eager = torch.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    compiled = torch.compile(model, mode="reduce-overhead")
    gen = torch.Generator().manual_seed(1)
    before = _reduce_overhead.replays()
    for step in range(6):
        x = torch.randn(8, 16, generator=gen).to("mlu")
        y = torch.randn(8, 4, generator=gen).to("mlu")
        losses = []
        for net, o in ((eager, opt_eager), (compiled, opt)):
            o.zero_grad()
            loss = F.mse_loss(net(x), y)
            loss.backward()
            o.step()
            losses.append(loss.item())
        torch.testing.assert_close(losses[1], losses[0], rtol=1e-4, atol=1e-5, msg=f"step {step}")
        for (name, p), q in zip(eager.named_parameters(), model.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=f"{name} at step {step}")
        for (name, b), c in zip(eager.named_buffers(), model.buffers()):
            torch.testing.assert_close(c, b, rtol=1e-4, atol=1e-5, msg=f"{name} at step {step}")
    # Forward replays from step 2 on (5); a backward graph is recorded on the second backward
    # that reads a given recording's saved tensors, so the backward replays at least twice.
    assert _reduce_overhead.replays() - before >= 7
    assert skips() == 0


def test_inputs_the_graph_mutates_are_updated_in_the_callers_tensors():
    def accumulate(total, t):
        total.add_(t)
        return (total * t).sum()

    f = torch.compile(accumulate, mode="reduce-overhead")
    total, expected = torch.zeros(32, device="mlu"), torch.zeros(32, device="mlu")
    before = _reduce_overhead.replays()
    for _ in range(4):
        t = torch.randn(32, device="mlu")
        got = f(total, t)
        want = accumulate(expected, t)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(total, expected)
    assert _reduce_overhead.replays() > before


def test_symbolic_sizes_get_a_recording_per_size():
    f = torch.compile(lambda t: (t * t).sum(-1) / t.shape[-1], mode="reduce-overhead",
                      dynamic=True)
    before = _reduce_overhead.replays()
    for n in (5, 9, 5, 9, 5, 9):
        x = torch.randn(3, n, device="mlu")
        torch.testing.assert_close(f(x), (x * x).sum(-1) / n)
    assert _reduce_overhead.replays() - before >= 2


def test_random_numbers_differ_between_replays():
    f = torch.compile(lambda t: F.dropout(t, 0.5, training=True), mode="reduce-overhead")
    x = torch.ones(4096, device="mlu")
    before = _reduce_overhead.replays()
    masks = [(f(x) != 0).cpu() for _ in range(4)]
    assert _reduce_overhead.replays() - before >= 2
    assert not torch.equal(masks[2], masks[3])
    assert 0.4 < masks[3].float().mean().item() < 0.6


def test_graphs_reading_cpu_scalars_run_without_recording():
    # A kernel takes a CPU scalar's value when enqueued: a recording would replay the old value.
    scale = torch.tensor(2.0)
    x = torch.randn(32, device="mlu")
    f = torch.compile(lambda t, s: (t * s).exp(), mode="reduce-overhead")
    before = _reduce_overhead.replays()
    for value in (2.0, 3.0, 4.0):
        scale.fill_(value)
        torch.testing.assert_close(f(x, scale), (x * value).exp())
    assert _reduce_overhead.replays() == before
    assert skips() >= 1


def test_cpu_graphs_are_left_to_inductor():
    x = torch.randn(5, 7)
    f = torch.compile(lambda t: (t.exp() + 1).log().mean(0), mode="reduce-overhead")
    before = _reduce_overhead.replays()
    for _ in range(3):
        torch.testing.assert_close(f(x), (x.exp() + 1).log().mean(0))
    assert _reduce_overhead.replays() == before
