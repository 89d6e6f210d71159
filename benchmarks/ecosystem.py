"""Throughput of the ecosystem examples (examples/ecosystem/) on mlu against the same script on
PyTorch CPU at its best thread count (1 thread or the default, whichever is faster), each run as
its user runs it, in a fresh process.

    python3 benchmarks/ecosystem.py [--quick]

Samples per second cover the whole training loop, first step included, as Trainer reports it.
Needs the libraries of tools/ecosystem.txt (tools/devenv installs them)."""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ecosystem"

CASES = [  # (name, module it needs, script and arguments)
    ("Trainer BERT classifier", "transformers", ["hf_trainer.py", "--model", "bert"]),
    ("Trainer GPT-2 LM", "transformers", ["hf_trainer.py", "--model", "gpt2"]),
    ("Trainer Llama LM, bf16", "transformers", ["hf_trainer.py", "--model", "llama", "--bf16"]),
    ("accelerate loop, GPT-2", "accelerate", ["accelerate_loop.py"]),
    ("diffusers UNet2D DDPM", "diffusers", ["diffusers_unet.py"]),
    ("mmengine Runner CNN", "mmengine", ["mmengine_runner.py", "--iters", "60"]),
]


def run(args, threads=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLU_")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=EXAMPLES, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    args = parser.parse_args()
    print(f"{'workload':28} {'mlu samples/s':>14} {'CPU 1 thread':>13} {'CPU default':>12} "
          f"{'mlu / best CPU':>15}  fallbacks")
    for name, module, script in CASES:
        if importlib.util.find_spec(module) is None:
            print(f"{name:28} skipped: {module} is not installed")
            continue
        script = [str(EXAMPLES / script[0]), *script[1:]]
        if args.quick and "--iters" not in script:
            script += ["--steps", "10"]
        mlu = run(script)
        time.sleep(1)  # let the previous process's threads go before timing the next
        one = run(script + ["--cpu"], threads=1)
        time.sleep(1)
        default = run(script + ["--cpu"])
        best = max(one["samples_per_second"], default["samples_per_second"])
        print(f"{name:28} {mlu['samples_per_second']:14.1f} {one['samples_per_second']:13.1f} "
              f"{default['samples_per_second']:12.1f} {mlu['samples_per_second'] / best:14.2f}x  "
              f"{sum(mlu['fallbacks'].values())}", flush=True)


if __name__ == "__main__":
    main()
