"""Runs a worker script as the ranks of one process group (tests/test_distributed*.py).

Each rank is a fresh interpreter on its own device (mlu:<rank>), joined through a file store.
The script fills a dict `checks` with plain values; the ranks' dicts are returned in rank order.
"""

import signal
import subprocess
import sys
import textwrap
import time

PRELUDE = textwrap.dedent("""
    import faulthandler
    import os
    import signal
    import sys
    import time
    from datetime import timedelta

    import torch
    import torch.distributed as dist
    import torch_mlu

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # finish() asks for stacks on a hang
    rank, world_size, store_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    mlu = torch.device("mlu", rank % torch.mlu.device_count())
    torch.mlu.set_device(mlu)


    def init(backend="cncl", timeout=timedelta(seconds=60), **kwargs):
        dist.init_process_group(backend, init_method=f"file://{store_path}", rank=rank,
                                world_size=world_size, timeout=timeout, **kwargs)


    checks = {}
""")


def launch(tmp_path, body, world_size=2, env=None):
    script = tmp_path / "worker.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + "\nprint(repr(checks), flush=True)\n")
    store = tmp_path / "store"
    return [subprocess.Popen([sys.executable, str(script), str(rank), str(world_size), str(store)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for rank in range(world_size)]


def finish(procs, timeout=180):
    """(returncode, checks or None, stderr) per rank."""
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # the rank's Python stacks, to show where it hung
            time.sleep(2)
            proc.kill()
            out, err = proc.communicate()
            err += "\n(killed: timed out)"
        lines = out.strip().splitlines()
        checks = eval(lines[-1]) if proc.returncode == 0 and lines else None  # a dict's repr
        results.append((proc.returncode, checks, err))
    return results


def run_ranks(tmp_path, body, world_size=2, timeout=180, env=None):
    """Every rank's checks; fails the test with the rank's stderr when one does not exit 0."""
    results = finish(launch(tmp_path, body, world_size, env), timeout)
    failed = [f"rank {rank} exited {code}:\n{err[-4000:]}"
              for rank, (code, _, err) in enumerate(results) if code != 0]
    assert not failed, "\n".join(failed)
    return [checks for _, checks, _ in results]
