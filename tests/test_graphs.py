"""Graph capture and replay: torch.mlu.MLUGraph, torch.mlu.graph, graph pools,
make_graphed_callables and torch.accelerator.Graph; what cannot be captured raises and leaves the
device usable."""

import pytest
import torch
import torch.nn.functional as F

mlu = torch.device("mlu")


def capture(fn, pool=None):
    g = torch.mlu.MLUGraph()
    with torch.mlu.graph(g, pool=pool):
        out = fn()
    return g, out


def test_replay_reruns_captured_work_with_refilled_inputs():
    x = torch.ones(4, device=mlu)
    y = torch.zeros(4, device=mlu)
    g, _ = capture(lambda: y.copy_(x * 2 + 1))
    assert torch.equal(y.cpu(), torch.zeros(4))  # capturing runs nothing
    g.replay()
    assert torch.equal(y.cpu(), torch.full((4,), 3.0))
    x.copy_(torch.arange(4.0))
    g.replay()
    assert torch.equal(y.cpu(), torch.arange(4.0) * 2 + 1)
    assert g.work_names() == ["binary", "binary", "copy"]


def test_outputs_made_during_capture_are_static_and_overwritten():
    x = torch.ones(3, device=mlu)
    g, out = capture(lambda: torch.relu(x - 2) + x)
    for value in (1.0, 5.0):
        x.fill_(value)
        g.replay()
        assert torch.equal(out.cpu(), torch.relu(torch.full((3,), value) - 2) + value)


def test_replay_is_ordered_with_eager_work_on_the_current_stream():
    a = torch.randn(512, 512, device=mlu)
    x = torch.zeros(1, device=mlu)
    g, out = capture(lambda: x + 1)
    s = torch.mlu.Stream()
    with torch.mlu.stream(s):
        for _ in range(4):
            a = a @ a / 512
        x.fill_(41)  # queued behind the matmuls on s
        g.replay()   # reads x after the fill
    s.synchronize()
    assert out.item() == 42.0


def test_in_place_updates_accumulate_across_replays():
    w = torch.zeros(5, device=mlu)
    g, _ = capture(lambda: w.add_(1))
    for _ in range(3):
        g.replay()
    assert torch.equal(w.cpu(), torch.full((5,), 3.0))


def test_dropout_draws_fresh_numbers_each_replay_and_matches_eager_for_a_seed():
    a = torch.ones(4096, device=mlu)
    g, out = capture(lambda: F.dropout(a, 0.5) + torch.rand(4096, device=mlu))
    torch.mlu.manual_seed(7)
    g.replay()
    first = out.cpu()
    g.replay()
    second = out.cpu()
    assert not torch.equal(first, second)
    torch.mlu.manual_seed(7)
    eager = (F.dropout(a, 0.5) + torch.rand(4096, device=mlu)).cpu()
    assert torch.equal(first, eager)


def test_other_generators_cannot_be_captured():
    gen = torch.Generator(device="mlu")
    g = torch.mlu.MLUGraph()
    with pytest.raises(RuntimeError, match="default generator"):
        with torch.mlu.graph(g):
            torch.rand(4, device=mlu, generator=gen)
    assert torch.rand(2, device=mlu, generator=gen).shape == (2,)


def _refused(fn):
    """fn inside a capture raises; the device and a later capture still work."""
    x = torch.ones(4, device=mlu)
    g = torch.mlu.MLUGraph()
    with pytest.raises(RuntimeError) as info:
        with torch.mlu.graph(g):
            fn(x)
    assert not torch.mlu.is_current_stream_capturing()
    assert (x + 1).sum().item() == 8.0
    g.reset()
    again, out = capture(lambda: x * 3)
    again.replay()
    assert out.sum().item() == 12.0
    return str(info.value)


