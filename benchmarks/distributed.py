"""Collectives and data-parallel training on two mlu devices (two processes on this machine).

    python3 benchmarks/distributed.py [--quick] [--json]

- all_reduce bandwidth by size: "cncl" on mlu tensors against gloo on CPU tensors, in the same
  two processes, alternating, medians (algorithm bandwidth: bytes / time).
- DistributedDataParallel on two mlu devices: step time, the same step without communication
  (one process, the same per-rank batch), the gradient all_reduce alone, and the fraction of
  that communication hidden behind backward.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = [1 << 10, 1 << 16, 1 << 20, 1 << 24, 1 << 26, 1 << 28]


def median_seconds(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def all_reduce_bandwidth(dist, torch, rank, repeats, sizes):
    gloo = dist.new_group(backend="gloo")
    rows = []
    for size in sizes:
        numel = size // 4
        repeats_here = repeats if size <= (1 << 24) else max(3, repeats // 2)
        on_mlu = torch.ones(numel, device="mlu")
        on_cpu = torch.ones(numel)

        def cncl():
            dist.all_reduce(on_mlu)
            torch.mlu.synchronize()

        def cpu_gloo():
            dist.all_reduce(on_cpu, group=gloo)

        times = {"cncl": [], "gloo": []}
        for _ in range(2):  # alternate, so that both see the same machine
            times["cncl"].append(median_seconds(cncl, repeats_here))
            times["gloo"].append(median_seconds(cpu_gloo, repeats_here))
        rows.append({"bytes": size, **{k: min(v) for k, v in times.items()}})
        del on_mlu, on_cpu
    return rows


def ddp_overlap(dist, torch, rank, repeats):
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(0)
    width, depth, batch = 1024, 6, 64
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 10)).to("mlu")
    x = torch.randn(batch, width, device="mlu")
    y = torch.randint(0, 10, (batch,), device="mlu")
    ddp = DistributedDataParallel(model, bucket_cap_mb=4)

    def step(module):
        module.zero_grad(set_to_none=False)
        nn.functional.cross_entropy(module(x), y).backward()
        torch.mlu.synchronize()

    grads = [p for p in model.parameters()]
    step(model)  # gradients exist

    def communication():
        for g in grads:  # the same bytes in about the same buckets
            dist.all_reduce(g.grad)
        torch.mlu.synchronize()

    result = {"parameters": sum(p.numel() for p in model.parameters())}
    dist.barrier()
    result["ddp_step"] = median_seconds(lambda: step(ddp), repeats)
    dist.barrier()
    result["compute_step"] = median_seconds(lambda: step(model), repeats)
    dist.barrier()
    result["communication"] = median_seconds(communication, repeats)
    exposed = max(0.0, result["ddp_step"] - result["compute_step"])
    result["hidden_fraction"] = max(0.0, 1.0 - exposed / result["communication"])
    return result


def worker(rank, store, quick):
    import torch
    import torch.distributed as dist

    import torch_mlu  # noqa: F401

    torch.mlu.set_device(rank)
    dist.init_process_group("cncl", init_method=f"file://{store}", rank=rank, world_size=2)
    repeats = 3 if quick else 7
    sizes = SIZES[:4] if quick else SIZES
    out = {"all_reduce": all_reduce_bandwidth(dist, torch, rank, repeats, sizes),
           "ddp": ddp_overlap(dist, torch, rank, repeats)}
    dist.destroy_process_group()
    if rank == 0:
        print(json.dumps(out), flush=True)


def run(quick=False):
    """Both ranks' figures as rank 0 measured them."""
    store = tempfile.mktemp(prefix="torch_mlu_bench_store")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, __file__, "--rank", str(rank), "--store", store]
                              + (["--quick"] if quick else []),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for rank in range(2)]
    outs = [p.communicate(timeout=1800) for p in procs]
    for p, (_, err) in zip(procs, outs):
        if p.returncode != 0:
            raise RuntimeError(f"benchmark rank exited {p.returncode}: {err[-2000:]}")
    return json.loads(outs[0][0].strip().splitlines()[-1])


def report(results):
    print(f"\n{'all_reduce, 2 ranks':<22}{'cncl mlu':>12}{'gloo cpu':>12}{'cncl GB/s':>11}"
          f"{'cncl/gloo':>11}")
    for row in results["all_reduce"]:
        size = row["bytes"]
        label = f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
        print(f"{label:<22}{row['cncl'] * 1e3:>10.3f}ms{row['gloo'] * 1e3:>10.3f}ms"
              f"{size / row['cncl'] / 1e9:>11.2f}{row['gloo'] / row['cncl']:>11.2f}")
    d = results["ddp"]
    print(f"DDP step on 2 mlu devices ({d['parameters'] / 1e6:.1f}M parameters): "
          f"{d['ddp_step'] * 1e3:.1f}ms; without communication {d['compute_step'] * 1e3:.1f}ms; "
          f"gradient all_reduce alone {d['communication'] * 1e3:.1f}ms; "
          f"{d['hidden_fraction']:.0%} of it hidden behind backward")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank is not None:
        worker(args.rank, args.store, args.quick)
        return
    results = run(args.quick)
    report(results)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
