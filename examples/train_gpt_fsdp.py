"""A GPT trained on two mlu devices with FSDP2: parameters, gradients and optimizer state sharded,
bf16 compute with float32 gradient reduction, activation checkpointing of every block, and a
distributed checkpoint halfway, from which a fresh model and optimizer resume.

    torchrun --standalone --nproc-per-node=2 examples/train_gpt_fsdp.py [--steps N] [--out DIR]
    python examples/train_gpt_fsdp.py --reference [--steps N] [--out DIR]

The second line trains the same model on the whole batch in one process, in float32; each run
writes its losses to DIR/losses-<mode>.json, and the sharded run plots both (when the reference
ran first) to DIR/loss.png. The data is a fixed random Markov chain over the vocabulary, so the
loss falls towards that chain's entropy.
"""

import argparse
import json
import math
import os
import pathlib

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

import torch_mlu  # noqa: F401  (also autoloaded by `import torch`)

VOCAB, CONTEXT, GLOBAL_BATCH = 256, 64, 16


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def attend(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        # Activation checkpointing: the block's activations are recomputed in backward.
        return checkpoint(self.layer, x, use_reentrant=False)

    def layer(self, x):
        x = x + self.attend(x)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, dim, heads, layers):
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, dim)
        self.positions = nn.Embedding(CONTEXT, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, VOCAB, bias=False)

    def forward(self, idx):
        x = self.tokens(idx) + self.positions(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def batches(steps):
    """Sequences of a fixed random Markov chain (each token has 4 likely successors)."""
    gen = torch.Generator().manual_seed(0)
    successors = torch.randint(0, VOCAB, (VOCAB, 4), generator=gen)
    out = []
    for _ in range(steps):
        idx = torch.empty(GLOBAL_BATCH, CONTEXT + 1, dtype=torch.long)
        idx[:, 0] = torch.randint(0, VOCAB, (GLOBAL_BATCH,), generator=gen)
        for t in range(CONTEXT):
            choice = torch.randint(0, 4, (GLOBAL_BATCH,), generator=gen)
            idx[:, t + 1] = successors[idx[:, t], choice]
        out.append((idx[:, :-1], idx[:, 1:]))
    return out


def make_model(args):
    torch.manual_seed(0)
    return GPT(args.dim, args.heads, args.layers)


def loss_of(model, x, y):
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, VOCAB).float(), y.reshape(-1))


def train_reference(args, data):
    device = torch.device("mlu")
    model = make_model(args).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    losses = []
    for x, y in data:
        optimizer.zero_grad()
        loss = loss_of(model, x.to(device), y.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def train_sharded(args, data):
    from torch.distributed.checkpoint import load, save
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    try:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    except ImportError:  # PyTorch 2.6 keeps FSDP2 under _composable
        from torch.distributed._composable.fsdp import MixedPrecisionPolicy, fully_shard

    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("mlu", int(os.environ.get("LOCAL_RANK", 0)))
    mine = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)

    def sharded_model_and_optimizer():
        model = make_model(args).to(device)
        for block in model.blocks:
            fully_shard(block, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
        return model, torch.optim.AdamW(model.parameters(), lr=args.lr)

    def global_loss(loss):
        loss = loss.detach().clone()
        dist.all_reduce(loss, op=dist.ReduceOp.AVG)
        return loss.item()

    model, optimizer = sharded_model_and_optimizer()
    if rank == 0:
        total = sum(p.numel() for p in model.parameters())
        local = sum(p.to_local().numel() for p in model.parameters())
        print(f"{total / 1e6:.1f}M parameters, {local / 1e6:.1f}M on each of {world} devices")
    losses = []
    checkpoint_dir = args.out / "checkpoint"
    for step, (x, y) in enumerate(data):
        if step == len(data) // 2:
            # Save, then continue from the checkpoint with a new model and optimizer.
            model_state, optimizer_state = get_state_dict(model, optimizer)
            save({"model": model_state, "optimizer": optimizer_state},
                 checkpoint_id=str(checkpoint_dir))
            model, optimizer = sharded_model_and_optimizer()
            model_state, optimizer_state = get_state_dict(model, optimizer)
            state = {"model": model_state, "optimizer": optimizer_state}
            load(state, checkpoint_id=str(checkpoint_dir))
            set_state_dict(model, optimizer, model_state_dict=state["model"],
                           optim_state_dict=state["optimizer"])
            if rank == 0:
                print(f"step {step}: saved to {checkpoint_dir} and resumed from it")
        optimizer.zero_grad()
        loss = loss_of(model, x[mine].to(device), y[mine].to(device))
        loss.backward()
        optimizer.step()
        losses.append(global_loss(loss))
    return losses


def plot(out, curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, losses in curves.items():
        ax.plot(range(1, len(losses) + 1), losses, label=label)
    ax.axhline(math.log(4), color="gray", linestyle=":", label="the chain's entropy")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", action="store_true", help="one process, float32")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("train_gpt_fsdp"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = batches(args.steps)
    if args.reference:
        losses = train_reference(args, data)
        (args.out / "losses-reference.json").write_text(json.dumps(losses))
        print(f"reference: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
        return
    device = torch.device("mlu", int(os.environ.get("LOCAL_RANK", 0)))
    torch.mlu.set_device(device)
    dist.init_process_group(device_id=device)
    losses = train_sharded(args, data)
    if dist.get_rank() == 0:
        (args.out / "losses-fsdp.json").write_text(json.dumps(losses))
        curves = {"FSDP2, 2 mlu devices, bf16": losses}
        reference = args.out / "losses-reference.json"
        if reference.exists():
            curves["1 process, float32"] = json.loads(reference.read_text())
        plot(args.out, curves)
        print(f"fsdp: loss {losses[0]:.3f} -> {losses[-1]:.3f}; wrote {args.out / 'loss.png'}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
