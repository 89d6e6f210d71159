"""Reference workloads: one model per application area, with a full training step.

Shared by the benchmarks (benchmarks/run.py) and the tests (tests/test_workloads.py). Shapes are
realistic but small enough for a 2-core machine. Every workload builds its model and batches from
seeds, so a CPU run and an mlu run start from the same weights and see the same data.
"""

import dataclasses
from typing import Callable

import torch
import torchvision
from torch import nn
from torch.nn import functional as F


@dataclasses.dataclass
class Workload:
    name: str
    area: str
    make_model: Callable[[], nn.Module]
    make_batch: Callable[[torch.Generator], tuple]  # CPU tensors (inputs..., target)
    loss: Callable[[nn.Module, tuple], torch.Tensor]
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer]


def sgd(model, capturable=False):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def adamw(model, capturable=False):
    """capturable: the step count on the device, as graph capture needs."""
    return torch.optim.AdamW(model.parameters(), lr=1e-3, capturable=capturable)


def classify(model, batch):
    images, labels = batch
    return F.cross_entropy(model(images), labels)


def image_batch(batch, size, classes):
    def make(gen):
        return (torch.randn(batch, 3, size, size, generator=gen),
                torch.randint(0, classes, (batch,), generator=gen))
    return make


class GPT(nn.Module):
    """A GPT-style decoder: pre-norm blocks, causal SDPA, GELU MLP, tied embeddings."""

    def __init__(self, vocab=512, dim=128, heads=4, layers=2, context=64):
        super().__init__()
        self.heads = heads
        self.tokens = nn.Embedding(vocab, dim)
        self.positions = nn.Embedding(context, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, idx):
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.tokens(idx) + self.positions(positions)
        for block in self.blocks:
            x = block(x)
        return self.norm(x) @ self.tokens.weight.t()


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


def gpt_batch(gen, batch=8, context=64, vocab=512):
    idx = torch.randint(0, vocab, (batch, context + 1), generator=gen)
    return idx[:, :-1].contiguous(), idx[:, 1:].contiguous()


def language_loss(model, batch):
    idx, target = batch
    logits = model(idx)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


class SpeechModel(nn.Module):
    """An acoustic model: a convolutional front end over log-mel frames, then an LSTM."""

    def __init__(self, mels=40, hidden=128, classes=32):
        super().__init__()
        self.frontend = nn.Sequential(nn.Conv1d(mels, hidden, 5, stride=2, padding=2), nn.ReLU(),
                                      nn.Conv1d(hidden, hidden, 3, padding=1), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, features):
        x = self.frontend(features).transpose(1, 2)
        x, _ = self.lstm(x)
        return self.head(x)


def speech_batch(gen, batch=8, mels=40, frames=100, classes=32):
    return (torch.randn(batch, mels, frames, generator=gen),
            torch.randint(0, classes, (batch, frames // 2), generator=gen))


def frame_loss(model, batch):
    features, labels = batch
    logits = model(features)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


class LSTMLanguageModel(nn.Module):
    """A word-level LSTM language model, like pytorch/examples' word_language_model (small)."""

    def __init__(self, vocab=1000, width=128, layers=2, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.embed = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, num_layers=layers, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx):
        x, _ = self.lstm(self.drop(self.embed(idx)))
        return self.head(self.drop(x))


class DLRM(nn.Module):
    """Recommendation: EmbeddingBag tables, bottom and top MLPs, pairwise interactions."""

    def __init__(self, dense=13, tables=8, rows=1000, dim=16):
        super().__init__()
        self.bottom = nn.Sequential(nn.Linear(dense, 64), nn.ReLU(), nn.Linear(64, dim), nn.ReLU())
        self.tables = nn.ModuleList(nn.EmbeddingBag(rows, dim, mode="sum") for _ in range(tables))
        features = tables + 1
        self.top = nn.Sequential(nn.Linear(dim + features * (features - 1) // 2, 64), nn.ReLU(),
                                 nn.Linear(64, 1))

    def forward(self, dense, indices, offsets):
        x = self.bottom(dense)
        embedded = [table(indices[i], offsets[i]) for i, table in enumerate(self.tables)]
        z = torch.stack([x] + embedded, dim=1)
        interactions = torch.bmm(z, z.transpose(1, 2))
        rows, cols = torch.triu_indices(z.shape[1], z.shape[1], offset=1, device=z.device)
        pairs = interactions[:, rows, cols]
        return self.top(torch.cat([x, pairs], dim=1)).squeeze(1)


def dlrm_batch(gen, batch=128, dense=13, tables=8, rows=1000, per_bag=4):
    indices = torch.randint(0, rows, (tables, batch * per_bag), generator=gen)
    offsets = torch.arange(0, batch * per_bag, per_bag).repeat(tables, 1)
    clicks = torch.randint(0, 2, (batch,), generator=gen).float()
    return torch.randn(batch, dense, generator=gen), indices, offsets, clicks


def click_loss(model, batch):
    dense, indices, offsets, clicks = batch
    return F.binary_cross_entropy_with_logits(model(dense, indices, offsets), clicks)


def clip_batch(gen, batch=2, frames=8, size=56, classes=10):
    return (torch.randn(batch, 3, frames, size, size, generator=gen),
            torch.randint(0, classes, (batch,), generator=gen))


WORKLOADS = {
    w.name: w
    for w in [
        Workload("resnet18", "vision", lambda: torchvision.models.resnet18(num_classes=10),
                 image_batch(16, 64, 10), classify, sgd),
        Workload("mobilenet_v3_small", "vision (mobile)",
                 lambda: torchvision.models.mobilenet_v3_small(num_classes=10),
                 image_batch(16, 64, 10), classify, sgd),
        Workload("gpt", "nlp", GPT, gpt_batch, language_loss, adamw),
        Workload("speech_lstm", "speech", SpeechModel, speech_batch, frame_loss, adamw),
        Workload("dlrm", "recommendation", DLRM, dlrm_batch, click_loss, sgd),
        Workload("r3d_18", "video", lambda: torchvision.models.video.r3d_18(num_classes=10),
                 clip_batch, classify, sgd),
        # Small models: where users compare first (sizes from issue #13's measurements).
        Workload("resnet18_small", "vision (small)",
                 lambda: torchvision.models.resnet18(num_classes=10), image_batch(16, 32, 10),
                 classify, sgd),
        Workload("gpt_small", "nlp (small)", lambda: GPT(layers=3), gpt_batch, language_loss,
                 adamw),
        Workload("lstm_lm", "nlp (small LSTM)", LSTMLanguageModel,
                 lambda gen: gpt_batch(gen, batch=8, context=32, vocab=1000), language_loss, sgd),
        Workload("dlrm_small", "recommendation (small)", lambda: DLRM(tables=4),
                 lambda gen: dlrm_batch(gen, batch=16, tables=4), click_loss, sgd),
    ]
}


def to_device(batch, device):
    return tuple(t.to(device) for t in batch)


def build(workload, device, seed=0, capturable=False):
    """Model and optimizer on device, from the same initial weights for every device."""
    torch.manual_seed(seed)
    model = workload.make_model().to(device).train()
    return model, workload.make_optimizer(model, capturable=capturable)


def train_step(workload, model, optimizer, batch):
    optimizer.zero_grad(set_to_none=True)
    loss = workload.loss(model, batch)
    loss.backward()
    optimizer.step()
    return loss
