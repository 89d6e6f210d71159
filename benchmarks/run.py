"""Benchmarks: the reference workloads and kernel micro-benchmarks, mlu against PyTorch CPU.

Every figure is measured in this run, in this process, alternating between the configurations:
mlu, CPU with one thread and CPU with PyTorch's default thread count (the CPU baseline is the
better of the two, per workload; both are reported). Writes a JSON file and a PNG chart and
prints a table; changes nothing else. The last section, collectives and DDP on two mlu devices,
runs two processes (benchmarks/distributed.py, which also runs alone).

    tools/devenv python3 benchmarks/run.py [--quick] [--only NAME ...]
"""

import argparse
import dataclasses
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

# Compile times are measured from an empty Inductor cache ("cold"), then from its disk caches.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="torch-mlu-bench-"))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import torch_mlu  # noqa: E402,F401

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import distributed  # noqa: E402
import workloads  # noqa: E402

DEFAULT_THREADS = torch.get_num_threads()
# PyTorch CPU's OpenBLAS and OpenMP worker threads keep spinning for up to about 0.1 s after their
# work; every measurement starts after this pause, so that no configuration runs against the
# previous one's spinning threads on these 2-core machines.
SETTLE_SECONDS = 0.2
# The first run after the pause finds the machine idle (sleeping threads, cold caches; a 1 ms
# training step takes 2 ms on either device here), unlike a training loop's steps, which run back to
# back. So every sample is one untimed run, then runs back to back for at least this long.
SAMPLE_SECONDS = 0.05
MAX_RUNS_PER_SAMPLE = 20


def sync(device):
    if device == "mlu":
        torch.mlu.synchronize()


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def configurations():
    """(label, device, threads): the mlu run keeps the default threads for its fallback."""
    return [("mlu", "mlu", DEFAULT_THREADS), ("cpu-1t", "cpu", 1),
            (f"cpu-{DEFAULT_THREADS}t", "cpu", DEFAULT_THREADS)]


def standard(make_runner):
    """The usual configurations for a runner made per device: {label: (make, device, threads)}."""
    return {label: (lambda device=device: make_runner(device), device, threads)
            for label, device, threads in configurations()}


def sample(fn, device, runs):
    """Seconds per run of `runs` back to back, after the pause and one untimed run."""
    time.sleep(SETTLE_SECONDS)
    fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    sync(device)
    return (time.perf_counter() - start) / runs


def alternate(configs, repeats, warmup):
    """Median seconds per configuration ({label: (make, device, threads)}), run in turn."""
    runners = {}
    for label, (make, device, threads) in configs.items():
        torch.set_num_threads(threads)
        run = make()
        for _ in range(max(warmup, 1)):  # a first call may compile: not what a sample's size needs
            run()
        seconds = timed(run, device)
        runs = max(1, min(MAX_RUNS_PER_SAMPLE, round(SAMPLE_SECONDS / max(seconds, 1e-9))))
        runners[label] = (run, device, threads, runs)
    samples = {label: [] for label in runners}
    for _ in range(repeats):
        for label, (run, device, threads, runs) in runners.items():
            torch.set_num_threads(threads)
            samples[label].append(sample(run, device, runs))
    torch.set_num_threads(DEFAULT_THREADS)
    return {label: statistics.median(s) for label, s in samples.items()}


def maybe_compiled(model, compiled):
    return torch.compile(model) if compiled else model


def workload_runner(workload, compiled=False):
    def make(device):
        model, optimizer = workloads.build(workload, device)
        gen = torch.Generator().manual_seed(1)
        batch = workloads.to_device(workload.make_batch(gen), device)
        run = maybe_compiled(model, compiled)
        return lambda: workloads.train_step(workload, run, optimizer, batch)
    return make


def inference_runner(workload, compiled=False):
    """Forward and loss in eval mode without gradients."""
    def make(device):
        model, _ = workloads.build(workload, device)
        batch = workloads.to_device(workload.make_batch(torch.Generator().manual_seed(1)), device)
        run = maybe_compiled(model.eval(), compiled)

        def step():
            with torch.no_grad():
                return workload.loss(run, batch)
        return step
    return make


