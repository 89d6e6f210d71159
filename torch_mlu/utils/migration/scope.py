"""The migration as a reversible scope: entering applies table.py, leaving restores it."""

import threading

import torch

from . import table
from .ledger import Ledger

_lock = threading.Lock()
_active = False  # whether a migration is active: there can be only one


def _resolve(target):
    """(owner, attribute name) of a dotted path from the torch module."""
    *path, name = target.split(".")
    owner = torch
    for part in path[1:]:
        owner = getattr(owner, part)
    return owner, name


def _api_name(target):
    """How the report names an API: torch.Tensor.to -> Tensor.to, autocast.__init__ -> autocast."""
    for prefix, short in (("torch.Tensor.", "Tensor."), ("torch.nn.Module.", "Module."),
                          ("torch.storage._StorageBase.", "UntypedStorage."),
                          ("torch.storage.TypedStorage.", "TypedStorage."),
                          ("torch.amp.autocast_mode.", "torch.")):
        if target.startswith(prefix):
            target = short + target[len(prefix):]
    return target.removesuffix(".__init__")


class cuda_to_mlu:
    """Context manager: inside it, code written for CUDA runs on mlu.

    ``with cuda_to_mlu(strict=False) as ledger:`` applies every row of table.py and yields the
    Ledger that records each redirected call site; leaving restores every original attribute.
    The patches are process-wide while active (all threads see them); only one migration can be
    active at a time. strict=True turns CUDA APIs without an MLU counterpart into errors.
    """

    def __init__(self, strict=False):
        self.ledger = Ledger(strict)
        self._saved = []  # (owner, name, value in owner's own __dict__ or None if inherited)

    def __enter__(self):
        global _active
        with _lock:
            if _active:
                raise RuntimeError("the GPU migration is already active")
            _active = True
        try:
            for patch in (*table.PATCHES, *table.cuda_only_patches()):
                self._apply(patch)
        except BaseException:
            self._restore()
            raise
        return self.ledger

    def __exit__(self, *exc):
        self._restore()
        return False

    def _apply(self, patch):
        owner, name = _resolve(patch.target)
        self._saved.append((owner, name, vars(owner).get(name)))
        replacement = patch.build(getattr(owner, name), self.ledger, _api_name(patch.target))
        setattr(owner, name, replacement)

    def _restore(self):
        global _active
        for owner, name, own_value in reversed(self._saved):
            if own_value is None:
                delattr(owner, name)  # the original was inherited, e.g. Tensor.to from TensorBase
            else:
                setattr(owner, name, own_value)
        self._saved.clear()
        with _lock:
            _active = False
