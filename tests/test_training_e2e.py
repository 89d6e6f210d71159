"""End to end: a small CNN trained for several steps on mlu follows the CPU run step by step."""

import copy

import torch
from torch import nn

import torch_mlu  # noqa: F401


def make_model():
    return nn.Sequential(
        # No bias before batch norm: its gradient is zero up to rounding, which AdamW's
        # normalisation would amplify into noise that no two devices share.
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.1), nn.Linear(16, 5),
    )


def train(model, device, steps=8):
    torch.manual_seed(1)  # dropout masks: each device draws from its own seeded generator
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(2)
    # One fixed batch: the model must fit it, so the loss has to fall.
    images = torch.randn(8, 3, 16, 16, generator=gen).to(device)
    labels = torch.randint(0, 5, (8,), generator=gen).to(device)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, {k: v.cpu() for k, v in model.state_dict().items()}


def test_cnn_training_on_mlu_matches_cpu_without_dropout_randomness():
    torch.manual_seed(0)
    model = make_model()
    model[8].p = 0.0  # dropout draws differ between generators; the math must not
    mlu_losses, mlu_state = train(copy.deepcopy(model), "mlu")
    cpu_losses, cpu_state = train(copy.deepcopy(model), "cpu")
    torch.testing.assert_close(torch.tensor(mlu_losses), torch.tensor(cpu_losses), rtol=1e-4, atol=1e-5)
    for name, value in cpu_state.items():
        torch.testing.assert_close(mlu_state[name], value, rtol=1e-4, atol=1e-5, msg=name)
    assert mlu_losses[-1] < mlu_losses[0], "training did not reduce the loss"


def test_training_with_dropout_is_reproducible_on_mlu():
    torch.manual_seed(0)
    model = make_model()
    first, _ = train(copy.deepcopy(model), "mlu")
    second, _ = train(copy.deepcopy(model), "mlu")
    assert first == second