def launches_per_step(step):
    """Device kernels one steady-state call of step enqueues (library and generated kernels). A
    first call also makes the optimizer's state (SGD's momentum buffers: 9 more launches for
    lstm_lm), so it runs once before counting."""
    step()
    torch.mlu.synchronize()
    before = torch.mlu.kernel_launches()
    step()
    torch.mlu.synchronize()
    return torch.mlu.kernel_launches() - before


def step_flops(step):
    """Floating-point operations of one step (matrix products, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def first_call_seconds(make):
    """Seconds to build a runner and finish its first step (compilation included)."""
    start = time.perf_counter()
    step = make()
    step()
    torch.mlu.synchronize()
    return time.perf_counter() - start, step


def compiled_section(names, repeats, warmup, peak_gflops):
    """torch.compile (Inductor) on mlu against eager mlu, eager PyTorch CPU and Inductor on CPU;
    the compiled step's share of the sgemm peak measured in this run."""
    out = {}
    print(f"\n{'torch.compile':<28}{'mlu':>10}{'compiled':>10}{'best cpu':>10}{'cpu comp.':>10}"
          f"{'speedup':>9}{'compiled':>9}{'launches':>13}{'first call':>16}{'FLOP share':>12}")
    for name in names:
        workload = workloads.WORKLOADS[name]
        torch._dynamo.reset()
        out[name] = {}
        for mode, runner in (("inference", inference_runner), ("training", workload_runner)):
            # The cache is empty: every pass runs, and the report counts what they did.
            with torch.mlu.compile_report(bypass_caches=False) as report:
                cold, compiled_step = first_call_seconds(lambda: runner(workload, True)("mlu"))
            torch._dynamo.reset()  # the second build compiles again, from the caches
            warm, _ = first_call_seconds(lambda: runner(workload, True)("mlu"))
            launches = (launches_per_step(runner(workload)("mlu")),
                        launches_per_step(compiled_step))
            configs = standard(runner(workload))
            configs["compiled"] = (lambda: runner(workload, True)("mlu"), "mlu", DEFAULT_THREADS)
            configs["cpu-compiled"] = (lambda: runner(workload, True)("cpu"), "cpu", 1)
            m = alternate(configs, repeats, warmup)
            cpu = best_cpu({k: v for k, v in m.items() if k != "cpu-compiled"})
            flops = step_flops(runner(workload)("mlu"))
            share = flops / m["compiled"] / (peak_gflops * 1e9)
            out[name][mode] = {"medians": m, "launches_eager": launches[0],
                               "launches_compiled": launches[1], "first_call_cold": cold,
                               "first_call_warm": warm, "flops": flops, "peak_share": share,
                               "compile_report": dataclasses.asdict(report)}
            print(f"{name + ' ' + mode:<28}{m['mlu'] * 1e3:>8.1f}ms{m['compiled'] * 1e3:>8.1f}ms"
                  f"{cpu * 1e3:>8.1f}ms{m['cpu-compiled'] * 1e3:>8.1f}ms{cpu / m['mlu']:>8.2f}x"
                  f"{cpu / m['compiled']:>8.2f}x{launches[0]:>6} ->{launches[1]:>5}"
                  f"{cold:>7.1f}s /{warm:>5.1f}s{share:>11.0%}")
            print(f"{'':<28}{report}")
    return out


def graph_runner(workload):
    """A training step captured once in an mlu graph (forward, backward, optimizer step), then
    replayed: what torch.mlu.graph buys when the host, not the device, bounds the step."""
    def make(device):
        model, optimizer = workloads.build(workload, device, capturable=True)
        batch = workloads.to_device(workload.make_batch(torch.Generator().manual_seed(1)), device)
        side = torch.mlu.Stream()
        side.wait_stream(torch.mlu.current_stream())
        with torch.mlu.stream(side):  # optimizer state and lazy initialisation, before capture
            for _ in range(2):
                workloads.train_step(workload, model, optimizer, batch)
        torch.mlu.current_stream().wait_stream(side)
        graph = torch.mlu.MLUGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.mlu.graph(graph):
            workload.loss(model, batch).backward()
            optimizer.step()

        def replay():  # the graph reads the batch and updates the model in place: keep them
            graph.replay()
            return model, optimizer, batch
        return replay
    return make


