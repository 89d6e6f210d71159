"""Hugging Face transformers' Trainer on mlu, as its users write it: a small BERT-style classifier
or GPT-2 / Llama-style causal LM built from a config (no downloaded weights), trained on a
character-level corpus made here.

    python3 examples/ecosystem/hf_trainer.py --model bert [--cpu] [--bf16] [--steps N]
    torchrun --nproc-per-node 2 examples/ecosystem/hf_trainer.py --model gpt2

Trainer finds the device by itself (transformers' is_torch_mlu_available) and, under torchrun,
the "cncl" collective backend. Prints a RESULT line with the loss of every step."""

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch
import transformers
from transformers import Trainer, TrainerCallback, TrainingArguments

import common


def model_for(name):
    no_dropout = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    if name == "bert":
        config = transformers.BertConfig(
            vocab_size=common.VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=128, max_position_embeddings=64, num_labels=2,
            pad_token_id=common.PAD, **no_dropout)
        return transformers.BertForSequenceClassification(config)
    if name == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=common.VOCAB, n_positions=64, n_embd=64, n_layer=2, n_head=4,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=common.BOS,
            eos_token_id=common.BOS, pad_token_id=common.PAD)
        return transformers.GPT2LMHeadModel(config)
    if name == "llama":
        config = transformers.LlamaConfig(
            vocab_size=common.VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            bos_token_id=common.BOS, eos_token_id=common.BOS, pad_token_id=common.PAD)
        return transformers.LlamaForCausalLM(config)
    raise SystemExit(f"unknown model {name!r}: bert, gpt2 or llama")


class Rows(torch.utils.data.Dataset):
    def __init__(self, model, count):
        if model == "bert":
            # Variable lengths, so that padding and attention masks are exercised.
            self.rows = []
            for i, (ids, label) in enumerate(common.classification_set(count)):
                ids = ids[: 20 + i % 12]
                self.rows.append({"input_ids": ids, "labels": label})
        else:
            self.rows = [{"input_ids": [common.BOS] + common.encode(t)}
                         for t in common.sentences(count, length=47)]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def collate(rows):
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), common.PAD)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
        mask[i, : len(r["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "labels" in rows[0]:
        batch["labels"] = torch.tensor([r["labels"] for r in rows])
    else:
        batch["labels"] = ids.masked_fill(mask == 0, -100)
    return batch


class LossLog(TrainerCallback):
    def __init__(self):
        self.losses = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(logs["loss"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="bert")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--output", default="/tmp/torch_mlu_hf_trainer")
    args = parser.parse_args()

    transformers.set_seed(0)
    model = model_for(args.model)
    data = Rows(args.model, args.steps * args.batch * int(os.environ.get("WORLD_SIZE", "1")))
    log = LossLog()
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    training = TrainingArguments(
        output_dir=args.output, max_steps=args.steps, per_device_train_batch_size=args.batch,
        learning_rate=2e-3, warmup_steps=0, logging_steps=1, save_strategy="no", report_to=[],
        use_cpu=args.cpu, bf16=args.bf16, dataloader_num_workers=0, seed=0,
        disable_tqdm=True,
        # On CPU, Trainer would choose MPI (absent here); on mlu it chooses cncl by itself.
        ddp_backend="gloo" if args.cpu and distributed else None)
    trainer = Trainer(model=model, args=training, train_dataset=data, data_collator=collate,
                      callbacks=[log])
    with common.Timer() as timer:
        trainer.train()
    if trainer.args.process_index == 0:
        parameter = next(trainer.model.parameters())
        common.report(f"hf_trainer_{args.model}", parameter.device, log.losses, timer.seconds,
                      args.steps * args.batch * trainer.args.world_size,
                      {"world_size": trainer.args.world_size, "bf16": args.bf16,
                       "backend": trainer.args.ddp_backend or (
                           torch.distributed.get_backend() if torch.distributed.is_initialized()
                           else None)})
    del trainer, model  # the DDP wrapper holds the process group
    common.release_process_group()


if __name__ == "__main__":
    main()
