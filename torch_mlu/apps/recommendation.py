"""Recommendation: a DLRM-style click model over EmbeddingBag tables with sparse gradients,
updated by SparseAdam (the tables) and Adam (the MLPs), as recommendation models train."""

import torch
import torch.nn.functional as F
from torch import nn

from .runner import App

TABLES, ROWS, DIM, DENSE = 4, 1000, 16, 13


class DLRM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tables = nn.ModuleList(nn.EmbeddingBag(ROWS, DIM, mode="sum", sparse=True) for _ in range(TABLES))
        self.bottom = nn.Sequential(nn.Linear(DENSE, 32), nn.ReLU(), nn.Linear(32, DIM), nn.ReLU())
        pairs = (TABLES + 1) * TABLES // 2
        self.top = nn.Sequential(nn.Linear(DIM + pairs, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, dense, indices, offsets):
        features = [self.bottom(dense)] + [t(indices[i], offsets) for i, t in enumerate(self.tables)]
        stacked = torch.stack(features, 1)  # [B, tables + 1, DIM]
        interactions = stacked @ stacked.transpose(1, 2)
        upper = torch.triu_indices(TABLES + 1, TABLES + 1, 1, device=dense.device)
        return self.top(torch.cat([features[0], interactions[:, upper[0], upper[1]]], 1)).squeeze(1)


def dlrm_batch(generator, quick):
    batch, per_bag = (16 if quick else 128), 4
    return (torch.randn(batch, DENSE, generator=generator),
            torch.randint(0, ROWS, (TABLES, batch * per_bag), generator=generator),
            torch.arange(0, batch * per_bag, per_bag),
            torch.randint(0, 2, (batch,), generator=generator).float())


class TablesAndLayers:
    """SparseAdam for the embedding tables' sparse gradients, Adam for the rest."""

    def __init__(self, model):
        self.optimizers = [torch.optim.SparseAdam(list(model.tables.parameters()), lr=0.01),
                           torch.optim.Adam([*model.bottom.parameters(), *model.top.parameters()],
                                            lr=0.01)]

    def zero_grad(self, set_to_none=True):
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self):
        for optimizer in self.optimizers:
            optimizer.step()


def click_loss(model, batch):
    dense, indices, offsets, clicks = batch
    return F.binary_cross_entropy_with_logits(model(dense, indices, offsets), clicks)


APPS = [
    App("dlrm", "recommendation",
        "DLRM-style model, 4 EmbeddingBag tables of 1000 x 16, sparse gradients, SparseAdam",
        lambda quick: DLRM(), dlrm_batch, click_loss, optimizer=TablesAndLayers),
]
