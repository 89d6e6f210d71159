"""Data-parallel and sharded training on two mlu devices through the "cncl" backend, each
against one process training the same model on the whole batch: DistributedDataParallel (with
buckets, no_sync, unused parameters, a static graph and compression hooks), FSDP2 (mixed
precision, CPU offload, activation checkpointing, explicit prefetching, distributed checkpoint
save and resume) and tensor parallelism of a transformer block on a DeviceMesh (with DTensor's RNG tracker)."""

import pytest
import torch

from distributed_support import run_ranks

MODEL = """
    import copy
    from torch import nn

    torch.manual_seed(0)
    def mlp():
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                             nn.Linear(16, 2))
    reference = mlp()
    batches = [(torch.randn(8, 8), torch.randn(8, 2)) for _ in range(4)]
    mine = slice(4 * rank, 4 * rank + 4)

    def train_reference(steps=len(batches)):
        optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
        for x, y in batches[:steps]:
            optimizer.zero_grad()
            nn.functional.mse_loss(reference(x), y).backward()
            optimizer.step()

    def difference(params, reference_params):
        return max((p.detach().float().cpu() - q.detach()).abs().max().item()
                   for p, q in zip(params, reference_params))
"""

DDP = MODEL + """
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    init()

    def train(ddp, micro_steps=1):
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
        for x, y in batches:
            optimizer.zero_grad()
            x, y = x[mine].to(mlu), y[mine].to(mlu)
            half = len(x) // micro_steps
            for m in range(micro_steps):
                part = slice(m * half, (m + 1) * half)
                last = m == micro_steps - 1
                with (ddp.no_sync() if not last else torch.enable_grad()):
                    loss = nn.functional.mse_loss(ddp(x[part]), y[part]) / micro_steps
                    loss.backward()
            optimizer.step()
        return difference(ddp.module.parameters(), reference.parameters())

    train_reference()
    def fresh(**kwargs):
        model = mlp().to(mlu)
        if rank == 0:
            model.load_state_dict(copy.deepcopy(initial))
        return DDP(model, **kwargs)  # rank 1 starts from rank 0's weights
    torch.manual_seed(0)
    initial = mlp().state_dict()
    checks["buckets"] = train(fresh(bucket_cap_mb=0.0005))
    checks["no_sync"] = train(fresh(), micro_steps=2)
    checks["static_graph"] = train(fresh(static_graph=True))
    ddp = fresh()
    # DDP refuses bf16_compress_hook by name without CUDA or XPU; the same hook under another name
    def bf16_compress(state, bucket):
        return default_hooks.bf16_compress_hook(state, bucket)
    ddp.register_comm_hook(dist.group.WORLD, bf16_compress)
    checks["bf16_hook"] = train(ddp)
    ddp = fresh()
    ddp.register_comm_hook(dist.group.WORLD, default_hooks.fp16_compress_hook)
    checks["fp16_hook"] = train(ddp)

    # A parameter that takes no part in the loss.
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(4, 1), nn.Linear(4, 1)
        def forward(self, x):
            return self.used(x)
    torch.manual_seed(1)
    branchy = DDP(Branchy().to(mlu), find_unused_parameters=True)
    for _ in range(2):
        branchy(torch.ones(2, 4, device=mlu) * (rank + 1)).sum().backward()
    checks["unused_grad"] = branchy.module.unused.weight.grad
    checks["used_grad"] = branchy.module.used.weight.grad.cpu().tolist()
    dist.destroy_process_group()
"""


def test_distributed_data_parallel_matches_one_process(tmp_path):
    for r in run_ranks(tmp_path, DDP):
        assert r["buckets"] < 1e-5 and r["no_sync"] < 1e-5 and r["static_graph"] < 1e-5
        assert r["bf16_hook"] < 5e-2 and r["fp16_hook"] < 5e-3
        assert r["unused_grad"] is None
        # Two backward passes of mean(rank + 1) * 2 rows: (2 + 4) / 2 per pass.
        assert r["used_grad"] == [[6.0] * 4]


