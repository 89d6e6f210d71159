"""Running one application on the CPU and on mlu, step by step, from the same weights."""

import copy
import dataclasses
import importlib.util
import math
import statistics
import time
from typing import Any, Callable, Optional

import torch


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


@dataclasses.dataclass
class App:
    name: str
    area: str
    model: str  # what is trained, in a few words
    build: Callable[[bool], torch.nn.Module]  # quick -> the model, on the CPU
    batch: Callable[[torch.Generator, bool], Any]  # (generator, quick) -> one batch, on the CPU
    loss: Callable[[torch.nn.Module, Any], torch.Tensor]
    optimizer: Callable = sgd  # model -> optimizer
    # Extra agreement checks after training: (cpu model, mlu model, first batch, quick) ->
    # {name: (value, passed)}; inference paths, generation.
    check: Optional[Callable] = None
    # Whether the training losses must agree: not when the model draws random numbers
    # (detection samplers), whose streams differ between devices.
    losses_agree: bool = True
    # Largest relative loss difference from the CPU: at the first step (the same weights and
    # data: rounding only), and over the run (training amplifies rounding differences).
    first_tolerance: float = 1e-4
    tolerance: float = 2e-2
    requires: tuple = ()
    # Training on mlu other than in this process (several ranks): (app, the model with its
    # initial weights on the CPU, batches, quick) -> MluRun.
    train_on_mlu: Optional[Callable] = None


@dataclasses.dataclass
class MluRun:
    losses: list  # per step
    seconds: float  # the median step
    peak_bytes: int
    fallback: dict  # operator -> calls


@dataclasses.dataclass
class Result:
    app: App
    skipped: str = ""  # the reason, when the application could not run here
    losses: dict = dataclasses.field(default_factory=dict)  # device -> per-step loss
    seconds: dict = dataclasses.field(default_factory=dict)  # device -> median step time
    peak_bytes: int = 0
    fallback: dict = dataclasses.field(default_factory=dict)  # operator -> calls
    checks: dict = dataclasses.field(default_factory=dict)  # name -> (value, passed)
    samples: int = 0  # per batch
    cpu_threads: int = 1  # the CPU's faster thread count, which its throughput is from

    @property
    def passed(self):
        return not self.skipped and all(ok for _, ok in self.checks.values())

    def throughput(self, device):
        return self.samples / self.seconds[device] if self.seconds.get(device) else 0.0


def to_device(batch, device):
    if torch.is_tensor(batch):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def batch_size(batch):
    """Samples in a batch: the first dimension of its first tensor, or its first list's length."""
    if torch.is_tensor(batch):
        return batch.shape[0]
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
    return len(first) if isinstance(first, list) else batch_size(first)


def loss_difference(cpu, mlu):
    """The largest relative difference between two loss curves."""
    return max(abs(m - c) / max(abs(c), 1e-6) for c, m in zip(cpu, mlu))


def train(app, model, optimizer, batches, device, on_step):
    losses, seconds = [], []  # per step
    for batch in batches:
        batch = to_device(batch, device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = app.loss(model, batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())  # waits for the device
        seconds.append(time.perf_counter() - start)
        on_step()
    # The first step pays for warm-up (allocations, kernel plans), unless it is the only one.
    return losses, statistics.median(seconds[1:] or seconds)


def cpu_seconds_at_one_thread(app, quick, batches):
    """The CPU's median step on one thread: on small models PyTorch CPU is often faster so
    (its OpenMP threads spin), and the comparison is with the CPU at its best."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = app.build(quick)
        return train(app, model, app.optimizer(model), batches, "cpu", lambda: None)[1]
    finally:
        torch.set_num_threads(threads)


def run_on_mlu(app, model, batches, quick, on_step):
    if app.train_on_mlu is not None:
        run = app.train_on_mlu(app, model, batches, quick)
        for _ in batches:
            on_step()
        return run
    torch.mlu.synchronize()
    torch.mlu.reset_peak_memory_stats()
    torch.mlu.reset_fallback_stats()
    losses, seconds = train(app, model, app.optimizer(model), batches, "mlu", on_step)
    fallback = {name: stats["calls"] for name, stats in torch.mlu.fallback_stats().items()}
    return MluRun(losses, seconds, torch.mlu.max_memory_allocated(), fallback)


def run_app(app, steps, quick=False, on_step=lambda: None):
    missing = [m for m in app.requires if importlib.util.find_spec(m) is None]
    if missing:
        return Result(app, skipped=f"{', '.join(missing)} not installed")
    torch.manual_seed(0)
    cpu_model = app.build(quick)
    mlu_model = copy.deepcopy(cpu_model)
    if app.train_on_mlu is None:
        mlu_model.to("mlu")
    generator = torch.Generator().manual_seed(1)
    batches = [app.batch(generator, quick) for _ in range(steps)]
    result = Result(app, samples=batch_size(batches[0]))
    cpu_losses, result.seconds["cpu"] = train(app, cpu_model, app.optimizer(cpu_model),
                                              batches, "cpu", on_step)
    result.cpu_threads = torch.get_num_threads()
    if result.cpu_threads > 1:
        one_thread = cpu_seconds_at_one_thread(app, quick, batches)
        if one_thread < result.seconds["cpu"]:
            result.seconds["cpu"], result.cpu_threads = one_thread, 1
    mlu = run_on_mlu(app, mlu_model, batches, quick, on_step)
    result.seconds["mlu"], result.peak_bytes = mlu.seconds, mlu.peak_bytes
    result.losses = {"cpu": cpu_losses, "mlu": mlu.losses}
    finite = all(math.isfinite(loss) for loss in mlu.losses)
    result.checks["finite losses"] = (finite, finite)
    if app.losses_agree:
        first = loss_difference(cpu_losses[:1], mlu.losses[:1])
        result.checks["first loss vs CPU"] = (first, first <= app.first_tolerance)
        difference = loss_difference(cpu_losses, mlu.losses)
        result.checks["losses vs CPU"] = (difference, difference <= app.tolerance)
    if app.check is not None:
        result.checks.update(app.check(cpu_model, mlu_model, batches[0], quick))
    result.fallback = mlu.fallback
    result.checks["fallback calls"] = (sum(result.fallback.values()), not result.fallback)
    return result
