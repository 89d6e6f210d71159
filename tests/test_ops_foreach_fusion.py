"""Multi-tensor kernels that wait on the queue take in the next ones over the same tensors (an
optimizer step's _foreach_* operators run as one pass over memory). Fused or not, results are
those of the kernels run one after another; lists that conflict between indices are not fused."""

import pytest
import torch

import torch_mlu
from op_helpers import native
from test_ops_optimizer import CASES, run_steps


def hold_queue():
    """Queues the next launches behind 20 ms of device work, so that they wait and fuse."""
    torch_mlu._C._sleep(20_000)


# Every other foreach optimizer, with the options that use the most multi-tensor operators.
OTHER_OPTIMIZERS = [
    (torch.optim.Adadelta, {}),
    (torch.optim.Adagrad, {"lr": 0.1}),
    (torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    (torch.optim.NAdam, {"lr": 0.01}),
    (torch.optim.RAdam, {"lr": 0.01}),
    (torch.optim.Adamax, {"lr": 0.01}),
    (torch.optim.ASGD, {"lr": 0.01}),
    (torch.optim.Rprop, {"lr": 0.01}),
]


@pytest.mark.parametrize(
    "opt_cls, kwargs",
    [c for c in CASES if not torch.is_tensor(c[1]["lr"])] + OTHER_OPTIMIZERS,
    ids=lambda v: getattr(v, "__name__", str(v)))
def test_a_waiting_optimizer_step_matches_cpu(opt_cls, kwargs):
    torch.manual_seed(0)
    # 600x600: more than one chunk of the fused loop, and split between threads.
    cpu = [torch.randn(600, 600, requires_grad=True), torch.randn(7, requires_grad=True),
           torch.randn(5, 3, requires_grad=True)]
    mlu = [p.detach().to("mlu").requires_grad_() for p in cpu]
    mlu_opt = opt_cls(mlu, foreach=True, **kwargs)
    step = mlu_opt.step

    def held_step():
        hold_queue()
        step()

    mlu_opt.step = held_step
    run_steps(opt_cls(cpu, foreach=False, **kwargs), mlu_opt, cpu, mlu)


def foreach_names(graph):
    return [n for n in graph.work_names() if n.startswith("foreach")]


def captured(fn):
    """The graph fn's work is captured as, and the kernels fn launched."""
    side = torch.mlu.Stream()
    side.wait_stream(torch.mlu.current_stream())
    with torch.mlu.stream(side):
        graph = torch.mlu.MLUGraph()
        with torch.mlu.graph(graph):
            before = torch.mlu.kernel_launches()
            fn()
            launched = torch.mlu.kernel_launches() - before
    torch.mlu.current_stream().wait_stream(side)
    return graph, launched


def test_a_captured_sgd_step_is_one_multi_tensor_kernel():
    params = [torch.randn(300, 300, device="mlu", requires_grad=True),
              torch.randn(17, device="mlu", requires_grad=True)]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01, foreach=True)
    opt.step()  # creates the momentum buffers outside the capture
    graph, launched = captured(opt.step)
    assert launched == 4  # weight decay, momentum (two kernels) and the update...
    assert foreach_names(graph) == ["foreach_binary"]  # ...captured as one


def run_held_and_one_by_one(make, chain):
    """Runs chain on two copies of the tensors make() returns: once waiting behind the queue
    (fused where allowed), once synchronizing after each kernel; returns both results."""
    results = []
    for held in (True, False):
        tensors = make()
        with native():
            if held:
                hold_queue()
            for kernel in chain:
                kernel(*tensors)
                if not held:
                    torch.mlu.synchronize()
        results.append([t.cpu() for t in tensors])
    return results


def test_lists_that_read_another_indexs_result_run_in_order():
    def make():
        return [torch.arange(1.0, 5.0, device="mlu"), torch.arange(10.0, 14.0, device="mlu")]

    chain = [lambda a, b: torch._foreach_mul_([a, b], 2.0),
             lambda a, b: torch._foreach_add_([a, b], [b, a])]  # index 0 reads index 1's result
    held, one_by_one = run_held_and_one_by_one(make, chain)
    a, b = torch.arange(1.0, 5.0) * 2, torch.arange(10.0, 14.0) * 2
    a += b
    b += a
    assert all(torch.equal(x, y) for x, y in zip(held, one_by_one))
    assert torch.equal(held[0], a) and torch.equal(held[1], b)


