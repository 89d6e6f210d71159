"""What the ecosystem examples share: a character-level corpus made here (no downloads), the
report every example prints, and the fallback count that proves the device did all the work."""

import gc
import json
import random
import time

import torch

ALPHABET = "abcdefghijklmnopqrstuvwxyz ."
VOCAB = len(ALPHABET) + 2  # padding and beginning-of-text
PAD, BOS = len(ALPHABET), len(ALPHABET) + 1


def encode(text):
    return [ALPHABET.index(c) for c in text]


def sentences(count, seed=0, length=48):
    """Pseudo-English: words from a small fixed vocabulary, so that a tiny model learns quickly."""
    words = "the a model learns trains on device fast slow data loss curve step token text".split()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = ""
        while len(text) < length:
            text += rng.choice(words) + " "
        out.append(text[: length - 1] + ".")
    return out


def classification_set(count, seed=0, length=32):
    """(input_ids, label): does the text mention "device" more often than "data"?"""
    rows = []
    for text in sentences(count, seed, length):
        rows.append((encode(text), int(text.count("device") > text.count("data"))))
    return rows


def fallbacks():
    """{operator: calls} that ran on the CPU fallback so far in this process (none on CPU runs)."""
    if not hasattr(torch, "mlu"):
        return {}
    return {name: stat["calls"] for name, stat in torch.mlu.fallback_stats().items()}


def report(name, device, losses, seconds, samples, extra=None):
    """One JSON line on stdout: what the comparison scripts and tests read."""
    record = {
        "example": name,
        "device": str(device),
        "losses": [round(float(x), 6) for x in losses],
        "samples_per_second": samples / seconds if seconds > 0 else None,
        "fallbacks": fallbacks(),
    }
    record.update(extra or {})
    print("RESULT " + json.dumps(record), flush=True)
    return record


def release_process_group():
    """Destroys the default process group while the interpreter is whole, once the caller has
    dropped what holds it (a DDP model). With PyTorch 2.15's gloo, a group alive at exit can abort
    the process: a gloo thread frees finished work during interpreter shutdown (see
    tests/test_distributed.py).

    Gloo's group destructor joins its worker threads with the GIL held, and a worker retiring a
    finished collective whose tensor Python already dropped takes the GIL to free it: a deadlock
    (on 2.6, two runs in 65 with both cores busy). The barrier finishes every collective on both ranks,
    and the pause, GIL released, lets the workers retire them before the destructor runs."""
    gc.collect()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        time.sleep(0.2)
        torch.distributed.destroy_process_group()


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start

