"""Find the operator that makes a model's mlu results drift from CPU.

    tools/devenv python3 examples/shadow_check.py

Breaks one kernel on purpose (mlu's GELU returns 1% too much, registered through torch.library
over the real one), trains one step of a small model under torch.mlu.shadow_check(), and prints
the report: the broken operator comes first, with the module it ran in and its input shapes.
"""

import warnings

import torch
import torch_mlu  # noqa: F401
from torch import nn


def break_gelu(library):
    def gelu_one_percent_high(x, approximate="none"):
        return (torch.nn.functional.gelu(x.cpu(), approximate=approximate) * 1.01).to(x.device)

    with warnings.catch_warnings():  # "Overriding a previously registered kernel" is the point
        warnings.simplefilter("ignore")
        library.impl("gelu", gelu_one_percent_high, "PrivateUse1")


def main():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 16 * 16, 64), nn.GELU(), nn.Linear(64, 10),
    ).to("mlu")
    x = torch.randn(4, 3, 16, 16, device="mlu")
    target = torch.randint(0, 10, (4,), device="mlu")

    library = torch.library.Library("aten", "IMPL")
    break_gelu(library)
    try:
        with torch.mlu.shadow_check() as report:
            loss = nn.functional.cross_entropy(model(x), target)
            loss.backward()
    finally:
        library._destroy()  # the real kernel is back

    print(report.table())
    worst = report.mismatched()
    print(f"\noperators outside tolerance, worst first: {worst}")
    first = report.records["aten::gelu"].first_mismatch
    print(f"first mismatch of aten::gelu: {first}")
    if not worst or worst[0] != "aten::gelu":
        raise SystemExit("the shadow check did not single out the broken GELU kernel")


if __name__ == "__main__":
    main()
