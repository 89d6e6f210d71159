"""pytest plugin (-p sanitized_extension): runs the tests on a torch_mlu._C built under a
sanitizer (the file TORCH_MLU_EXTENSION names) instead of the installed one.

The interpreter is not instrumented, so the sanitizer's runtime comes first through LD_PRELOAD,
and torch's backend autoload must be off (TORCH_DEVICE_BACKEND_AUTOLOAD=0): the extension is
placed in sys.modules before torch_mlu imports it. tools/check runs it."""

import importlib.util
import os
import sys

import torch

_path = os.path.abspath(os.environ["TORCH_MLU_EXTENSION"])
_spec = importlib.util.spec_from_file_location("torch_mlu._C", _path)
_module = importlib.util.module_from_spec(_spec)
sys.modules["torch_mlu._C"] = _module
_spec.loader.exec_module(_module)

import torch_mlu  # noqa: E402,F401

assert torch_mlu._C.__file__ == _path, torch_mlu._C.__file__
# Interpreters that tests start load the installed extension as usual.
del os.environ["TORCH_DEVICE_BACKEND_AUTOLOAD"]
