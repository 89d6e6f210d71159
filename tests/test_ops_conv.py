"""Native convolutions (aten::convolution, aten::convolution_backward) against the CPU."""

import ast
import os
import re

import pytest
import torch
import torch.nn.functional as F

TOLERANCE = {
    torch.float32: dict(atol=1e-4, rtol=1e-4),
    torch.float64: dict(atol=1e-10, rtol=1e-10),
    torch.float16: dict(atol=2e-2, rtol=2e-2),
    torch.bfloat16: dict(atol=1e-1, rtol=5e-2),
}


@pytest.fixture(autouse=True)
def _no_fallback():
    torch.mlu.reset_fallback_stats()
    yield
    used = [k for k in torch.mlu.fallback_stats() if k.startswith("aten::convolution")]
    assert not used, f"convolutions ran on the CPU fallback: {used}"


def leaf(t, device, requires_grad=True):
    return t.detach().to(device).requires_grad_(requires_grad and t.is_floating_point())


def check(fn, *tensors, dtype=torch.float32, grad=True, memory_format=None):
    """Runs fn on the CPU (in float32 for the 16-bit types, which the CPU rounds differently)
    and on mlu; compares results and, with grad, the gradients of every input."""
    ref_dtype = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    cpu = [leaf(t.to(dtype).to(ref_dtype), "cpu", grad) for t in tensors]
    mlu = [leaf(t.to(dtype), "mlu", grad) for t in tensors]
    if memory_format is not None:
        mlu[0] = mlu[0].detach().contiguous(memory_format=memory_format).requires_grad_(grad)
    expected, actual = fn(*cpu), fn(*mlu)
    torch.testing.assert_close(actual.cpu().to(ref_dtype), expected, **TOLERANCE[dtype])
    if not grad:
        return actual
    torch.manual_seed(1)
    grad_out = torch.randn(expected.shape, dtype=ref_dtype)
    expected.backward(grad_out)
    actual.backward(grad_out.to(dtype).to("mlu"))
    for c, m in zip(cpu, mlu):
        torch.testing.assert_close(m.grad.cpu().to(ref_dtype), c.grad, **TOLERANCE[dtype])
    return actual


def randn(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (3, 1, 1, 2), (1, 1, 1, 4),
])
def test_conv2d(stride, padding, dilation, groups):
    x, w, b = randn(2, 4, 9, 10), randn(8, 4 // groups, 3, 3), randn(8)
    check(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), x, w, b)


def test_conv2d_asymmetric_kernel_without_bias():
    x, w = randn(3, 3, 11, 7), randn(5, 3, 2, 4)
    check(lambda x, w: F.conv2d(x, w, None, (2, 1), (0, 2), (2, 1)), x, w)


def test_conv1d_and_conv3d():
    check(lambda x, w, b: F.conv1d(x, w, b, 2, 1, 1, 2), randn(2, 4, 17), randn(6, 2, 3), randn(6))
    check(lambda x, w, b: F.conv3d(x, w, b, (1, 2, 1), 1, (1, 1, 2)), randn(2, 3, 5, 6, 7),
          randn(4, 3, 2, 3, 3), randn(4))


def test_padding_same_and_unbatched():
    check(lambda x, w: F.conv2d(x, w, padding="same"), randn(2, 3, 8, 8), randn(4, 3, 3, 5))
    check(lambda x, w: F.conv2d(x, w, padding=1), randn(3, 8, 8), randn(4, 3, 3, 3))


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 2), (3, 2, 2, 1, 1), (2, 1, 0, 1, 4),
])
def test_conv_transpose2d(stride, padding, output_padding, dilation, groups):
    x, w, b = randn(2, 4, 5, 6), randn(4, 8 // groups, 3, 3), randn(8)
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation), x, w, b)


def test_conv_transpose1d_and_3d():
    check(lambda x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1), randn(2, 3, 7), randn(3, 5, 4), randn(5))
    check(lambda x, w: F.conv_transpose3d(x, w, None, 2, (0, 1, 1), (1, 0, 1)), randn(1, 2, 3, 4, 5),
          randn(2, 3, 2, 3, 3))


