"""Hugging Face accelerate's training loop, as its examples write it: Accelerator.prepare, mixed
precision, gradient accumulation, accelerator.backward, gather_for_metrics, and save_state /
load_state, on a small GPT-2 built from a config.

    python3 examples/ecosystem/accelerate_loop.py [--cpu] [--mixed-precision bf16]
    accelerate launch --num_processes 2 examples/ecosystem/accelerate_loop.py

The Accelerator finds the MLU itself (accelerate.utils.is_mlu_available) and, with two processes,
runs DistributedType.MULTI_MLU over "cncl"."""

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers
from accelerate import Accelerator
from accelerate.utils import InitProcessGroupKwargs, set_seed

import common


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--mixed-precision", default="no")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--checkpoint", default="/tmp/torch_mlu_accelerate_loop",
                        help="a directory every process sees")
    args = parser.parse_args()

    # On CPU accelerate would choose MPI (absent here); on mlu it chooses cncl by itself.
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    handlers = [InitProcessGroupKwargs(backend="gloo")] if args.cpu and distributed else []
    accelerator = Accelerator(cpu=args.cpu, mixed_precision=args.mixed_precision,
                              gradient_accumulation_steps=2, kwargs_handlers=handlers)
    set_seed(0)
    config = transformers.GPT2Config(vocab_size=common.VOCAB, n_positions=64, n_embd=64, n_layer=2,
                                     n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = transformers.GPT2LMHeadModel(config)
    texts = common.sentences(args.steps * args.batch * 2 * accelerator.num_processes, length=47)
    data = torch.tensor([[common.BOS] + common.encode(t) for t in texts])
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)

    losses = []
    with common.Timer() as timer:
        for ids in loader:
            with accelerator.accumulate(model):
                loss = model(input_ids=ids, labels=ids).loss
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
            losses.append(accelerator.gather_for_metrics(loss.detach()).mean().item())

    # A checkpoint and its resumption, as accelerate's checkpointing example does.
    accelerator.save_state(args.checkpoint)
    accelerator.wait_for_everyone()  # the main process writes the model's file
    before = [p.detach().cpu().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    accelerator.load_state(args.checkpoint)
    restored = all(torch.equal(a, b.detach().cpu()) for a, b in zip(before, model.parameters()))

    if accelerator.is_main_process:
        common.report("accelerate_loop", accelerator.device, losses, timer.seconds,
                      len(losses) * args.batch * accelerator.num_processes,
                      {"distributed_type": str(accelerator.distributed_type),
                       "num_processes": accelerator.num_processes,
                       "mixed_precision": args.mixed_precision, "state_restored": restored})
    accelerator.end_training()


if __name__ == "__main__":
    main()
