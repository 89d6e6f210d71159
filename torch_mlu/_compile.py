"""``torch.compile(model, backend="mlu")``: TorchDynamo's graph, with fused kernels, run eagerly.

Eager mode sees ``linear`` and the ``gelu`` after it as two calls; a captured graph shows them
together. This backend folds each eval-mode batch norm into the convolution before it, then rewrites
each ``linear`` whose only use is an activation (relu, gelu exact or tanh, silu) into
``torch_mlu::linear_act`` and each convolution whose only use is a relu into
``torch_mlu::conv_relu`` (csrc/ops/fused.cpp), when the producer's tensors are floating-point on
mlu. Everything else runs as the graph says, on the eager kernels, so every operator mlu supports
compiles; the graph also saves the Python overhead of module calls.

Registered through the ``torch_dynamo_backends`` entry point (pyproject.toml).
PyTorch's default backend, Inductor, generates Triton or C++ code for CUDA and CPU only and
rejects mlu tensors.
"""

import operator

import torch
import torch.nn.functional as F
from torch import fx
from torch.utils.weak import WeakIdKeyDictionary

from torch_mlu import _C

_LINEAR = {torch._C._nn.linear, F.linear}
_CONV = {torch.conv1d, torch.conv2d, torch.conv3d, F.conv1d, F.conv2d, F.conv3d}
_RELU = {F.relu, torch.relu, torch.relu_, F.relu_, "relu", "relu_"}
_GELU = {F.gelu, torch._C._nn.gelu}
_SILU = {F.silu}
_FUSED_ACTIVATIONS = frozenset(_C._fused_activations())  # the kernels' list (csrc/ops/fused.cpp)


def _activation(node):
    """The fused kernels' name for the activation node computes, or None."""
    if node.op not in ("call_function", "call_method") or len(node.args) != 1:
        return None
    target = node.target
    name = None
    if target in _RELU:
        name = "relu"
    elif target in _SILU:
        name = "silu"
    elif target in _GELU:
        name = {"none": "gelu", "tanh": "gelu_tanh"}.get(node.kwargs.get("approximate", "none"))
    return name if name in _FUSED_ACTIVATIONS else None


def _on_mlu_floating(node):
    value = node.meta.get("example_value")
    return (isinstance(value, torch.Tensor) and value.device.type == "mlu"
            and value.is_floating_point())


def _argument(node, index, name, default):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _spatial(value, dims):
    return list(value) if isinstance(value, (tuple, list)) else [value] * dims


def _linear_act(input, weight, bias, activation):
    return torch.ops.torch_mlu.linear_act(input, weight, bias, activation)[0]


def _fused_call(producer, activation):
    """The fused function and arguments for producer followed by activation, or None."""
    if producer.target in _LINEAR:
        return _linear_act, (_argument(producer, 0, "input", None),
                             _argument(producer, 1, "weight", None),
                             _argument(producer, 2, "bias", None), activation)
    if producer.target in _CONV and activation == "relu":
        dims = {torch.conv1d: 1, torch.conv2d: 2, torch.conv3d: 3}[producer.target]
        padding = _argument(producer, 4, "padding", 0)
        if isinstance(padding, str):  # "same" / "valid": left to the eager operator
            return None
        args = [_argument(producer, 0, "input", None), _argument(producer, 1, "weight", None),
                _argument(producer, 2, "bias", None),
                _spatial(_argument(producer, 3, "stride", 1), dims), _spatial(padding, dims),
                _spatial(_argument(producer, 5, "dilation", 1), dims),
                _argument(producer, 6, "groups", 1)]
        return torch.ops.torch_mlu.conv_relu, tuple(args)
    return None


# Folded weights per convolution weight, for as long as that weight lives (inference reuses them).
_folded = WeakIdKeyDictionary()