@pytest.mark.parametrize("operation, message", [
    (lambda x: x.sum().item(), r"\.item\(\)"),
    (lambda x: torch.mlu.synchronize(), "device synchronize"),
    (lambda x: torch.mlu.current_stream().synchronize(), "synchronize"),
    (lambda x: torch.mlu.current_stream().query(), "query"),
    (lambda x: x.cpu(), "pageable"),
    (lambda x: x.copy_(torch.ones(4)), "pageable"),
    (lambda x: torch.logcumsumexp(x, 0), "aten::_logcumsumexp' runs on the CPU fallback"),
])
def test_operations_that_cannot_be_captured_raise_naming_them(operation, message):
    import re
    text = _refused(operation)
    assert re.search(message, text), text
    assert "cannot" in text


def test_allocation_outside_the_pool_raises():
    other = torch.mlu.Stream()

    def allocate_on_other_stream(x):
        with torch.mlu.stream(other):
            torch.empty(1024, device=mlu)

    assert "outside the graph's private pool" in _refused(allocate_on_other_stream)


def test_misuse_raises_clear_errors():
    g = torch.mlu.MLUGraph()
    with pytest.raises(RuntimeError, match="holds no capture"):
        g.replay()
    with pytest.raises(RuntimeError, match="not capturing"):
        g.capture_end()
    with pytest.raises(RuntimeError, match="default stream"):
        g.capture_begin()
    with pytest.raises(ValueError, match="capture_error_mode"):
        g.capture_begin(capture_error_mode="loud")
    x = torch.ones(2, device=mlu)
    g, _ = capture(lambda: x.mul_(2))
    with pytest.raises(RuntimeError, match="already holds a capture"):
        with torch.mlu.graph(g):
            pass
    g.reset()
    g2, _ = capture(lambda: x.mul_(2))
    g2.replay()
    assert x.sum().item() == 4.0  # one replay doubles the ones


def test_a_second_capture_on_the_device_raises():
    """The default generator serves one capture at a time (CUDA allows two)."""
    x = torch.ones(2, device=mlu)
    first, second = torch.mlu.MLUGraph(), torch.mlu.MLUGraph()
    with torch.mlu.graph(first):
        y = x * 2
        with pytest.raises(RuntimeError, match="already used by a graph capture"):
            with torch.mlu.stream(torch.mlu.Stream()):
                second.capture_begin()
        assert not second.captured()
    first.replay()
    assert torch.equal(y.cpu(), torch.full((2,), 2.0))


def test_is_current_stream_capturing():
    assert not torch.mlu.is_current_stream_capturing()
    seen = []
    capture(lambda: seen.append(torch.mlu.is_current_stream_capturing()))
    assert seen == [True]
    assert not torch.mlu.is_current_stream_capturing()


def test_private_pool_keeps_memory_until_reset_and_graphs_can_share_it():
    torch.mlu.synchronize()
    torch.mlu.empty_cache()
    x = torch.ones(256 * 1024, device=mlu)  # 1 MiB
    with_x = torch.mlu.memory_reserved()

    def chain():
        return ((x + 1) * 2 - 3).sum()

    g1, o1 = capture(chain)
    del o1
    torch.mlu.empty_cache()
    held = torch.mlu.memory_reserved()
    assert held >= with_x + x.numel() * 4  # the pool keeps the capture's blocks
    g1.replay()

    # A second graph in the same pool reuses its free blocks.
    g2, o2 = capture(chain, pool=g1.pool())
    assert torch.mlu.memory_reserved() == held
    g2.replay()
    assert o2.item() == pytest.approx(x.numel() * 1.0)

    g1.reset()
    torch.mlu.empty_cache()
    assert torch.mlu.memory_reserved() == held  # g2 still uses the pool
    g2.reset()
    del o2
    torch.mlu.empty_cache()
    assert torch.mlu.memory_reserved() == with_x


def test_graph_pool_handle_shares_memory_between_graphs():
    h = torch.mlu.graph_pool_handle()
    assert h != torch.mlu.graph_pool_handle()
    x = torch.ones(1024, device=mlu)
    g1, a = capture(lambda: x * 2, pool=h)
    g2, b = capture(lambda: a + 1, pool=h)
    g1.replay()
    g2.replay()
    assert torch.equal(b.cpu(), torch.full((1024,), 3.0))


