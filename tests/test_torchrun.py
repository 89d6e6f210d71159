"""torchrun on mlu, as the DDP tutorials launch it: its rendezvous and agent stores start on
PyTorch builds without libuv (torch_mlu/_stores.py), and the workers train with the "cncl"
backend; elastic restarts; two nodes, on this host and in network namespaces of their own."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

def launch(command):
    """torchrun in a session of its own, so that a timeout stops its workers too."""
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += "\n(killed with its workers: timed out)"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def torchrun(args, timeout=180):
    return finish(launch([sys.executable, "-m", "torch.distributed.run", *args]), timeout)


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
    result = torchrun([*rendezvous, "--nnodes=1", "--nproc-per-node=2", str(script)])
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


RESTARTED = textwrap.dedent("""
    import os
    import sys
    import torch
    import torch.distributed as dist

    attempt = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
    # The first attempt fails before joining the group; torchrun restarts every worker. (A peer
    # killed while gloo connects its mesh makes the next attempt's gloo connection fail now and
    # then, with gloo on CPU tensors as well: 2 of 4 runs here.)
    if attempt == 0:
        sys.exit(7)
    device = torch.device("mlu", int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(device_id=device)
    x = torch.ones(1, device=device)
    dist.all_reduce(x)
    print(f"attempt {attempt} rank {dist.get_rank()}: {x.item()}", flush=True)
    dist.destroy_process_group()
""")


def test_torchrun_restarts_failed_workers(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(RESTARTED)
    result = torchrun(["--standalone", "--nproc-per-node=2", "--max-restarts=1",
                       "--monitor-interval=0.5", str(script)])
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        assert f"attempt 1 rank {rank}: 2.0" in result.stdout, result.stdout


# One DDP model trained on two nodes (one process each, each with its own mlu devices), against
# the same training in one process on the CPU.
NODE = textwrap.dedent("""
    import os
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    device = torch.device("mlu", int(os.environ["LOCAL_RANK"]))
    torch.mlu.set_device(device)
    dist.init_process_group(device_id=device)
    rank = dist.get_rank()
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
    model = DistributedDataParallel(nn.Sequential(nn.Linear(6, 8), nn.Tanh(),
                                                  nn.Linear(8, 1)).to(device))
    model.module.load_state_dict(reference.state_dict())
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, reference)]
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        x, y = torch.randn(8, 6, generator=g), torch.randn(8, 1, generator=g)
        mine = slice(4 * rank, 4 * rank + 4)
        for o in optimizers:
            o.zero_grad()
        nn.functional.mse_loss(model(x[mine].to(device)), y[mine].to(device)).backward()
        nn.functional.mse_loss(reference(x), y).backward()
        for o in optimizers:
            o.step()
    difference = max((p.detach().cpu() - q.detach()).abs().max().item()
                     for p, q in zip(model.parameters(), reference.parameters()))
    print(f"node {os.environ['GROUP_RANK']} rank {rank} on {device}: {difference:.2e}", flush=True)
    dist.destroy_process_group()
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_command(script, node, master, port):
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
            f"--node-rank={node}", f"--master-addr={master}", f"--master-port={port}",
            str(script)]


def check_nodes(procs):
    results = [finish(proc, timeout=240) for proc in procs]
    for node, result in enumerate(results):
        assert result.returncode == 0, result.stderr[-3000:]
        line = next(line for line in result.stdout.splitlines()
                    if line.startswith(f"node {node} "))
        assert f"rank {node} on mlu:0" in line
        assert float(line.rsplit(": ", 1)[1]) < 1e-5, line


def test_two_torchrun_nodes_train_one_model(tmp_path):
    script = tmp_path / "node.py"
    script.write_text(NODE)
    port = free_port()
    check_nodes([launch(node_command(script, node, "127.0.0.1", port)) for node in range(2)])


def network_namespaces_available():
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not network_namespaces_available(),
                    reason="needs iproute2 and the privilege to create network namespaces")
def test_two_nodes_in_network_namespaces_joined_by_a_veth_pair(tmp_path):
    """Each node sees only its end of the pair and its own loopback: no other route exists."""
    script = tmp_path / "node.py"
    script.write_text(NODE)
    port = free_port()
    names = [f"tmlu{os.getpid() % 10000}n{node}" for node in range(2)]
    addresses = ["10.231.77.1", "10.231.77.2"]
    procs = []
    try:
        for node in range(2):
            # Waits for its address, then starts the node (nothing says which interface to use).
            start = " ".join(node_command(script, node, addresses[0], port))
            shell = (f"until ip -o addr show dev {names[node]} 2>/dev/null | grep -q "
                     f"{addresses[node]}; do sleep 0.05; done; ip link set lo up; exec {start}")
            procs.append(launch(["unshare", "--net", "--", "sh", "-c", shell]))
        subprocess.run(["ip", "link", "add", names[0], "type", "veth", "peer", "name", names[1]],
                       check=True)
        for node, proc in enumerate(procs):
            subprocess.run(["ip", "link", "set", names[node], "netns", str(proc.pid)], check=True)
            inside = ["nsenter", "-t", str(proc.pid), "-n", "ip"]
            subprocess.run([*inside, "addr", "add", f"{addresses[node]}/24", "dev", names[node]],
                           check=True)
            subprocess.run([*inside, "link", "set", names[node], "up"], check=True)
        check_nodes(procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # The pair dies with the namespaces; it is still here only if moving it failed.
        subprocess.run(["ip", "link", "del", names[0]], capture_output=True)