def graph_section(names, repeats, warmup):
    """Whole training steps replayed from an mlu graph against the same step in eager mlu."""
    out = {}
    print(f"\n{'graph replay (training)':<26}{'eager mlu':>11}{'replay':>10}{'best cpu':>10}"
          f"{'vs eager':>10}{'vs cpu':>8}")
    for name in names:
        workload = workloads.WORKLOADS[name]
        configs = standard(workload_runner(workload))
        configs["replay"] = (lambda: graph_runner(workload)("mlu"), "mlu", DEFAULT_THREADS)
        try:
            m = alternate(configs, repeats, warmup)
        except RuntimeError as error:  # an operation the graph cannot hold: say which
            print(f"{name:<26}capture failed: {str(error).splitlines()[0][:120]}")
            out[name] = {"error": str(error)}
            continue
        cpu = best_cpu({k: v for k, v in m.items() if k != "replay"})
        out[name] = {"medians": m, "replay_vs_eager": m["mlu"] / m["replay"]}
        print(f"{name:<26}{m['mlu'] * 1e3:>9.2f}ms{m['replay'] * 1e3:>8.2f}ms{cpu * 1e3:>8.2f}ms"
              f"{m['mlu'] / m['replay']:>9.2f}x{cpu / m['replay']:>7.2f}x")
    return out


def gemm_runner(n):
    def make(device):
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        return lambda: torch.mm(a, b)
    return make


def add_runner(n):
    def make(device):
        a, b = torch.randn(n, device=device), torch.randn(n, device=device)
        out = torch.empty(n, device=device)
        return lambda: torch.add(a, b, out=out)
    return make


def copy_runner(n):
    def make(device):
        a, out = torch.randn(n, device=device), torch.empty(n, device=device)
        return lambda: out.copy_(a)
    return make


# Pointwise kernels whose loops must vectorise (each has regressed to a call per element once:
# GCC stops inlining in large files, and stores may alias a captured scalar).
POINTWISE = {
    "exp": lambda x: x.exp(),
    "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "pow_2": lambda x: x.pow(2),
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x),
}


def pointwise_runner(op, n):
    def make(device):
        x = torch.randn(n, device=device)
        return lambda: POINTWISE[op](x)
    return make


def small_op_chain_runner(ops):
    def make(device):
        x = torch.randn(64, device=device)
        def run():
            y = x
            for _ in range(ops):
                y = y * 0.5 + 0.25
            return y
        return run
    return make


def dispatch_cost(device, calls=2000):
    """Host seconds per small operator until the Python call returns (no synchronisation)."""
    x = torch.randn(64, device=device)
    for _ in range(100):
        x.add(1.0)
    sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        x.add(1.0)
    elapsed = time.perf_counter() - start
    sync(device)
    return elapsed / calls


def observability_cost(rounds=5):
    """Host seconds per small mlu operator with torch.profiler and memory history off (never
    started), recording, and off again after a trace: the medians of alternating rounds."""
    samples = {"off": [], "profiler recording": [], "off after a trace": [],
               "memory history recording": []}
    activities = [ProfilerActivity.CPU, ProfilerActivity.PrivateUse1]
    for _ in range(rounds):
        samples["off"].append(dispatch_cost("mlu"))
        with profile(activities=activities):
            samples["profiler recording"].append(dispatch_cost("mlu"))
        time.sleep(SETTLE_SECONDS)
        samples["off after a trace"].append(dispatch_cost("mlu"))
        torch.mlu.memory._record_memory_history()
        samples["memory history recording"].append(dispatch_cost("mlu"))
        torch.mlu.memory._record_memory_history(enabled=None)
        time.sleep(SETTLE_SECONDS)
    return {k: statistics.median(v) for k, v in samples.items()}


