"""torchrun on mlu, as the DDP tutorials launch it: its rendezvous and agent stores start on
PyTorch builds without libuv (torch_mlu/_stores.py), and the workers train with the "cncl"
backend."""

import subprocess
import sys
import textwrap

import pytest
import torch

WORKER = textwrap.dedent("""
    import os
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    rank = int(os.environ["RANK"])
    device = torch.device("mlu", int(os.environ["LOCAL_RANK"]))
    torch.mlu.set_device(device)
    dist.init_process_group(device_id=device)  # no backend named: the device's, cncl
    x = torch.full((2,), rank + 1.0, device="mlu")
    dist.all_reduce(x)
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(4, 1).to("mlu"))
    model(torch.ones(2, 4, device="mlu") * (rank + 1)).sum().backward()
    grad = model.module.weight.grad.cpu().tolist()
    print(f"rank {rank} of {dist.get_world_size()} on {x.device}: {x.tolist()} {grad}", flush=True)
    dist.destroy_process_group()
""")


@pytest.mark.parametrize("rendezvous", [["--standalone"],
                                        ["--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0"]],
                         ids=["standalone", "c10d"])
def test_torchrun_starts_two_mlu_workers(tmp_path, rendezvous):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", *rendezvous, "--nnodes=1",
         "--nproc-per-node=2", str(script)],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    # all_reduce sums 1 + 2; DDP averages the weight gradients 2 and 4 (two rows of rank + 1)
    for rank in (0, 1):
        assert (f"rank {rank} of 2 on mlu:{rank}: [3.0, 3.0] [[3.0, 3.0, 3.0, 3.0]]"
                in result.stdout), result.stdout + result.stderr[-3000:]


def test_a_tcp_store_starts_whether_or_not_this_build_has_libuv():
    from torch_mlu import _stores

    store = torch.distributed.TCPStore("127.0.0.1", 0, world_size=1, is_master=True,
                                       wait_for_workers=False)
    store.set("key", "value")
    assert store.get("key") == b"value"
    assert store.libuvBackend == _stores.libuv_available()
    assert isinstance(store, torch._C._distributed_c10d.TCPStore)