def test_capture_on_a_second_device():
    if torch.mlu.device_count() < 2:
        pytest.skip("needs two mlu devices (MLU_DEVICE_COUNT)")
    with torch.mlu.device(1):
        x = torch.ones(3, device="mlu:1")
        g, out = capture(lambda: x * 5)
        g.replay()
    assert out.device == torch.device("mlu", 1)
    assert torch.equal(out.cpu(), torch.full((3,), 5.0))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(32, 4))


@pytest.mark.parametrize("make_optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=0.01, capturable=True),
], ids=["sgd_momentum", "adam_capturable"])
def test_whole_training_step_replays_like_eager(make_optimizer):
    torch.manual_seed(1)
    data = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(6)]

    def eager_run():
        model = _model().to(mlu)
        opt = make_optimizer(model.parameters())
        torch.mlu.manual_seed(3)
        losses = []
        for x, y in data:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x.to(mlu)), y.to(mlu))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, model

    def replayed_run():
        model = _model().to(mlu)
        opt = make_optimizer(model.parameters())
        static_x = data[0][0].to(mlu)
        static_y = data[0][1].to(mlu)
        # State created by a first eager step on a side stream, as CUDA graphs need too.
        side = torch.mlu.Stream()
        side.wait_stream(torch.mlu.current_stream())
        with torch.mlu.stream(side):
            torch.mlu.manual_seed(3)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(static_x), static_y)
            loss.backward()
            opt.step()
            first = loss.item()
        torch.mlu.current_stream().wait_stream(side)
        g = torch.mlu.MLUGraph()
        opt.zero_grad(set_to_none=True)
        with torch.mlu.graph(g):
            static_loss = F.cross_entropy(model(static_x), static_y)
            static_loss.backward()
            opt.step()
        losses = [first]
        for x, y in data[1:]:
            static_x.copy_(x.to(mlu))
            static_y.copy_(y.to(mlu))
            g.replay()
            losses.append(static_loss.item())
        return losses, model

    eager_losses, eager_model = eager_run()
    replay_losses, replay_model = replayed_run()
    assert replay_losses == pytest.approx(eager_losses, rel=1e-5, abs=1e-6)
    for a, b in zip(eager_model.parameters(), replay_model.parameters()):
        torch.testing.assert_close(a.cpu(), b.cpu(), rtol=1e-5, atol=1e-6)


def test_make_graphed_callables_module_and_function_with_backward():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh()).to(mlu)
    reference = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh()).to(mlu)
    reference.load_state_dict(module.state_dict())

    def function(a, b):
        return (a * b).sin(), a.exp()

    samples = [torch.randn(4, 8, device=mlu, requires_grad=True) for _ in range(3)]
    graphed_module, graphed_function = torch.mlu.make_graphed_callables(
        (module, function), ((samples[0],), (samples[1], samples[2])))

    for _ in range(2):
        xs = torch.randn(4, 8, device=mlu, requires_grad=True)
        ys = torch.randn(4, 8, device=mlu, requires_grad=True)
        module.zero_grad()
        reference.zero_grad()
        out = graphed_module(xs)
        s, e = graphed_function(out, ys)
        (s.sum() + e.sum()).backward()
        xr = xs.detach().clone().requires_grad_()
        yr = ys.detach().clone().requires_grad_()
        ref_out = reference(xr)
        rs, re_ = function(ref_out, yr)
        (rs.sum() + re_.sum()).backward()
        torch.testing.assert_close(s.cpu(), rs.detach().cpu())
        torch.testing.assert_close(xs.grad.cpu(), xr.grad.cpu())
        torch.testing.assert_close(ys.grad.cpu(), yr.grad.cpu())
        for p, q in zip(module.parameters(), reference.parameters()):
            torch.testing.assert_close(p.grad.cpu(), q.grad.cpu())

    # Captured in training mode: eval mode runs the module eagerly.
    module.eval()
    xe = torch.randn(4, 8, device=mlu)
    torch.testing.assert_close(module(xe).cpu(), reference(xe).detach().cpu())


