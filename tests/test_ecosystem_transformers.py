"""Hugging Face transformers on mlu as its users run it: the library finds the device by itself,
and Trainer trains BERT-, GPT-2- and Llama-style models (built from configs) on mlu with no CPU
fallback, step for step as on the CPU, also in bf16 and in two processes over cncl."""

import pytest

from ecosystem_support import assert_same_training, example, require, run, torchrun

require("transformers")


def test_transformers_finds_the_mlu():
    import torch
    from transformers import TrainingArguments
    from transformers.utils import is_torch_bf16_gpu_available, is_torch_mlu_available

    assert is_torch_mlu_available()
    assert is_torch_bf16_gpu_available()
    assert TrainingArguments(output_dir="/tmp/unused", report_to=[]).device == torch.device("mlu:0")


@pytest.mark.parametrize("model", ["bert", "gpt2", "llama"])
def test_trainer_trains_as_on_cpu(model):
    args = ["--model", model, "--steps", "8"]
    mlu = run(example("hf_trainer.py", *args))
    cpu = run(example("hf_trainer.py", *args, "--cpu"))
    assert_same_training(mlu, cpu, rtol=1e-3)


def test_trainer_in_bf16_follows_cpu_bf16():
    args = ["--model", "llama", "--steps", "8", "--bf16"]
    mlu = run(example("hf_trainer.py", *args))
    cpu = run(example("hf_trainer.py", *args, "--cpu"))
    assert mlu["bf16"] and cpu["bf16"]
    assert_same_training(mlu, cpu, rtol=2e-2)


def test_trainer_in_two_processes_uses_cncl():
    args = ["--model", "gpt2", "--steps", "6"]
    mlu = run(torchrun(2, "hf_trainer.py", *args))
    cpu = run(torchrun(2, "hf_trainer.py", *args, "--cpu"))
    assert mlu["world_size"] == cpu["world_size"] == 2
    assert mlu["backend"] == "cncl" and cpu["backend"] == "gloo"
    assert_same_training(mlu, cpu, rtol=1e-3)
