"""The suite's Markdown report and its loss-curve figure."""

import datetime
import platform

import torch


def describe_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1e}"
    return str(value)


def machine():
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    import os
    return f"{model}, {os.cpu_count()} cores"


def markdown(results, steps, figure):
    import importlib.metadata
    lines = [
        "# torch_mlu application suite",
        "",
        f"{datetime.date.today()}, PyTorch {torch.__version__}, torch_mlu "
        f"{importlib.metadata.version('torch_mlu')}, {machine()}; {steps} training steps per "
        "application on mlu and on the CPU from the same weights and batches. Throughput: samples "
        "per second, median step after the first; the CPU's at its faster thread count (1 or "
        f"{torch.get_num_threads()}, in brackets).",
        "",
        "| application | area | model | agreement | loss first -> last (mlu) | mlu samples/s "
        "| CPU samples/s | mlu / CPU | peak mlu memory | fallback calls |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.app.name} | {r.app.area} | {r.app.model} | skipped: {r.skipped} "
                         "| | | | | | |")
            continue
        agreement = "; ".join(f"{name}: {describe_value(value)}{'' if ok else ' (FAILED)'}"
                              for name, (value, ok) in r.checks.items()
                              if name != "fallback calls")
        mlu = r.losses["mlu"]
        ratio = r.throughput("mlu") / r.throughput("cpu") if r.throughput("cpu") else 0
        fallback = sum(r.fallback.values())
        fallback_text = f"{fallback} ({', '.join(sorted(r.fallback))})" if fallback else "0"
        lines.append(
            f"| {r.app.name} | {r.app.area} | {r.app.model} | {agreement} | {mlu[0]:.4f} -> "
            f"{mlu[-1]:.4f} | {r.throughput('mlu'):.1f} | {r.throughput('cpu'):.1f} "
            f"({r.cpu_threads}) | "
            f"{ratio:.2f}x | {r.peak_bytes / 2**20:.1f} MiB | {fallback_text} |")
    passed = sum(r.passed for r in results)
    ran = sum(not r.skipped for r in results)
    lines += ["", f"{passed} of {ran} applications agree with the CPU and ran without fallback.", ""]
    if figure:
        lines += [f"![training losses, mlu and CPU]({figure})", ""]
    return "\n".join(lines)


def loss_figure(results, path):
    """Loss curves, mlu against CPU, one panel per application; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ran = [r for r in results if not r.skipped]
    if not ran:
        return False
    columns = min(4, len(ran))
    rows = (len(ran) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(ran):]:
        ax.axis("off")
    for ax, r in zip(axes.flat, ran):
        steps = range(1, len(r.losses["mlu"]) + 1)
        ax.plot(steps, r.losses["cpu"], label="CPU", linewidth=2.5, alpha=0.5)
        ax.plot(steps, r.losses["mlu"], label="mlu", linestyle="--")
        ax.set_title(r.app.name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
