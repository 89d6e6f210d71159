"""GPU migration: scripts written for CUDA run on mlu, and every redirection is recorded.

    from torch_mlu.utils.migration import cuda_to_mlu

    with cuda_to_mlu(strict=False) as ledger:
        run_the_cuda_script()  # torch.cuda.*, "cuda" devices, .cuda(), ... now mean mlu
    print(ledger.report())     # each redirected call site (file:line)

``import torch_mlu.utils.gpu_migration`` (or ``TORCH_MLU_GPU_MIGRATION=1``) enters it for the
rest of the process. What is patched: table.py, explained in docs/migration.md.
"""

from .ledger import Ledger, MigrationError, MigrationWarning, Redirect
from .scope import cuda_to_mlu

__all__ = ["Ledger", "MigrationError", "MigrationWarning", "Redirect", "cuda_to_mlu"]