@pytest.mark.parametrize("dim", [2, 3])
def test_channels_last(dim):
    if dim == 2:
        x, w, fmt, fn = randn(2, 8, 7, 9), randn(16, 8, 3, 3), torch.channels_last, F.conv2d
    else:
        x, w, fmt, fn = randn(2, 4, 5, 6, 7), randn(8, 4, 3, 3, 3), torch.channels_last_3d, F.conv3d
    out = check(lambda x, w: fn(x, w, None, 1, 1), x, w, memory_format=fmt)
    # The layout is the one PyTorch's fake tensors give an mlu convolution, which compiled
    # graphs rely on (csrc/ops/conv.cpp).
    x = x.to("mlu").contiguous(memory_format=fmt)
    backend = torch._C._select_conv_backend(x, w.to("mlu"), None, [1] * dim, [1] * dim, [1] * dim,
                                            False, [0] * dim, 1, None)
    expected = torch._C._conv_determine_backend_memory_format(x, w.to("mlu"), backend)
    assert out.is_contiguous(memory_format=expected)


def test_channels_last_weight_and_transposed():
    x, w = randn(2, 8, 5, 5), randn(8, 4, 3, 3)
    check(lambda x, w: F.conv_transpose2d(x, w.contiguous(memory_format=torch.channels_last), None, 2, 1),
          x, w, memory_format=torch.channels_last)


def test_non_contiguous_operands():
    x, w = randn(2, 6, 12, 9), randn(3, 6, 3, 3)
    check(lambda x, w: F.conv2d(x.transpose(2, 3)[:, ::2], w[:, ::2].transpose(2, 3), padding=1), x, w)


def test_expanded_grad_output():
    x, w = randn(2, 3, 6, 6), randn(4, 3, 3, 3)
    check(lambda x, w: F.conv2d(x, w).sum().expand(3), x, w)  # sum's backward expands a scalar


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes(dtype):
    x, w, b = randn(2, 4, 8, 8), randn(6, 2, 3, 3), randn(6)
    check(lambda x, w, b: F.conv2d(x, w, b, 1, 1, 1, 2), x, w, b, dtype=dtype)
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1), x, randn(4, 6, 3, 3), b, dtype=dtype)


def test_integer_convolution():
    x, w = torch.randint(-5, 5, (2, 3, 6, 6)), torch.randint(-5, 5, (4, 3, 3, 3))
    torch.testing.assert_close(F.conv2d(x.mlu(), w.mlu(), padding=1).cpu(), F.conv2d(x, w, padding=1))


def test_empty_batch_and_gradient_subsets():
    check(lambda x, w, b: F.conv2d(x, w, b, padding=1), torch.randn(0, 3, 5, 5), randn(4, 3, 3, 3), randn(4))
    x, w = randn(2, 3, 6, 6).mlu(), randn(4, 3, 3, 3).mlu().requires_grad_()
    F.conv2d(x, w).sum().backward()  # only the weight gradient is wanted
    torch.testing.assert_close(w.grad.cpu(), torch.func.grad(lambda w: F.conv2d(x.cpu(), w).sum())(w.detach().cpu()),
                               atol=1e-4, rtol=1e-4)


def test_double_backward():
    x, w = randn(1, 2, 5, 5).double(), randn(3, 2, 3, 3).double()

    def gradgrad(x, w):
        (gx,) = torch.autograd.grad(F.conv2d(x, w, padding=1).pow(2).sum(), x, create_graph=True)
        return gx

    check(gradgrad, x, w, dtype=torch.float64)


def test_repeated_steps_reuse_plans():
    x, w = randn(4, 3, 16, 16), randn(8, 3, 3, 3)
    for _ in range(3):
        check(lambda x, w: F.conv2d(x, w, stride=2, padding=1), x, w)


@pytest.mark.parametrize("args,message", [
    (((2, 4, 8, 8), (8, 3, 3, 3)), "expected input\\[2, 4, 8, 8\\] to have 3 channels, but got 4"),
    (((2, 4, 2, 2), (8, 4, 3, 3)), "Kernel size can't be greater than actual input size"),
    (((4, 8, 8), (8, 4, 3, 3)), "Expected 4-dimensional input for 4-dimensional weight"),
])
def test_shape_errors(args, message):
    x, w = (torch.randn(s, device="mlu") for s in args)
    with pytest.raises(RuntimeError, match=message):
        torch.convolution(x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)


def test_argument_errors():
    x, w = torch.randn(2, 4, 8, 8, device="mlu"), torch.randn(8, 4, 3, 3, device="mlu")
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 8 elements"):
        F.conv2d(x, w, torch.randn(3, device="mlu"))
    with pytest.raises(RuntimeError, match="non-positive stride"):
        torch.convolution(x, w, None, [0, 1], [0, 0], [1, 1], False, [0, 0], 1)
    with pytest.raises(RuntimeError, match="should be the same"):
        F.conv2d(x, w.double())
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, w.transpose(0, 1), output_padding=1)
    with pytest.raises(RuntimeError, match="same device"):
        F.conv2d(x, w.cpu())


