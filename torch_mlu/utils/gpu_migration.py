"""Importing this module runs the rest of the process under the GPU migration.

Put ``import torch_mlu.utils.gpu_migration`` at the top of a script written for CUDA (or set
``TORCH_MLU_GPU_MIGRATION=1``; ``=strict`` for strict mode) and it runs on mlu unchanged. At
exit the call sites that were redirected are printed to stderr, or written to the file named by
``TORCH_MLU_GPU_MIGRATION_REPORT`` (``0`` turns the report off); ``report()`` gives it on demand.
"""

import atexit
import os
import sys

from torch_mlu.utils.migration import cuda_to_mlu

_migration = cuda_to_mlu(strict=os.environ.get("TORCH_MLU_GPU_MIGRATION") == "strict")
ledger = _migration.__enter__()


def report():
    """The redirected call sites so far, as text."""
    return ledger.report()


def _report_at_exit():
    destination = os.environ.get("TORCH_MLU_GPU_MIGRATION_REPORT", "")
    if destination == "0":
        return
    if destination:
        with open(destination, "w") as out:
            out.write(report() + "\n")
    else:
        print(report(), file=sys.stderr)


atexit.register(_report_at_exit)
print("torch_mlu: GPU migration active: CUDA calls run on mlu; redirected call sites are "
      "reported at exit", file=sys.stderr)
