"""A diffusers UNet learning to denoise (DDPM noise prediction), as diffusers' unconditional
training example does it, on 16x16 images of coloured squares made here.

    python3 examples/ecosystem/diffusers_unet.py [--cpu] [--steps N] [--bf16]

Noise and timesteps are drawn on the CPU from one seed, so mlu and CPU runs see the same batches."""

import argparse

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel

import common


def squares(generator, batch, size=16):
    """Images in [-1, 1]: a coloured square at a random place on a dark background."""
    images = torch.full((batch, 3, size, size), -1.0)
    for image in images:
        x, y = torch.randint(0, size - 6, (2,), generator=generator).tolist()
        image[:, y:y + 6, x:x + 6] = torch.rand(3, 1, 1, generator=generator) * 2 - 1
    return images


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args()
    device = torch.device("cpu" if args.cpu else "mlu")

    torch.manual_seed(0)
    model = UNet2DModel(
        sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=8,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D")).to(device)
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    with common.Timer() as timer:
        for _ in range(args.steps):
            clean = squares(generator, args.batch)
            noise = torch.randn(clean.shape, generator=generator)
            timesteps = torch.randint(0, 1000, (args.batch,), generator=generator)
            noisy = scheduler.add_noise(clean, noise, timesteps)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                predicted = model(noisy.to(device), timesteps.to(device)).sample
            loss = F.mse_loss(predicted.float(), noise.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    common.report("diffusers_unet", next(model.parameters()).device, losses, timer.seconds,
                  args.steps * args.batch, {"bf16": args.bf16})


if __name__ == "__main__":
    main()
