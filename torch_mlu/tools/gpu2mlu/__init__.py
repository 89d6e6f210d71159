"""gpu2mlu: converts PyTorch code written for CUDA to mlu, with a real Python parser (libcst),
keeping formatting and comments, and reports what it changed and what it cannot convert.

    python -m torch_mlu.tools.gpu2mlu SRC [-o DST] [--report PATH]   convert a file or a tree
    python -m torch_mlu.tools.gpu2mlu SRC --check                     hazards only; exit 1 if any
"""

from .cli import main
from .hazards import Hazard, scan_source
from .transformer import Change, convert_source

__all__ = ["Change", "Hazard", "convert_source", "main", "scan_source"]