FSDP = MODEL + """
    import tempfile
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict
    from torch.utils.checkpoint import checkpoint
    try:
        from torch.distributed.fsdp import fully_shard, MixedPrecisionPolicy, CPUOffloadPolicy
    except ImportError:  # PyTorch 2.6 keeps FSDP2 under _composable
        from torch.distributed._composable.fsdp import (fully_shard, MixedPrecisionPolicy,
                                                        CPUOffloadPolicy)
    init(device_id=mlu)

    class Checkpointed(nn.Module):  # activation checkpointing of each block
        def __init__(self, block):
            super().__init__()
            self.block = block
        def forward(self, x):
            return checkpoint(self.block, x, use_reentrant=False)

    def sharded(**policy):
        torch.manual_seed(0)
        model = mlp()
        model.load_state_dict(initial)
        layers = [Checkpointed(layer) if isinstance(layer, nn.Linear) else layer
                  for layer in model]
        # On the device first: PyTorch 2.6 cannot move a CPU parameter's .data to mlu in place.
        model = nn.Sequential(*layers).to(mlu)
        for layer in model:
            if isinstance(layer, Checkpointed):
                fully_shard(layer, **policy)
        return fully_shard(model, **policy)

    def train(model, steps):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches[:steps]:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[mine].to(mlu)), y[mine].to(mlu)).backward()
            optimizer.step()

    def full(model):
        return [p.full_tensor() for p in model.parameters()]

    torch.manual_seed(0)
    initial = mlp().state_dict()
    reference.load_state_dict(initial)
    train_reference()
    model = sharded()
    checks["sharded"] = str(type(next(model.parameters())).__name__)
    checks["shard_rows"] = next(model.parameters()).to_local().shape[0]
    train(model, len(batches))
    checks["fp32"] = difference(full(model), reference.parameters())
    model = sharded(mp_policy=MixedPrecisionPolicy(param_dtype=torch.bfloat16,
                                                   reduce_dtype=torch.float32))
    train(model, len(batches))
    checks["bf16"] = difference(full(model), reference.parameters())
    # Explicit prefetching: each block's all-gather issued by the one before it.
    model = sharded()
    blocks = [layer for layer in model if isinstance(layer, Checkpointed)]
    for before, after in zip(blocks, blocks[1:]):
        before.set_modules_to_forward_prefetch([after])
        after.set_modules_to_backward_prefetch([before])
    train(model, len(batches))
    checks["prefetch"] = difference(full(model), reference.parameters())
    model = sharded(offload_policy=CPUOffloadPolicy(pin_memory=True))
    train(model, len(batches))
    checks["offload_device"] = str(next(model.parameters()).to_local().device)
    checks["offload"] = difference(full(model), reference.parameters())

    # Two steps, a distributed checkpoint, a new model resumed from it, two more steps.
    directory = tempfile.mkdtemp() if rank == 0 else None
    holder = [directory]
    dist.broadcast_object_list(holder, src=0)
    model = sharded()
    train(model, 2)
    dcp.save(get_model_state_dict(model), checkpoint_id=holder[0])
    resumed = sharded()
    state = get_model_state_dict(resumed)
    dcp.load(state, checkpoint_id=holder[0])
    set_model_state_dict(resumed, state)
    optimizer = torch.optim.SGD(resumed.parameters(), lr=0.1)
    for x, y in batches[2:]:
        optimizer.zero_grad()
        nn.functional.mse_loss(resumed(x[mine].to(mlu)), y[mine].to(mlu)).backward()
        optimizer.step()
    checks["resumed"] = difference(full(resumed), reference.parameters())
    dist.destroy_process_group()
"""


def test_fsdp2_matches_one_process(tmp_path):
    for r in run_ranks(tmp_path, FSDP, timeout=300):
        assert r["sharded"] == "DTensor" and r["shard_rows"] == 8  # half of Linear(8, 16)
        assert r["fp32"] < 1e-5 and r["resumed"] < 1e-5 and r["offload"] < 1e-5
        assert r["prefetch"] < 1e-5
        assert r["offload_device"] == "cpu"
        assert r["bf16"] < 5e-2


