"""torch.distributed on mlu through the "cncl" backend (torch_mlu/_cncl.py): collectives between two
processes, and DistributedDataParallel training that matches one process on the whole batch."""

import subprocess
import sys
import textwrap

import pytest
import torch

WORKER = textwrap.dedent("""
    import sys
    import torch
    import torch.distributed as dist
    import torch_mlu  # noqa: F401

    rank, store_path, backend = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    dist.init_process_group(None if backend == "default" else backend,
                            init_method=f"file://{store_path}", rank=rank, world_size=2)
    checks = {"backend": dist.get_backend()}
    mlu = torch.device("mlu")

    x = torch.full((3,), rank + 1.0, device=mlu)
    dist.all_reduce(x)
    checks["all_reduce"] = x.tolist()
    x = torch.tensor([rank * 10.0, 5.0 - rank], device=mlu)
    dist.all_reduce(x, op=dist.ReduceOp.MAX)
    checks["all_reduce_max"] = x.tolist()
    x = torch.full((2,), float(rank), device=mlu)
    dist.broadcast(x, src=1)
    checks["broadcast"] = x.tolist()
    parts = [torch.empty(2, device=mlu) for _ in range(2)]
    dist.all_gather(parts, torch.full((2,), rank + 0.5, device=mlu))
    checks["all_gather"] = [p.tolist() for p in parts]
    flat = torch.empty(4, device=mlu)
    dist.all_gather_into_tensor(flat, torch.arange(2.0, device=mlu) + 2 * rank)
    checks["all_gather_into_tensor"] = flat.tolist()
    out = torch.empty(2, device=mlu)
    dist.reduce_scatter_tensor(out, torch.arange(4.0, device=mlu) * (rank + 1))
    checks["reduce_scatter_tensor"] = out.tolist()
    out = torch.empty(2, device=mlu)
    dist.all_to_all_single(out, torch.tensor([10.0, 11.0], device=mlu) + 2 * rank)
    checks["all_to_all_single"] = out.tolist()
    x = torch.full((2,), rank + 2.0, device=mlu)
    dist.reduce(x, dst=1)
    checks["reduce"] = x.tolist() if rank == 1 else None
    x = torch.tensor([rank * 4.0, 1.0], device=mlu)
    dist.all_reduce(x, op=dist.ReduceOp.AVG)
    checks["all_reduce_avg"] = x.tolist()
    out = torch.empty(1, device=mlu)
    dist.reduce_scatter_tensor(out, torch.tensor([1.0, 3.0], device=mlu) * (rank + 1),
                               op=dist.ReduceOp.AVG)
    checks["reduce_scatter_tensor_avg"] = out.tolist()
    x = torch.full((1,), rank * 6.0, device=mlu)
    dist.reduce(x, dst=0, op=dist.ReduceOp.AVG)
    checks["reduce_avg"] = x.tolist()
    gathered = [torch.empty(1, device=mlu) for _ in range(2)] if rank == 0 else None
    dist.gather(torch.full((1,), rank + 4.0, device=mlu), gathered, dst=0)
    checks["gather"] = [t.tolist() for t in gathered] if rank == 0 else None
    out = torch.empty(2, device=mlu)
    sources = [torch.full((2,), 20.0 + r, device=mlu) for r in range(2)] if rank == 1 else None
    dist.scatter(out, sources, src=1)
    checks["scatter"] = out.tolist()
    out = torch.empty(2, device=mlu)
    try:  # gloo has the list form from PyTorch 2.7 on
        dist.reduce_scatter(out, [torch.full((2,), 1.0 + r, device=mlu) for r in range(2)])
        checks["reduce_scatter"] = out.tolist()
    except RuntimeError as e:
        checks["reduce_scatter"] = str(e)
    if rank == 0:
        dist.send(torch.tensor([7.0, 8.0], device=mlu), dst=1)
    else:
        got = torch.zeros(2, device=mlu)
        dist.recv(got, src=0)
        checks["recv"] = got.tolist()
    cpu = torch.full((2,), rank + 1.0)  # CPU tensors in the same group go to gloo directly
    dist.all_reduce(cpu)
    checks["cpu_all_reduce"] = cpu.tolist()
    work = dist.all_reduce(torch.ones(1, device=mlu), async_op=True)
    work.wait()
    checks["async_completed"] = work.is_completed()
    dist.barrier()

    # DDP on each half of a batch against one model on all of it, on the CPU.
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    if rank == 1:
        torch.manual_seed(1)  # DDP makes rank 1 start from rank 0's weights
        for p in model.parameters():
            torch.nn.init.normal_(p)
    else:
        model.load_state_dict(reference.state_dict())
    ddp = torch.nn.parallel.DistributedDataParallel(model.to(mlu))
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        inputs, targets = torch.randn(8, 6, generator=g), torch.randn(8, 1, generator=g)
        mine = slice(4 * rank, 4 * rank + 4)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(ddp(inputs[mine].to(mlu)), targets[mine].to(mlu)).backward()
        optimizer.step()
        reference_optimizer.zero_grad()
        torch.nn.functional.mse_loss(reference(inputs), targets).backward()
        reference_optimizer.step()
    checks["ddp_max_difference"] = max(
        (p.detach().cpu() - q.detach()).abs().max().item()
        for p, q in zip(model.parameters(), reference.parameters()))
    dist.destroy_process_group()
    print(repr(checks))
""")


