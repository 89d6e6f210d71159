"""ResNet-18 training in the style of pytorch/examples/imagenet, with mixed precision
(autocast + GradScaler), CUDA event timing and a checkpoint reloaded with map_location.
Synthetic 32x32 images stand in for ImageNet."""

import argparse
import contextlib
import functools
import os
import tempfile
import time

import torch
import torch.backends.cudnn as cudnn
import torch.nn as nn
import torchvision.models as models


def synthetic_batches(count, batch_size, num_classes, seed):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch_size, 3, 32, 32, generator=generator),
             torch.randint(0, num_classes, (batch_size,), generator=generator))
            for _ in range(count)]


def train(loader, model, criterion, optimizer, scaler, autocast, epoch, args):
    model.train()
    for i, (images, target) in enumerate(loader):
        if args.gpu is not None:
            images = images.cuda(args.gpu, non_blocking=True)
            target = target.cuda(args.gpu, non_blocking=True)
        with autocast():
            output = model(images)
            loss = criterion(output, target)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        print(f"Epoch: [{epoch}][{i}/{len(loader)}]\tloss={loss.item():.8g}")


def validate(loader, model, criterion, args):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for images, target in loader:
            if args.gpu is not None:
                images = images.cuda(args.gpu, non_blocking=True)
                target = target.cuda(args.gpu, non_blocking=True)
            total += criterion(model(images), target).item()
    return total / len(loader)


def main():
    parser = argparse.ArgumentParser(description="PyTorch ImageNet Training")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--wd", type=float, default=1e-4)
    parser.add_argument("--gpu", type=int, default=0)
    parser.add_argument("--no-cuda", action="store_true")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.no_cuda or not torch.cuda.is_available():
        args.gpu = None
    torch.manual_seed(args.seed)
    cudnn.deterministic = True
    cudnn.benchmark = False
    if args.gpu is not None:
        torch.cuda.set_device(args.gpu)
        device = torch.device("cuda", args.gpu)
        print(f"Use GPU: {args.gpu} ({torch.cuda.get_device_name(args.gpu)}) for training")
    else:
        device = torch.device("cpu")

    model = models.__dict__[args.arch](num_classes=10)
    if args.gpu is not None:
        model = model.cuda(args.gpu)
    criterion = nn.CrossEntropyLoss().to(device)
    optimizer = torch.optim.SGD(model.parameters(), args.lr, momentum=args.momentum,
                                weight_decay=args.wd)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp)
    # As in timm: autocast only when mixed precision is on.
    autocast = (functools.partial(torch.autocast, device_type=device.type, dtype=torch.float16)
                if args.amp else contextlib.nullcontext)

    train_loader = synthetic_batches(2, args.batch_size, 10, args.seed)
    val_loader = synthetic_batches(1, args.batch_size, 10, args.seed + 1)
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        checkpoint_path = os.path.join(checkpoint_dir, "checkpoint.pth.tar")
        for epoch in range(args.epochs):
            if args.gpu is not None:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
            else:
                started = time.perf_counter()
            train(train_loader, model, criterion, optimizer, scaler, autocast, epoch, args)
            scheduler.step()
            if args.gpu is not None:
                end.record()
                torch.cuda.synchronize()
                elapsed_ms = start.elapsed_time(end)
            else:
                elapsed_ms = (time.perf_counter() - started) * 1000
            val_loss = validate(val_loader, model, criterion, args)
            print(f"epoch {epoch}: val_loss={val_loss:.8g} ({elapsed_ms:.0f} ms)")
            torch.save({"epoch": epoch + 1, "arch": args.arch, "state_dict": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict()},
                       checkpoint_path)

        # Resume from the checkpoint into a fresh model, as --resume does.
        loc = f"cuda:{args.gpu}" if args.gpu is not None else "cpu"
        checkpoint = torch.load(checkpoint_path, map_location=loc)
        resumed = models.__dict__[checkpoint["arch"]](num_classes=10).to(device)
        resumed.load_state_dict(checkpoint["state_dict"])
        print(f"=> loaded checkpoint (epoch {checkpoint['epoch']}): "
              f"resumed_val_loss={validate(val_loader, resumed, criterion, args):.8g}")
    if args.gpu is not None:
        print(f"max memory allocated: {torch.cuda.max_memory_allocated() / 2**20:.1f} MiB")
    print(f"parameters on {next(resumed.parameters()).device}")


if __name__ == "__main__":
    main()