def fold_batch_norm(weight, bias, mean, var, gamma, beta, eps):
    """A convolution's weight and bias with the eval-mode batch norm that follows it folded in.

    Without gradients the result is kept until one of the tensors changes (its version)."""
    tensors = (weight, bias, mean, var, gamma, beta)
    key = tuple(None if t is None else (id(t), t._version) for t in tensors) + (eps,)
    reusable = not (torch.is_grad_enabled()
                    and any(t is not None and t.requires_grad for t in tensors))
    if reusable and weight in _folded and _folded[weight][0] == key:
        return _folded[weight][1]
    scale = torch.rsqrt(var + eps)
    if gamma is not None:
        scale = scale * gamma
    shift = -mean if bias is None else bias - mean
    shift = shift * scale if beta is None else torch.addcmul(beta, shift, scale)
    folded = weight * scale.reshape(-1, *[1] * (weight.dim() - 1)), shift
    if reusable:
        _folded[weight] = (key, folded)
    return folded


def _conv_of_eval_batch_norm(node):
    """The convolution an eval-mode batch norm node normalises, when only the norm reads it."""
    if node.op != "call_function" or node.target is not F.batch_norm:
        return None
    conv = _argument(node, 0, "input", None)
    training = _argument(node, 5, "training", False)
    if (training is not False or _argument(node, 1, "running_mean", None) is None
            or not isinstance(conv, fx.Node) or conv.op != "call_function"
            or conv.target not in _CONV or len(conv.users) != 1 or not _on_mlu_floating(conv)
            or isinstance(_argument(conv, 4, "padding", 0), str)):
        return None
    return conv


def _replace_pair(graph, first, second, replacement):
    """Puts replacement in place of second, whose input first (read by nothing else) was."""
    replacement.meta = dict(second.meta)
    second.replace_all_uses_with(replacement)
    graph.erase_node(second)
    graph.erase_node(first)


def fold_batch_norms(graph: fx.Graph) -> int:
    """Folds each eval-mode batch norm into the convolution before it; returns how many."""
    folded = 0
    for node in list(graph.nodes):
        conv = _conv_of_eval_batch_norm(node)
        if conv is None:
            continue
        statistics = [_argument(node, i, name, None) for i, name in
                      ((1, "running_mean"), (2, "running_var"), (3, "weight"), (4, "bias"))]
        eps = _argument(node, 7, "eps", 1e-5)
        conv_args = [_argument(conv, i, name, default) for i, name, default in
                     ((3, "stride", 1), (4, "padding", 0), (5, "dilation", 1), (6, "groups", 1))]
        original = (_argument(conv, 1, "weight", None), _argument(conv, 2, "bias", None))
        with graph.inserting_before(node):
            weights = graph.call_function(fold_batch_norm, (*original, *statistics, eps))
            weight = graph.call_function(operator.getitem, (weights, 0))
            bias = graph.call_function(operator.getitem, (weights, 1))
            replacement = graph.call_function(
                conv.target, (_argument(conv, 0, "input", None), weight, bias, *conv_args))
        _replace_pair(graph, conv, node, replacement)
        folded += 1
    return folded


def fuse(graph: fx.Graph) -> int:
    """Rewrites producer + activation pairs in place; returns how many."""
    fused = 0
    for node in list(graph.nodes):
        activation = _activation(node)
        producer = node.args[0] if activation else None
        if (not isinstance(producer, fx.Node) or producer.op != "call_function"
                or len(producer.users) != 1 or not _on_mlu_floating(producer)):
            continue
        call = _fused_call(producer, activation)
        if call is None:
            continue
        with graph.inserting_before(node):
            replacement = graph.call_function(*call)
        _replace_pair(graph, producer, node, replacement)
        fused += 1
    return fused


def mlu_backend(gm: fx.GraphModule, example_inputs):
    """The TorchDynamo backend: fuse, then compile with Inductor."""
    from torch._inductor.compile_fx import compile_fx

    if fold_batch_norms(gm.graph) + fuse(gm.graph):
        gm.graph.lint()
        gm.recompile()
    return compile_fx(gm, example_inputs)


__all__ = ["fold_batch_norm", "fold_batch_norms", "fuse", "mlu_backend"]
