"""NLP: a BERT-style encoder fine-tuned with padding masks (and its fast inference path), and a
GPT pre-trained then generating greedily with a key-value cache."""

import torch
import torch.nn.functional as F
from torch import nn

from .runner import App, to_device

VOCAB, LENGTH = 200, 24


class Encoder(nn.Module):
    """A BERT-style classifier: token and position embeddings, a Transformer encoder, the mean of
    the real (unpadded) positions, a linear head."""

    def __init__(self, dim=64, heads=4, layers=2, classes=3):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(VOCAB, dim), nn.Embedding(LENGTH, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids, padding):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        x = self.encoder(x, src_key_padding_mask=padding)
        keep = (~padding).unsqueeze(-1).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1))


def encoder_batch(generator, quick):
    batch = 4 if quick else 16
    ids = torch.randint(0, VOCAB, (batch, LENGTH), generator=generator)
    lengths = torch.randint(4, LENGTH + 1, (batch,), generator=generator)
    lengths[0] = LENGTH  # the longest sets the padded length, as a tokenizer's batch does
    padding = torch.arange(LENGTH) >= lengths.unsqueeze(1)
    labels = torch.randint(0, 3, (batch,), generator=generator)
    return ids, padding, labels


def encoder_loss(model, batch):
    ids, padding, labels = batch
    model.train()
    return F.cross_entropy(model(ids, padding), labels)


def encoder_check(cpu_model, mlu_model, batch, quick):
    """Inference: the fast path (eval, no_grad: nested tensors and fused layers) against the
    slow path on mlu and against the CPU's fast path."""
    ids, padding, _ = batch
    cpu_model.eval(), mlu_model.eval()
    with torch.no_grad():
        fast_cpu = cpu_model(ids, padding)
        fast = mlu_model(ids.to("mlu"), padding.to("mlu")).cpu()
    slow = mlu_model(ids.to("mlu"), padding.to("mlu")).detach().cpu()  # grad on: no fast path
    scale = fast_cpu.abs().max().item()
    vs_cpu = (fast - fast_cpu).abs().max().item() / scale
    vs_slow = (fast - slow).abs().max().item() / scale
    return {"fast path vs CPU": (vs_cpu, vs_cpu < 1e-4),
            "fast path vs slow path": (vs_slow, vs_slow < 1e-4)}


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, cache=None):
        b, t, d = x.shape
        q, k, v = (z.view(b, t, self.heads, -1).transpose(1, 2)
                   for z in self.qkv(self.norm1(x)).split(d, dim=2))
        if cache is not None:  # the keys and values of the tokens before these
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x)), (k, v)


class GPT(nn.Module):
    def __init__(self, vocab=128, dim=64, heads=4, layers=2, context=64):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, dim), nn.Embedding(context, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab, bias=False)

    def forward(self, ids, cache=None, start=0):
        x = self.tokens(ids) + self.positions(
            torch.arange(start, start + ids.shape[1], device=ids.device))
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if cache is None else cache[i])
            new_cache.append(kv)
        return self.head(self.norm(x)), new_cache

    @torch.no_grad()
    def generate(self, prompt, new_tokens, use_cache=True):
        ids = prompt
        logits, cache = self(ids)
        for _ in range(new_tokens):
            token = logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, token], 1)
            if use_cache:
                logits, cache = self(token, cache, start=ids.shape[1] - 1)
            else:
                logits, _ = self(ids)
        return ids


def gpt_batch(generator, quick):
    return torch.randint(0, 128, (4 if quick else 8, 33), generator=generator)


def gpt_loss(model, ids):
    logits, _ = model(ids[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())


def gpt_check(cpu_model, mlu_model, batch, quick):
    """Greedy generation: with the cache against without it, and against the CPU."""
    prompt = batch[:2, :8]
    cpu_model.eval(), mlu_model.eval()
    expected = cpu_model.generate(prompt, 12)
    cached = mlu_model.generate(prompt.to("mlu"), 12).cpu()
    uncached = mlu_model.generate(prompt.to("mlu"), 12, use_cache=False).cpu()
    differ_cpu = int((cached != expected).sum())
    differ_cache = int((cached != uncached).sum())
    return {"generated tokens differing from CPU": (differ_cpu, differ_cpu == 0),
            "KV cache vs full recompute (tokens differing)": (differ_cache, differ_cache == 0)}


def adamw(model):
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


APPS = [
    App("bert_finetune", "NLP", "BERT-style encoder, 2 layers, padding masks, fast inference path",
        lambda quick: Encoder(), encoder_batch, encoder_loss, optimizer=adamw,
        check=encoder_check),
    App("gpt", "NLP / large models", "GPT, 2 layers, pre-training and KV-cache greedy generation",
        lambda quick: GPT(), gpt_batch, gpt_loss, optimizer=adamw, check=gpt_check),
]