def test_make_graphed_callables_rejects_what_cannot_replay():
    with pytest.raises(TypeError, match="only mlu tensors"):
        torch.mlu.make_graphed_callables(lambda a, n: a * n, (torch.ones(2, device=mlu), 3))
    m = torch.nn.Linear(2, 2).to(mlu)
    m.register_forward_hook(lambda *a: None)
    with pytest.raises(ValueError, match="hooks"):
        torch.mlu.make_graphed_callables(m, (torch.ones(1, 2, device=mlu),))
    shared = torch.ones(2, device=mlu)
    with pytest.raises(ValueError, match="same tensor"):
        torch.mlu.make_graphed_callables((torch.sin, torch.cos), ((shared,), (shared,)))


def test_events_inside_a_capture():
    x = torch.ones(3, device=mlu)

    def body():
        e = torch.mlu.Event()
        y = x * 2
        e.record()
        torch.mlu.current_stream().wait_event(e)  # same stream: already ordered
        return y + 1

    g, out = capture(body)
    g.replay()
    assert torch.equal(out.cpu(), torch.full((3,), 3.0))


def test_a_failing_kernel_fails_the_replay_naming_it():
    table = torch.randn(4, 3, device=mlu)
    index = torch.zeros(2, dtype=torch.long, device=mlu)
    g, out = capture(lambda: table[index])
    index.fill_(9)
    g.replay()
    with pytest.raises(RuntimeError, match="graph.*index"):
        torch.mlu.synchronize()
    index.fill_(1)
    g.replay()
    assert torch.equal(out.cpu(), table[1].cpu().expand(2, 3))


def test_debug_dump_lists_the_captured_work(tmp_path):
    x = torch.ones(2, device=mlu)
    g, _ = capture(lambda: x.mul_(2).add_(1))
    path = tmp_path / "graph.txt"
    g.debug_dump(str(path))
    assert path.read_text().split() == g.work_names()


@pytest.mark.skipif(not hasattr(torch.accelerator, "Graph") if hasattr(torch, "accelerator")
                    else True, reason="torch.accelerator.Graph exists from PyTorch 2.13")
def test_accelerator_graph():
    z = torch.zeros(3, device=mlu)
    s = torch.Stream(device="mlu")
    g = torch.accelerator.Graph()
    with s, g:
        z.add_(2)
    g.replay()
    g.replay()
    assert torch.equal(z.cpu(), torch.full((3,), 4.0))
    h = torch.accelerator.Graph(pool=g.pool())
    with s, h:
        z.mul_(2)
    h.replay()
    assert torch.equal(z.cpu(), torch.full((3,), 8.0))


@pytest.mark.parametrize("name", ["lstm_lm", "dlrm_small", "gpt_small"])
def test_reference_workload_steps_replay_like_eager(name):
    """The benchmark's replayed training steps (dropout, embedding bags, AdamW with its step
    count on the device) compute what eager steps compute, batch after batch."""
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
    import workloads

    workload = workloads.WORKLOADS[name]
    gen = torch.Generator().manual_seed(1)
    batches = [workloads.to_device(workload.make_batch(gen), mlu) for _ in range(4)]

    model, optimizer = workloads.build(workload, mlu, capturable=True)
    torch.mlu.manual_seed(0)
    eager = [workloads.train_step(workload, model, optimizer, b).item() for b in batches]

    model, optimizer = workloads.build(workload, mlu, capturable=True)
    static = tuple(t.clone() for t in batches[0])
    torch.mlu.manual_seed(0)
    side = torch.mlu.Stream()
    side.wait_stream(torch.mlu.current_stream())
    with torch.mlu.stream(side):
        first = workloads.train_step(workload, model, optimizer, static).item()
    torch.mlu.current_stream().wait_stream(side)
    g = torch.mlu.MLUGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.mlu.graph(g):
        loss = workload.loss(model, static)
        loss.backward()
        optimizer.step()
    replayed = [first]
    for batch in batches[1:]:
        for s, b in zip(static, batch):
            s.copy_(b)
        g.replay()
        replayed.append(loss.item())
    assert replayed == pytest.approx(eager, rel=1e-4)