AMP_DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def amp_runner(workload, dtype):
    """A training step on mlu under autocast to dtype (None: float32), fp16 with a GradScaler."""
    def make():
        model, optimizer = workloads.build(workload, "mlu")
        batch = workloads.to_device(workload.make_batch(torch.Generator().manual_seed(1)), "mlu")
        scaler = torch.amp.GradScaler("mlu", enabled=dtype == torch.float16)

        def step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("mlu", dtype=dtype or torch.float16, enabled=dtype is not None):
                loss = workload.loss(model, batch)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return step
    return make


def mixed_precision(workload, repeats, warmup):
    """Median step time on mlu in float32 and under autocast, samples alternating in one process,
    and each one's peak device memory (measured alone, over one step after warm-up)."""
    configs = {label: (amp_runner(workload, dtype), "mlu", DEFAULT_THREADS)
               for label, dtype in AMP_DTYPES.items()}
    medians = alternate(configs, repeats, warmup)
    out = {}
    for label, dtype in AMP_DTYPES.items():
        step = amp_runner(workload, dtype)()
        for _ in range(max(warmup, 1)):
            timed(step, "mlu")
        torch.mlu.reset_peak_memory_stats()
        timed(step, "mlu")
        out[label] = {"seconds": medians[label], "peak_bytes": torch.mlu.max_memory_allocated()}
        del step
    return out


