"""The record of what the migration redirected, by call site, and the strict-mode policy."""

import collections
import dataclasses
import os
import sys
import sysconfig
import threading
import warnings

import torch

import torch_mlu

_MIGRATION_DIR = os.path.dirname(__file__)
# Calls made by PyTorch or torch_mlu on behalf of a script are reported at the script's line,
# with the library's line as "via"; the standard library's frames (deprecation wrappers,
# contextlib) are passed over too.
_LIBRARY_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch, torch_mlu))
_LIBRARY_ROOTS = tuple(os.path.dirname(d.rstrip(os.sep)) + os.sep for d in _LIBRARY_DIRS)
_STDLIB_DIR = sysconfig.get_paths()["stdlib"] + os.sep
_SITE_DIRS = tuple({sysconfig.get_paths()[key] + os.sep for key in ("purelib", "platlib")})


def _is_library(path):
    if path.startswith(_LIBRARY_DIRS):
        return True
    return path.startswith(_STDLIB_DIR) and not path.startswith(_SITE_DIRS)


class MigrationWarning(UserWarning):
    """A CUDA API without an MLU counterpart ran as it is (strict mode raises instead)."""


class MigrationError(RuntimeError):
    """Strict mode: a CUDA API without an MLU counterpart was called."""


@dataclasses.dataclass(frozen=True, order=True)
class Redirect:
    site: str  # file:line of the script's call
    api: str  # what the script used, e.g. "torch.cuda.synchronize" or "Tensor.to"
    change: str  # what happened instead, e.g. "-> torch.mlu.synchronize" or "cuda -> mlu"
    via: str = ""  # the PyTorch file:line that made the call for the script, if any


def _where(frame):
    path = frame.f_code.co_filename
    for root in _LIBRARY_ROOTS:
        if path.startswith(root):
            path = path[len(root):]
            break
    return f"{path}:{frame.f_lineno}"


def _call_site():
    """(frame, via) of the call being recorded: the innermost frame outside the libraries (the
    script's), and "file:line" of the PyTorch or torch_mlu frame that called for it, if any."""
    frame = sys._getframe(1)
    while frame.f_code.co_filename.startswith(_MIGRATION_DIR):
        frame = frame.f_back
    innermost, via = frame, None
    while frame is not None and _is_library(frame.f_code.co_filename):
        if via is None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
            via = frame
        frame = frame.f_back
    if frame is None:  # e.g. a DataLoader thread: no script frame on its stack
        return via or innermost, ""
    return frame, "" if via is None else _where(via)


def called_from_library():
    """True when the code asking is PyTorch's or torch_mlu's own, not the script's."""
    frame = sys._getframe(1)
    while frame.f_code.co_filename.startswith(_MIGRATION_DIR):
        frame = frame.f_back
    return frame.f_code.co_filename.startswith(_LIBRARY_DIRS)


class Ledger:
    """Counts redirections per (site, API, change); strict decides what CUDA-only APIs do."""

    def __init__(self, strict=False):
        self.strict = strict
        self._counts = collections.Counter()
        self._cuda_only = collections.Counter()
        self._lock = threading.Lock()

    def record(self, api, change):
        frame, via = _call_site()
        with self._lock:
            self._counts[Redirect(_where(frame), api, change, via)] += 1

    def cuda_only(self, api):
        """A CUDA-only API is being called: raise in strict mode, else warn once per site."""
        frame, via = _call_site()
        redirect = Redirect(_where(frame), api, "no MLU counterpart: ran the CUDA original", via)
        if self.strict:
            raise MigrationError(
                f"{api} has no MLU counterpart (GPU migration strict mode; called at "
                f"{redirect.site}). Remove the call or guard it; docs/migration.md lists what "
                "is migrated.")
        with self._lock:
            first = redirect not in self._cuda_only
            self._cuda_only[redirect] += 1
        if first:
            warnings.warn_explicit(
                f"{api} has no MLU counterpart; running the CUDA original "
                "(TORCH_MLU_GPU_MIGRATION=strict makes this an error)",
                MigrationWarning, frame.f_code.co_filename, frame.f_lineno)

    def redirects(self):
        """[(Redirect, count)] sorted by site."""
        with self._lock:
            return sorted(self._counts.items())

    def cuda_only_calls(self):
        """[(Redirect, count)] of CUDA-only APIs that ran as they are, sorted by site."""
        with self._lock:
            return sorted(self._cuda_only.items())

    def report(self):
        """A readable table of every redirected call site."""
        redirects, cuda_only = self.redirects(), self.cuda_only_calls()
        lines = [f"torch_mlu GPU migration: {len(redirects)} call sites redirected to mlu"
                 + (" (strict)" if self.strict else "")]
        lines += _rows(redirects)
        if cuda_only:
            lines.append(f"{len(cuda_only)} call sites used CUDA APIs without an MLU counterpart:")
            lines += _rows(cuda_only)
        return "\n".join(lines)


def _rows(items):
    width = max((len(r.site) for r, _ in items), default=0)
    return [f"  {r.site:<{width}}  {r.api} {r.change}  x{n}" + (f"  (via {r.via})" if r.via else "")
            for r, n in items]
