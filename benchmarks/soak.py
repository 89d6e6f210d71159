"""Soak: many training steps of a reference workload on mlu, printing every 100 steps the device
memory (allocated, reserved), the process's resident memory and the median step time of the last
100 steps. A leak or a slowdown shows as a column that keeps growing; it is a benchmark, so it
prints figures and asserts nothing.

    tools/devenv python3 benchmarks/soak.py [--workload gpt] [--steps 1000]

Each step draws a new batch (a fresh pinned host tensor copied without blocking, as a data loader
does), runs forward, backward and the optimizer, and reads the loss with .item() every 10 steps.
"""

import argparse
import pathlib
import statistics
import sys
import time

import torch

import torch_mlu  # noqa: F401

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import workloads  # noqa: E402


def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="gpt", choices=sorted(workloads.WORKLOADS))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()

    workload = workloads.WORKLOADS[args.workload]
    model, optimizer = workloads.build(workload, "mlu")
    gen = torch.Generator().manual_seed(0)
    print(f"soak: {args.workload}, {args.steps} steps on mlu")
    print(f"{'step':>6} {'allocated MiB':>14} {'reserved MiB':>13} {'RSS MiB':>9} "
          f"{'median step ms':>15} {'loss':>8}")
    times, loss = [], float("nan")
    for step in range(1, args.steps + 1):
        batch = tuple(t.pin_memory().to("mlu", non_blocking=True)
                      for t in workload.make_batch(gen))
        start = time.perf_counter()
        value = workloads.train_step(workload, model, optimizer, batch)
        if step % 10 == 0:
            loss = value.item()
        else:
            torch.mlu.current_stream().synchronize()
        times.append(time.perf_counter() - start)
        if step % args.every == 0:
            print(f"{step:>6} {torch.mlu.memory_allocated() / 2**20:>14.2f} "
                  f"{torch.mlu.memory_reserved() / 2**20:>13.2f} {resident_mib():>9.1f} "
                  f"{statistics.median(times) * 1e3:>15.2f} {loss:>8.4f}", flush=True)
            times.clear()


if __name__ == "__main__":
    main()