def test_partly_overlapping_views_run_in_order():
    n = 300_000

    def make():
        return [torch.ones(2 * n, device="mlu")]

    chain = [lambda x: torch._foreach_mul_([x[:n]], 3.0),
             lambda x: torch._foreach_add_([x[n // 2:n // 2 + n]], 1.0)]
    held, one_by_one = run_held_and_one_by_one(make, chain)
    expected = torch.ones(2 * n)
    expected[:n] *= 3
    expected[n // 2:n // 2 + n] += 1
    assert torch.equal(held[0], expected) and torch.equal(one_by_one[0], expected)


def test_a_list_naming_one_tensor_twice_updates_it_twice():
    def make():
        return [torch.ones(300_000, device="mlu"), torch.full((300_000,), 2.0, device="mlu")]

    chain = [lambda t, u: torch._foreach_add_([t, t], [u, u]),
             lambda t, u: torch._foreach_mul_([t], 10.0)]
    held, _ = run_held_and_one_by_one(make, chain)
    assert torch.equal(held[0], torch.full((300_000,), 50.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_a_fused_chain_gives_what_its_kernels_give_one_by_one(dtype):
    sizes = (1, 5, 70_000, 300_001)

    def make():
        g = torch.Generator().manual_seed(0)
        return [torch.rand(len(sizes), max(sizes), generator=g).to(dtype).to("mlu")
                [i, :n].clone() for i, n in enumerate(sizes) for _ in range(3)]

    def lists(ts):
        return ts[0::3], ts[1::3], ts[2::3]

    chain = [lambda *ts: torch._foreach_mul_(lists(ts)[0], 0.9),
             lambda *ts: torch._foreach_lerp_(lists(ts)[1], lists(ts)[0], 0.25),
             lambda *ts: torch._foreach_addcmul_(lists(ts)[2], lists(ts)[0], lists(ts)[1], 0.5),
             lambda *ts: torch._foreach_sqrt_(lists(ts)[2]),
             lambda *ts: torch._foreach_addcdiv_(lists(ts)[0], lists(ts)[1], lists(ts)[2], 0.1),
             lambda *ts: torch._foreach_add_(lists(ts)[1], lists(ts)[0], alpha=-0.5)]
    held, one_by_one = run_held_and_one_by_one(make, chain)
    assert all(torch.equal(x, y) for x, y in zip(held, one_by_one))
    assert not torch.equal(held[0], make()[0].cpu())  # the chain changed them
    tensors = make()
    graph, launched = captured(lambda: [kernel(*tensors) for kernel in chain])
    assert launched == len(chain) and len(foreach_names(graph)) == 1


def test_clipped_gradients_join_the_optimizer_step_and_match_cpu():
    torch.manual_seed(0)
    cpu = [torch.randn(600, 600, requires_grad=True), torch.randn(7, requires_grad=True)]
    mlu = [p.detach().to("mlu").requires_grad_() for p in cpu]
    kwargs = {"lr": 0.1, "momentum": 0.9}
    cpu_opt = torch.optim.SGD(cpu, foreach=False, **kwargs)
    mlu_opt = torch.optim.SGD(mlu, foreach=True, **kwargs)
    for step in range(3):
        for p, q in zip(cpu, mlu):
            p.grad = torch.full_like(p, 0.3 * (step + 1)) - p.detach() * 0.1
            q.grad = p.grad.to("mlu")
        torch.nn.utils.clip_grad_norm_(cpu, 1.0, foreach=False)
        cpu_opt.step()
        with native():
            torch.nn.utils.clip_grad_norm_(mlu, 1.0, foreach=True)
            hold_queue()
            mlu_opt.step()
    for p, q in zip(cpu, mlu):
        torch.testing.assert_close(q.detach().cpu(), p.detach(), rtol=1e-4, atol=1e-5)

    def clipped_step():
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([q.grad for q in mlu])))
        torch._foreach_mul_([q.grad for q in mlu], torch.clamp(1.0 / (norm + 1e-6), max=1.0))
        mlu_opt.step()

    graph, _ = captured(clipped_step)
    # Clipping's product and the step's three kernels, captured as one (the norms are reductions).
    assert foreach_names(graph) == ["foreach_binary"]
