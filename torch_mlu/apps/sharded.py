"""Large-model training: the GPT of the NLP application trained on two mlu devices with FSDP2
(parameters, gradients and optimizer state sharded), bf16 compute with float32 gradient
reduction and activation checkpointing, against one CPU process training the whole batch in
float32 from the same weights.

The suite launches the two ranks with torchrun (`python -m torch_mlu.apps.sharded DIR`); they
read the weights and batches the suite wrote to DIR and write their losses and timings back.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .language import GPT, adamw, gpt_batch, gpt_loss
from .runner import App, MluRun

RANKS = 2


class CheckpointedBlock(nn.Module):
    """A GPT block whose activations are recomputed in backward instead of kept."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x, cache=None):
        return checkpoint(self.block, x, cache, use_reentrant=False)


def sharded_gpt(weights, device):
    """The GPT with `weights` (a CPU model's), its blocks checkpointed, sharded over the ranks."""
    try:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    except ImportError:  # PyTorch 2.6 keeps FSDP2 under _composable
        from torch.distributed._composable.fsdp import MixedPrecisionPolicy, fully_shard
    model = GPT()
    model.load_state_dict(weights)
    model = model.to(device)
    model.blocks = nn.ModuleList(CheckpointedBlock(block) for block in model.blocks)
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for block in model.blocks:
        fully_shard(block, mp_policy=policy)
    return fully_shard(model, mp_policy=policy)


def sharded_loss(model, ids):
    logits, _ = model(ids[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1).float(), ids[:, 1:].flatten())


def worker(directory):
    """One rank: its half of every batch; the losses averaged over the ranks."""
    import torch.distributed as dist
    device = torch.device("mlu", int(os.environ["LOCAL_RANK"]))
    torch.mlu.set_device(device)
    dist.init_process_group(device_id=device)
    rank, world = dist.get_rank(), dist.get_world_size()
    inputs = torch.load(directory / "inputs.pt")
    model = sharded_gpt(inputs["weights"], device)
    optimizer = adamw(model)
    torch.mlu.reset_fallback_stats()
    torch.mlu.reset_peak_memory_stats()
    losses, seconds = [], []
    for ids in inputs["batches"]:
        mine = ids.chunk(world)[rank].to(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = sharded_loss(model, mine)
        loss.backward()
        optimizer.step()
        average = loss.detach().clone()
        dist.all_reduce(average, op=dist.ReduceOp.AVG)
        losses.append(average.item())
        seconds.append(time.perf_counter() - start)
    fallback = {name: stats["calls"] for name, stats in torch.mlu.fallback_stats().items()}
    if rank == 0:
        (directory / "result.json").write_text(json.dumps({
            "losses": losses, "seconds": statistics.median(seconds[1:] or seconds),
            "peak_bytes": torch.mlu.max_memory_allocated(), "fallback": fallback}))
    dist.destroy_process_group()


def train_sharded(app, initial_model, batches, quick):
    """Runs the ranks with torchrun; their run as MluRun."""
    with tempfile.TemporaryDirectory(prefix="mlu-apps-fsdp-") as name:
        directory = pathlib.Path(name)
        torch.save({"weights": initial_model.state_dict(), "batches": batches},
                   directory / "inputs.pt")
        done = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone",
             f"--nproc-per-node={RANKS}", "-m", "torch_mlu.apps.sharded", str(directory)],
            capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"the FSDP ranks failed (exit {done.returncode}):\n"
                               f"{done.stderr[-3000:]}")
        result = json.loads((directory / "result.json").read_text())
    return MluRun(result["losses"], result["seconds"], result["peak_bytes"], result["fallback"])


APPS = [
    App("gpt_fsdp", "large-model training",
        f"the GPT sharded with FSDP2 over {RANKS} mlu devices, bf16 compute, activation "
        "checkpointing; CPU: one process, float32",
        lambda quick: GPT(), gpt_batch, gpt_loss, optimizer=adamw,
        train_on_mlu=train_sharded, first_tolerance=1e-2, tolerance=2e-2),
]


if __name__ == "__main__":
    worker(pathlib.Path(sys.argv[1]))
