"""Ray Train's TorchTrainer with two workers, each training on its own MLU with DDP over "cncl".

    python3 examples/ecosystem/ray_train.py [--cpu] [--steps N]

Ray 2.60 has no MLU device manager (it knows CUDA, NPU, HPU and a few others), so as with any
device Ray does not schedule, each worker picks mlu:<local rank> itself and TorchConfig names the
collective backend."""

import argparse
import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "0")

import ray
import torch
from ray import train
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchConfig, TorchTrainer

import common


def train_loop(config):
    import torch_mlu  # noqa: F401  (a worker process; torch would also autoload it)

    rank = train.get_context().get_world_rank()
    local_rank = train.get_context().get_local_rank()
    device = torch.device("cpu") if config["cpu"] else torch.device("mlu", local_rank)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Linear(64, 1))
    model = torch.nn.parallel.DistributedDataParallel(model.to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(rank)
    target = torch.linspace(-1, 1, 16)
    losses = []
    for _ in range(config["steps"]):
        x = torch.randn(32, 16, generator=generator)
        y = (x @ target * 0.25).tanh().unsqueeze(1)
        loss = torch.nn.functional.mse_loss(model(x.to(device)), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # The mean over workers, so that every rank reports the same curve.
        mean = loss.detach().clone()
        torch.distributed.all_reduce(mean)
        losses.append(mean.item() / train.get_context().get_world_size())
    train.report({"losses": losses, "device": str(device),
                  "backend": torch.distributed.get_backend(),
                  "fallbacks": common.fallbacks()})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": here}})
    trainer = TorchTrainer(
        train_loop, train_loop_config={"steps": args.steps, "cpu": args.cpu},
        torch_config=TorchConfig(backend="gloo" if args.cpu else "cncl"),
        scaling_config=ScalingConfig(num_workers=2, resources_per_worker={"CPU": 1},
                                     trainer_resources={"CPU": 0}),
        run_config=RunConfig(storage_path="/tmp/torch_mlu_ray", name="ray_train"))
    with common.Timer() as timer:
        result = trainer.fit()
    ray.shutdown()
    metrics = result.metrics
    common.report("ray_train", metrics["device"], metrics["losses"], timer.seconds,
                  args.steps * 32 * 2,
                  {"backend": metrics["backend"], "worker_fallbacks": metrics["fallbacks"]})


if __name__ == "__main__":
    main()
