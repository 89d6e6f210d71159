"""Train a torchvision ResNet on synthetic images on mlu and on the CPU, and compare.

Both runs start from the same weights and see the same batches, so their loss curves should
agree to float32 rounding. Prints both curves and the throughput of each device.
"""

import argparse
import copy
import time

import torch
import torchvision
from tqdm import tqdm

import torch_mlu  # noqa: F401  (also autoloaded by `import torch`)


def synthetic_batches(steps, batch_size, image_size, num_classes, seed):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        images = torch.randn(batch_size, 3, image_size, image_size, generator=gen)
        labels = torch.randint(0, num_classes, (batch_size,), generator=gen)
        yield images, labels


def train(model, device, args):
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses, step_times = [], []
    batches = synthetic_batches(args.steps, args.batch_size, args.image_size, args.num_classes, 0)
    for images, labels in tqdm(batches, total=args.steps, desc=f"train on {device}", leave=False):
        start = time.perf_counter()
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())  # reading the loss waits for the device
        step_times.append(time.perf_counter() - start)
    return losses, step_times


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = getattr(torchvision.models, args.model)(num_classes=args.num_classes)
    mlu_losses, mlu_times = train(copy.deepcopy(model), torch.device("mlu"), args)
    cpu_losses, cpu_times = train(copy.deepcopy(model), torch.device("cpu"), args)

    print(f"{args.model}, batch {args.batch_size} of {args.image_size}x{args.image_size}, "
          f"{args.steps} SGD steps")
    print(f"{'step':>4} {'loss mlu':>10} {'loss cpu':>10} {'|diff|':>10}")
    for step, (a, b) in enumerate(zip(mlu_losses, cpu_losses)):
        print(f"{step:>4} {a:>10.5f} {b:>10.5f} {abs(a - b):>10.2e}")
    # The first step includes one-time costs (allocations, first-use warnings): leave it out.
    for name, times in (("mlu", mlu_times), ("cpu", cpu_times)):
        steady = sorted(times[1:]) or times
        median = steady[len(steady) // 2]
        print(f"{name}: median step {median * 1e3:8.1f} ms, "
              f"{args.batch_size / median:8.1f} images/s")
    fallbacks = torch.mlu.fallback_stats()
    if fallbacks:
        calls = sum(s["calls"] for s in fallbacks.values())
        print(f"mlu ran {calls} operator calls of {len(fallbacks)} kinds on the CPU fallback "
              "(torch.mlu.fallback_table() lists them)")
    # Rounding differences of 1e-7 grow chaotically over many steps of training; the first steps
    # show whether the two devices compute the same thing.
    early = [abs(a - b) / abs(b) for a, b in zip(mlu_losses[:3], cpu_losses[:3])]
    if max(early) > 1e-3:
        raise SystemExit(f"loss curves differ from the first steps: relative differences {early}")


if __name__ == "__main__":
    main()
