"""OpenMMLab's mmengine Runner training a small CNN, as mmengine's "15 minutes" guide writes it.
The Runner chooses the device itself (mmengine.device.get_device(), "mlu" here).

    python3 examples/ecosystem/mmengine_runner.py [--cpu] [--iters N] [--amp]

--cpu hides the MLU from mmengine (it has no switch of its own) by running with
MLU_VISIBLE_DEVICES empty."""

import argparse
import os
import sys
import tempfile

if "--cpu" in sys.argv:
    os.environ["MLU_VISIBLE_DEVICES"] = ""

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

import common


class SmallNet(BaseModel):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(16)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(32 * 4, 4)

    def forward(self, inputs, labels, mode="tensor"):
        x = F.relu(self.bn(self.conv1(inputs)))
        x = F.adaptive_avg_pool2d(F.relu(self.conv2(x)), 2).flatten(1)  # keeps the quadrants
        logits = self.head(x)
        if mode == "loss":
            return {"loss": F.cross_entropy(logits, labels)}
        return logits


class Quadrants(torch.utils.data.Dataset):
    """Which quadrant of a 16x16 image holds the bright patch."""

    def __init__(self, count):
        generator = torch.Generator().manual_seed(0)
        self.labels = torch.randint(0, 4, (count,), generator=generator)
        self.images = torch.randn(count, 3, 16, 16, generator=generator) * 0.3
        for image, label in zip(self.images, self.labels):
            y, x = divmod(int(label), 2)
            image[:, y * 8:y * 8 + 8, x * 8:x * 8 + 8] += 1.0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"inputs": self.images[i], "labels": self.labels[i]}


class LossLog(Hook):
    def __init__(self):
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(float(outputs["loss"]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    log = LossLog()
    optimizer = dict(type="SGD", lr=0.01, momentum=0.9)
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner(
            model=SmallNet(), work_dir=work_dir,
            train_dataloader=dict(dataset=Quadrants(args.iters * args.batch),
                                  sampler=dict(type="DefaultSampler", shuffle=True, seed=0),
                                  collate_fn=dict(type="default_collate"),
                                  batch_size=args.batch, num_workers=0),
            optim_wrapper=dict(type="AmpOptimWrapper" if args.amp else "OptimWrapper",
                               optimizer=optimizer),
            train_cfg=dict(by_epoch=False, max_iters=args.iters),
            custom_hooks=[log], default_hooks=dict(checkpoint=None),
            randomness=dict(seed=0), log_level="WARNING")
        with common.Timer() as timer:
            runner.train()
        device = next(runner.model.parameters()).device
    common.report("mmengine_runner", device, log.losses, timer.seconds,
                  args.iters * args.batch, {"amp": args.amp})


if __name__ == "__main__":
    main()
