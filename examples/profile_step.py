"""Where a training step's time and memory go on mlu: torch.profiler's device activities and the
caching allocator's memory history, on a small CNN whose next batch is copied on a side stream.

    python examples/profile_step.py [--out DIR] [--steps N]

Prints the operators with the most device time and the largest allocations with the line that
made them, and writes to DIR (default: profile_step/):
  trace.json    the Chrome trace: open in https://ui.perfetto.dev or chrome://tracing
  memory.pickle the memory snapshot: drag onto https://pytorch.org/memory_viz
  trace.png     a rendering: host threads, and a lane per mlu stream with kernels and copies
  memory.png    a rendering: allocated memory over the steps, by the line that allocated it
"""

import argparse
import collections
import json
import pathlib
import sys

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function, schedule

import torch_mlu  # noqa: F401  (also autoloaded by `import torch`)

DEVICE = torch.device("mlu")
# PyTorch before 2.8 crashes recording Python stacks through nn.Module calls on Python 3.13
# (pytorch/pytorch#144094), on any device; the memory history's stacks are unaffected.
WITH_STACK = sys.version_info < (3, 13) or torch.__version__ >= "2.8"


def small_cnn(classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


def host_batches(steps, batch=32, size=32, classes=10):
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        yield (torch.randn(batch, 3, size, size, generator=gen).pin_memory(),
               torch.randint(0, classes, (batch,), generator=gen).pin_memory())


def train(steps):
    """Trains one warm-up step and then `steps` profiled ones, the next batch copied on a side
    stream while a step runs. Returns the profile, and the model and optimizer (still holding
    their memory)."""
    model = small_cnn().to(DEVICE)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    copy_stream = torch.mlu.Stream()

    def prefetch(batch):
        with torch.mlu.stream(copy_stream):
            return [t.to(DEVICE, non_blocking=True) for t in batch]

    batches = host_batches(steps + 2)
    upcoming = prefetch(next(batches))
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.PrivateUse1],
                 schedule=schedule(wait=0, warmup=1, active=steps, repeat=1), profile_memory=True,
                 with_stack=WITH_STACK) as prof:
        for step, host in enumerate(batches):
            torch.mlu.current_stream().wait_stream(copy_stream)
            images, labels = upcoming
            for t in (images, labels):
                t.record_stream(torch.mlu.current_stream())
            upcoming = prefetch(host)
            with record_function(f"step {step}"):
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(images), labels)
                loss.backward()
                optimizer.step()
            print(f"step {step}: loss {loss.item():.4f}")
            prof.step()
    return prof, model, optimizer


def render_trace(trace_path, png_path):
    """Draws the Chrome trace: operators of each host thread, kernels and copies of each stream."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [e for e in json.loads(trace_path.read_text())["traceEvents"]
              if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "kernel", "gpu_memcpy")]
    origin = min(e["ts"] for e in events)
    lanes = collections.defaultdict(list)
    for e in events:
        on_host = e["cat"] == "cpu_op"
        lane = f"host thread {e['tid']}" if on_host else f"mlu:{e['args'].get('device', 0)} " \
            f"stream {e['tid']}"
        lanes[lane].append(e)
    names = sorted(lanes, key=lambda n: (not n.startswith("host"), n))
    colours = {"cpu_op": "tab:blue", "kernel": "tab:orange", "gpu_memcpy": "tab:green"}
    fig, ax = plt.subplots(figsize=(12, 1 + 0.6 * len(names)))
    for row, name in enumerate(names):
        for cat in colours:
            spans = [((e["ts"] - origin) / 1e3, max(e["dur"], 1) / 1e3)
                     for e in lanes[name] if e["cat"] == cat]
            if spans:
                ax.broken_barh(spans, (row - 0.35, 0.7), color=colours[cat], alpha=0.6)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("ms")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.6) for c in colours.values()]
    ax.legend(handles, ["operator", "kernel", "copy"], loc="lower right", bbox_to_anchor=(1, 1),
              ncols=3, frameon=False)
    ax.set_title("torch.profiler on mlu: host operators, and kernels and copies per stream",
                 loc="left")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


def allocation_site(frames):
    """The innermost frame of this program or of the model's modules, else the innermost one."""
    for f in frames:
        if "torch/nn/modules" in f["filename"] or f["filename"].endswith(pathlib.Path(__file__).name):
            return f"{pathlib.Path(f['filename']).name}:{f['line']} {f['name']}"
    return "(no Python frame: autograd)" if not frames else f"{pathlib.Path(frames[0]['filename']).name} {frames[0]['name']}"


def memory_timeline(snapshot, top=6):
    """Allocated bytes after each allocator event, split by allocation site (the top sites, the
    rest as "other"), from the history of device 0."""
    trace = snapshot["device_traces"][0]
    live, sizes = {}, collections.Counter()
    for e in trace:
        if e["action"] == "alloc":
            sizes[allocation_site(e["frames"])] += e["size"]
    keep = [site for site, _ in sizes.most_common(top)]
    series = {site: [] for site in keep + ["other"]}
    current = collections.Counter()
    for e in trace:
        if e["action"] == "alloc":
            site = allocation_site(e["frames"])
            site = site if site in keep else "other"
            live[e["addr"]] = (site, e["size"])
            current[site] += e["size"]
        elif e["action"] == "free_requested" and e["addr"] in live:
            site, size = live.pop(e["addr"])
            current[site] -= size
        else:
            continue
        for site in series:
            series[site].append(current[site] / 2**20)
    return series


def render_memory(snapshot, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = memory_timeline(snapshot)
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.stackplot(range(len(next(iter(series.values())))), *series.values(), labels=list(series))
    ax.set_xlabel("allocator event")
    ax.set_ylabel("allocated MiB")
    ax.set_title("mlu memory over the training steps, by allocation site")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="profile_step", type=pathlib.Path)
    parser.add_argument("--steps", default=3, type=int)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    torch.mlu.memory._record_memory_history(stacks="python", max_entries=100_000)
    prof, model, optimizer = train(args.steps)
    snapshot = torch.mlu.memory._snapshot()
    torch.mlu.memory._dump_snapshot(str(args.out / "memory.pickle"))
    torch.mlu.memory._record_memory_history(enabled=None)
    del model, optimizer

    print("\nThe slowest operators (device time):")
    print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=8))
    print("The largest live allocations:")
    blocks = [b for seg in snapshot["segments"] for b in seg["blocks"]
              if b["state"] == "active_allocated"]
    for b in sorted(blocks, key=lambda b: -b["size"])[:5]:
        print(f"  {b['size'] / 2**10:10.1f} KiB  {allocation_site(b.get('frames', []))}")

    trace = args.out / "trace.json"
    prof.export_chrome_trace(str(trace))
    render_trace(trace, args.out / "trace.png")
    render_memory(snapshot, args.out / "memory.png")
    print(f"\nwrote {', '.join(str(args.out / n) for n in ('trace.json', 'memory.pickle', 'trace.png', 'memory.png'))}")


if __name__ == "__main__":
    main()
