"""python -m torch_mlu.apps: run the application suite and write its report."""

import argparse
import pathlib
import sys

from . import report
from .catalog import APPS
from .runner import run_app


class Progress:
    """tqdm when installed, else a line per application."""

    def __init__(self, total):
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="step", file=sys.stderr)
        except ImportError:
            self.bar = None

    def describe(self, text):
        if self.bar is not None:
            self.bar.set_description(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def step(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m torch_mlu.apps", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated names: " + ", ".join(APPS))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 8, 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smaller batches and fewer steps")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("mlu-apps"))
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(APPS)
    unknown = [n for n in names if n not in APPS]
    if unknown:
        parser.error(f"unknown application {', '.join(unknown)}; known: {', '.join(APPS)}")
    steps = args.steps or (3 if args.quick else 8)
    if steps < 1:
        parser.error("--steps must be at least 1")
    progress = Progress(2 * steps * len(names))  # each step runs on the CPU and on mlu
    results = []
    for name in names:
        progress.describe(name)
        results.append(run_app(APPS[name], steps, args.quick, progress.step))
    progress.close()
    args.out.mkdir(parents=True, exist_ok=True)
    figure = "losses.png" if report.loss_figure(results, args.out / "losses.png") else None
    (args.out / "report.md").write_text(report.markdown(results, steps, figure))
    for r in results:
        status = "skipped: " + r.skipped if r.skipped else ("ok" if r.passed else "FAILED " + ", ".join(
            name for name, (_, ok) in r.checks.items() if not ok))
        print(f"{r.app.name:20s} {status}")
    print(f"report: {args.out / 'report.md'}")
    return 0 if all(r.passed or r.skipped for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