# MLU_CONV16 is read once per process: each policy runs in its own interpreter. oneDNN's verbose
# log names the data type each convolution computed in. The convolutions run twice: the second
# time reuses the plans (and "auto"'s timed choices) of the first.
CONV16_IN_POLICY = """
import torch, torch.nn.functional as F
torch.mlu.reset_fallback_stats()
for repeat in range(2):
    g = torch.Generator().manual_seed(0)
    for dtype, tol in ((torch.bfloat16, dict(atol=1e-1, rtol=5e-2)), (torch.float16, dict(atol=2e-2, rtol=2e-2))):
        for conv, x, w in ((F.conv2d, (2, 8, 9, 9), (16, 8, 3, 3)), (F.conv1d, (2, 8, 17), (8, 4, 5)),
                           (F.conv3d, (1, 4, 5, 6, 6), (4, 4, 3, 3, 3))):
            groups = 2 if w[0] == 8 else 1
            xs, ws = torch.randn(x, generator=g).to(dtype), torch.randn(w, generator=g).to(dtype)
            b = torch.randn(w[0], generator=g).to(dtype)
            ref = [t.float().requires_grad_() for t in (xs, ws, b)]
            got = [t.to("mlu").requires_grad_() for t in (xs, ws, b)]
            want_y, y = conv(*ref, padding=1, groups=groups), conv(*got, padding=1, groups=groups)
            grad = torch.randn(want_y.shape, generator=g).to(dtype)
            want_y.backward(grad.float()); y.backward(grad.to("mlu"))
            torch.testing.assert_close(y.float().cpu(), want_y, **tol)
            for r, m in zip(ref, got):
                torch.testing.assert_close(m.grad.float().cpu(), r.grad, **tol)
    torch.mlu.synchronize()
    print("plans", torch.mlu.kernel_isa()["conv16_plans"])
assert not torch.mlu.fallback_stats(), torch.mlu.fallback_stats()
print("policy", torch.mlu.kernel_isa()["conv16"])
"""


def conv16_run(run_py, policy):
    """The convolutions' exec lines from oneDNN's log (all, and the second repeat's: the chosen
    kernels alone, without "auto"'s timing runs), and the plan counts after each repeat.
    No 16-bit operand is widened to float32 (or a float32 result narrowed) by oneDNN's
    element-by-element reorder ("simple"), which it runs where it has no vectorised one
    (bfloat16 on AVX2-only CPUs: 50 ns per element)."""
    result = run_py(CONV16_IN_POLICY, timeout=180, MLU_CONV16=policy, ONEDNN_VERBOSE="1")
    assert result.returncode == 0, result
    assert f"policy {policy}" in result.stdout
    convolutions = [line for line in result.stdout.splitlines()
                    if ",exec,cpu,convolution," in line]
    second_repeat = result.stdout.split("\nplans ")[1]
    chosen = [line for line in second_repeat.splitlines() if ",exec,cpu,convolution," in line]
    kinds = {kind for kind in ("forward_training", "backward_data", "backward_weights")
             if any(kind in line for line in convolutions)}
    assert kinds == {"forward_training", "backward_data", "backward_weights"}, result.stdout[-2000:]
    plans = [ast.literal_eval(line[len("plans "):]) for line in result.stdout.splitlines()
             if line.startswith("plans ")]
    assert len(plans) == 2 and plans[0] == plans[1], plans  # made once per shape and pass
    scalar_conversions = [line for line in result.stdout.splitlines()
                          if ",exec,cpu,reorder,simple" in line
                          and re.search(r"(src|dst):b?f16:", line)
                          and re.search(r"(src|dst):f32:", line)]
    assert not scalar_conversions, scalar_conversions[:3]
    return convolutions, chosen, plans[0]


def oneDNN_has_bfloat16_instructions():
    """AVX512-BF16 or AMX, not hidden from oneDNN: its bfloat16 convolutions are more than its
    reference code. Elsewhere (an AVX2-only CPU) they may be the reference code alone, which no
    policy keeps."""
    with open("/proc/cpuinfo") as cpuinfo:
        flags = cpuinfo.read()
    return ("avx512_bf16" in flags or "amx_bf16" in flags) and "ONEDNN_MAX_CPU_ISA" not in os.environ