def torch_version():
    return tuple(int(part) for part in torch.__version__.split(".")[:2])


def run_pair(tmp_path, backend):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    store = tmp_path / "store"
    procs = [subprocess.Popen([sys.executable, str(script), str(rank), str(store), backend],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(eval(out.strip().splitlines()[-1]))  # the repr of a dict of plain values
    return results


@pytest.mark.parametrize("backend", ["cncl", "default"])
def test_collectives_and_ddp_between_two_processes(tmp_path, backend):
    r0, r1 = run_pair(tmp_path, backend)
    for r in (r0, r1):
        # Without a backend the group is cncl's too (get_backend() then says "undefined").
        assert r["backend"] == ("cncl" if backend == "cncl" else "undefined")
        assert r["all_reduce"] == [3.0, 3.0, 3.0]
        assert r["all_reduce_max"] == [10.0, 5.0]
        assert r["all_reduce_avg"] == [2.0, 1.0]  # AVG, which gloo lacks
        assert r["broadcast"] == [1.0, 1.0]
        assert r["all_gather"] == [[0.5, 0.5], [1.5, 1.5]]
        assert r["all_gather_into_tensor"] == [0.0, 1.0, 2.0, 3.0]
        assert r["cpu_all_reduce"] == [3.0, 3.0]
        assert r["async_completed"]
        assert r["ddp_max_difference"] < 1e-5
    assert r0["reduce_scatter_tensor"] == [0.0, 3.0] and r1["reduce_scatter_tensor"] == [6.0, 9.0]
    assert r0["all_to_all_single"] == [10.0, 12.0] and r1["all_to_all_single"] == [11.0, 13.0]
    assert r1["reduce"] == [5.0, 5.0] and r0["gather"] == [[4.0], [5.0]]
    assert r0["reduce_scatter_tensor_avg"] == [1.5] and r1["reduce_scatter_tensor_avg"] == [4.5]
    assert r0["reduce_avg"] == [3.0]
    assert r0["scatter"] == [20.0, 20.0] and r1["scatter"] == [21.0, 21.0]
    if torch_version() >= (2, 7):
        assert r0["reduce_scatter"] == [2.0, 2.0] and r1["reduce_scatter"] == [4.0, 4.0]
    else:
        assert "ProcessGroupGloo does not support reduce_scatter" in r0["reduce_scatter"]
    assert r1["recv"] == [7.0, 8.0]