TENSOR_PARALLEL = MODEL + """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Shard, distribute_tensor
    from torch.distributed.tensor.parallel import (ColwiseParallel, RowwiseParallel,
                                                   parallelize_module)
    init()
    mesh = init_device_mesh("mlu", (2,))
    checks["mesh"] = str(mesh.device_type)
    t = distribute_tensor(torch.arange(8.0).reshape(4, 2), mesh, [Shard(0)])
    checks["local"] = t.to_local().cpu().tolist()
    checks["dtensor_sum"] = (t * 2).sum().full_tensor().item()
    # The RNG tracker: dropout on a sharded DTensor draws different numbers on each shard, on
    # a replicated one the same on every rank.
    from torch.distributed.tensor import Replicate
    torch.manual_seed(rank)  # the tracker, not the ranks' own seeds, decides
    sharded_mask = torch.nn.functional.dropout(
        distribute_tensor(torch.ones(8, 64), mesh, [Shard(0)]), 0.5).full_tensor()
    checks["shards_differ"] = not torch.equal(sharded_mask[:4], sharded_mask[4:])
    replicated = torch.nn.functional.dropout(
        distribute_tensor(torch.ones(4, 64), mesh, [Replicate()]), 0.5).to_local()
    gathered = [torch.empty_like(replicated) for _ in range(2)]
    dist.all_gather(gathered, replicated)
    checks["replicas_agree"] = torch.equal(gathered[0], gathered[1])

    # A transformer block: attention heads and the MLP's hidden units split over the mesh
    # (Megatron style); each rank computes with the heads it holds.
    class Block(nn.Module):
        def __init__(self, dim=16, heads=4):
            super().__init__()
            self.head_dim = dim // heads
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.q, self.k, self.v = (nn.Linear(dim, dim) for _ in range(3))
            self.proj = nn.Linear(dim, dim)
            self.up, self.down = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        def forward(self, x):
            b, t, _ = x.shape
            h = self.norm1(x)
            q, k, v = (m(h).view(b, t, -1, self.head_dim).transpose(1, 2)
                       for m in (self.q, self.k, self.v))
            a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(b, t, -1))
            return x + self.down(torch.relu(self.up(self.norm2(x))))
    torch.manual_seed(0)
    block = Block()
    single = copy.deepcopy(block)
    parallelize_module(block.to(mlu), mesh, {"q": ColwiseParallel(), "k": ColwiseParallel(),
                                             "v": ColwiseParallel(), "proj": RowwiseParallel(),
                                             "up": ColwiseParallel(), "down": RowwiseParallel()})
    checks["local_q_rows"] = block.q.weight.to_local().shape[0]
    x = torch.randn(2, 5, 16)
    out = block(x.to(mlu))
    out.sum().backward()
    single(x).sum().backward()
    checks["tp_output"] = (out.cpu() - single(x)).abs().max().item()
    checks["tp_grad"] = max((getattr(block, n).weight.grad.full_tensor().cpu()
                             - getattr(single, n).weight.grad).abs().max().item()
                            for n in ("q", "proj", "up", "down"))
    dist.destroy_process_group()
"""


def test_tensor_parallel_block_on_a_device_mesh(tmp_path):
    r0, r1 = run_ranks(tmp_path, TENSOR_PARALLEL)
    assert r0["mesh"] == "mlu"
    assert r0["local"] == [[0.0, 1.0], [2.0, 3.0]] and r1["local"] == [[4.0, 5.0], [6.0, 7.0]]
    for r in (r0, r1):
        assert r["dtensor_sum"] == 56.0
        assert r["shards_differ"] and r["replicas_agree"]
        assert r["local_q_rows"] == 8  # two of the four heads
        assert r["tp_output"] < 1e-5 and r["tp_grad"] < 1e-5