def test_16_bit_convolutions_native_policy(run_py):
    convolutions, _, plans = conv16_run(run_py, "native")
    if oneDNN_has_bfloat16_instructions():
        assert plans["bfloat16"] == {"16-bit": 9, "float32": 0}
    assert sum(plans["bfloat16"].values()) == 9
    assert (plans["bfloat16"]["16-bit"] > 0) == any("src:bf16" in line for line in convolutions)


def test_16_bit_convolutions_float32_policy(run_py):
    convolutions, _, plans = conv16_run(run_py, "float32")
    assert any("src:f32" in line for line in convolutions)
    assert not any("src:bf16" in line or "src:f16" in line for line in convolutions)
    assert plans == {dtype: {"16-bit": 0, "float32": 9} for dtype in ("bfloat16", "float16")}


def test_16_bit_convolutions_choose_per_shape(run_py):
    # "auto" times oneDNN's 16-bit kernel (AMX's included) against widening for each of the 3
    # shapes' 3 passes and reports what it chose; the results are right either way.
    _, chosen, plans = conv16_run(run_py, "auto")
    for dtype, name in (("bfloat16", "bf16"), ("float16", "f16")):
        assert sum(plans[dtype].values()) == 9, plans
        assert (plans[dtype]["16-bit"] > 0) == any(f"src:{name}" in line for line in chosen)


# A layer timed once is decided for every input size: later batch sizes run the chosen
# convolution once.
CONV16_NEW_BATCH_SIZE = """
import torch, torch.nn.functional as F
w = torch.randn(32, 16, 3, 3).bfloat16().to("mlu")
for batch in (2, 3, 5):
    print("batch", batch, flush=True)
    F.conv2d(torch.randn(batch, 16, 12, 12).bfloat16().to("mlu"), w, padding=1)
    torch.mlu.synchronize()
print("plans", torch.mlu.kernel_isa()["conv16_plans"]["bfloat16"])
"""


def test_16_bit_convolution_choice_is_made_once_per_layer(run_py):
    result = run_py(CONV16_NEW_BATCH_SIZE, timeout=120, MLU_CONV16="auto", ONEDNN_VERBOSE="1")
    assert result.returncode == 0, result
    runs, batch = {}, None
    for line in result.stdout.splitlines():
        if line.startswith("batch "):
            batch = int(line.split()[1])
        elif ",exec,cpu,convolution," in line:
            runs[batch] = runs.get(batch, 0) + 1
    # Where both candidates exist (AMX's kernels included), the first call runs each three times
    # and then the chosen one (where oneDNN has no 16-bit kernel, only the one); later batch sizes
    # run it once.
    assert runs[2] == 7 if oneDNN_has_bfloat16_instructions() else runs[2] in (1, 7), runs
    assert runs[3] == runs[5] == 1, runs
    assert "plans {" in result.stdout  # three batch sizes, three plans
    plans = ast.literal_eval(result.stdout.split("plans ", 1)[1].strip())
    assert sum(plans.values()) == 3, plans


OTHER_STREAM_FIRST = """
    import copy

    import torch
    import torch_mlu

    def grads(conv, x):
        conv.zero_grad()
        x.grad = None
        conv(x).square().sum().backward()
        return [x.grad.cpu(), conv.weight.grad.cpu(), conv.bias.grad.cpu()]

    torch.manual_seed(0)
    # oneDNN needs a scratchpad for this depthwise convolution's weight gradient.
    conv = torch.nn.Conv2d(576, 576, 5, padding=2, groups=576)
    x = torch.randn(16, 576, 2, 2, requires_grad=True)
    expected = grads(conv, x)
    conv_mlu, x_mlu = copy.deepcopy(conv).mlu(), x.detach().mlu().requires_grad_()
    side = torch.mlu.Stream()
    with torch.mlu.stream(side):  # its queue thread builds the primitives
        grads(conv_mlu, x_mlu)
    torch.mlu.synchronize()
    got = grads(conv_mlu, x_mlu)  # the default stream's thread runs them
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)
    print("same gradients")
"""


def test_convolution_primitives_made_on_one_stream_run_on_another(run_py):
    # oneDNN primitives are cached for every queue thread. In oneDNN's default scratchpad mode a
    # primitive's scratchpad belonged to the thread that made it, and this segfaulted.
    result = run_py(OTHER_STREAM_FIRST, timeout=120)
    assert result.returncode == 0 and "same gradients" in result.stdout, result