def best_cpu(medians):
    return min(v for k, v in medians.items() if k.startswith("cpu"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", nargs="*", help="workloads to run (default: all)")
    parser.add_argument("--graphs-only", action="store_true",
                        help="only the graph-replay section (printed, not written)")
    parser.add_argument("--out", default="benchmarks/results.json")
    parser.add_argument("--chart", default="benchmarks/results.png")
    args = parser.parse_args()
    repeats, warmup = (3, 1) if args.quick else (7, 2)
    # Micro-benchmarks are short: more samples, so that the median survives these VMs' stalls
    # (a 12 ms sgemm sometimes takes 21 ms, on the CPU as on mlu).
    micro_repeats = 3 * repeats
    results = {"torch": torch.__version__, "threads": DEFAULT_THREADS, "micro": {}, "workloads": {}}
    if args.graphs_only:
        graph_section(args.only or list(workloads.WORKLOADS), repeats, warmup)
        return

    print(f"torch {torch.__version__}, {DEFAULT_THREADS} default threads, median of {repeats} "
          f"({micro_repeats} for micro-benchmarks)")
    n_gemm, n_stream = 1024, 1 << 24
    gemm = alternate(standard(gemm_runner(n_gemm)), micro_repeats, warmup)
    flops = 2 * n_gemm**3
    copy = alternate(standard(copy_runner(n_stream)), micro_repeats, warmup)
    add = alternate(standard(add_runner(n_stream)), micro_repeats, warmup)
    peak_gflops = flops / best_cpu(gemm) / 1e9
    peak_copy = 2 * 4 * n_stream / best_cpu(copy) / 1e9
    micro = results["micro"]
    micro["sgemm_1024"] = {"medians": gemm, "mlu_gflops": flops / gemm["mlu"] / 1e9,
                           "peak_gflops": peak_gflops}
    micro["copy_64MB"] = {"medians": copy, "peak_gbps": peak_copy}
    micro["add_64MB"] = {"medians": add, "mlu_gbps": 3 * 4 * n_stream / add["mlu"] / 1e9}
    for op in POINTWISE:
        micro[f"{op}_1M"] = {"medians": alternate(standard(pointwise_runner(op, 1 << 20)),
                                                  micro_repeats, warmup)}
    chain = alternate(standard(small_op_chain_runner(2000)), micro_repeats, warmup)
    micro["chain_4000_small_ops"] = {"medians": chain}
    micro["dispatch_seconds_per_op"] = {"mlu": dispatch_cost("mlu"), "cpu": dispatch_cost("cpu")}

    print(f"\npeaks measured now: OpenBLAS sgemm via torch CPU {peak_gflops:.1f} GFLOPS, "
          f"memory copy {peak_copy:.1f} GB/s")
    print(f"{'micro-benchmark':<26}{'mlu':>12}{'best cpu':>12}{'cpu/mlu':>9}  note")
    for name, note in (("sgemm_1024", f"{micro['sgemm_1024']['mlu_gflops']:.1f} GFLOPS "
                        f"({micro['sgemm_1024']['mlu_gflops'] / peak_gflops:.0%} of peak)"),
                       ("add_64MB", f"{micro['add_64MB']['mlu_gbps']:.1f} GB/s "
                        f"({micro['add_64MB']['mlu_gbps'] / peak_copy:.0%} of copy)"),
                       ("copy_64MB", ""),
                       *((f"{op}_1M", "pointwise, float32") for op in POINTWISE),
                       ("chain_4000_small_ops", "end to end")):
        m = micro[name]["medians"]
        print(f"{name:<26}{m['mlu'] * 1e3:>10.2f}ms{best_cpu(m) * 1e3:>10.2f}ms"
              f"{best_cpu(m) / m['mlu']:>9.2f}  {note}")
    d = micro["dispatch_seconds_per_op"]
    print(f"{'host cost of a small op':<26}{d['mlu'] * 1e6:>10.1f}us{d['cpu'] * 1e6:>10.1f}us"
          f"{d['cpu'] / d['mlu']:>9.2f}  until the Python call returns")
    micro["observability_seconds_per_op"] = cost = observability_cost()
    print("host cost of a small mlu op with the profiler and memory history: " + ", ".join(
        f"{k} {v * 1e6:.2f}us" for k, v in cost.items()))

    names = args.only or list(workloads.WORKLOADS)
    print(f"\n{'training step':<20}{'mlu':>10}{'cpu-1t':>10}{f'cpu-{DEFAULT_THREADS}t':>10}{'speedup':>9}"
          f"  fallback ops")
    for name in names:
        workload = workloads.WORKLOADS[name]
        torch.mlu.reset_fallback_stats()
        medians = alternate(standard(workload_runner(workload)), repeats, warmup)
        fallback_calls = sum(s["calls"] for s in torch.mlu.fallback_stats().values())
        speedup = best_cpu(medians) / medians["mlu"]
        results["workloads"][name] = {"area": workload.area, "medians": medians, "speedup": speedup,
                                      "fallback_ops": sorted(torch.mlu.fallback_stats()),
                                      "fallback_calls": fallback_calls}
        cells = "".join(f"{medians[label] * 1e3:>8.1f}ms" for label, _, _ in configurations())
        print(f"{name:<20}{cells}{speedup:>8.2f}x  {len(torch.mlu.fallback_stats())} kinds, "
              f"{fallback_calls} calls")

    results["compiled"] = compiled_section(names, repeats, warmup, peak_gflops)
    results["graphs"] = graph_section(names, repeats, warmup)

    print(f"\n{'mixed precision (mlu)':<22}{'fp32':>9}{'fp16':>9}{'bf16':>9}"
          f"{'fp16/fp32':>11}{'bf16/fp32':>11}   peak MB fp32/fp16/bf16")
    results["amp"] = {}
    for name in names:
        amp = mixed_precision(workloads.WORKLOADS[name], repeats, warmup)
        results["amp"][name] = amp
        times = "".join(f"{amp[k]['seconds'] * 1e3:>7.1f}ms" for k in AMP_DTYPES)
        ratios = "".join(f"{amp[k]['seconds'] / amp['fp32']['seconds']:>11.2f}"
                         for k in ("fp16", "bf16"))
        peaks = "/".join(f"{amp[k]['peak_bytes'] / 2**20:.0f}" for k in AMP_DTYPES)
        print(f"{name:<22}{times}{ratios}   {peaks}")

    results["distributed"] = distributed.run(args.quick)
    distributed.report(results["distributed"])

    pathlib.Path(args.out).write_text(json.dumps(results, indent=2))
    chart(results, args.chart)
    print(f"\nwrote {args.out} and {args.chart}")


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["workloads"])
    speedups = [results["workloads"][n]["speedup"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(names, speedups, color=["tab:green" if s >= 1 else "tab:red" for s in speedups])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.25, color="gray", linewidth=0.8, linestyle="--", label="goal 1.25x")
    ax.set_ylabel("training step speedup vs best PyTorch CPU")
    ax.set_title(f"torch_mlu (software MLU) vs PyTorch {results['torch']} CPU")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
