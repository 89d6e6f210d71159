"""The application suite: one small training run per application area of the backend, on mlu and
on the CPU from the same weights and data, checking that they agree and reporting throughput,
peak device memory and CPU fallback calls.

    python -m torch_mlu.apps [--quick] [--only NAME,...] [--steps N] [--out DIR]

writes DIR/report.md and DIR/losses.png. Applications whose library (torchvision, torchaudio) is
not installed are reported as skipped, with the reason.
"""

from .runner import App, Result, run_app  # noqa: F401
from .catalog import APPS  # noqa: F401
