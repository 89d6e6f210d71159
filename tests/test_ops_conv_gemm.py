"""Float32 convolutions as matrix products on the input's patches (MLU_CONV_GEMM): the same results
as PyTorch CPU whichever way a layer runs, and "auto" taking the products for the layers whose
weights outweigh their patches. MLU_CONV_GEMM is read once per process: each policy runs in its
own interpreter; oneDNN's verbose log shows which convolutions ran as oneDNN's direct ones."""

import pytest

CONVOLUTIONS = """
import torch, torch.nn.functional as F
g = torch.Generator().manual_seed(0)
def check(conv, x, w, channels_last=False, transpose_weight=False, **kw):
    xs = torch.randn(x, generator=g, dtype=torch.float64)
    ws = torch.randn(w, generator=g, dtype=torch.float64)
    b = torch.randn(w[1] if conv is F.conv_transpose2d else w[0], generator=g, dtype=torch.float64)
    ref = [t.clone().requires_grad_() for t in (xs, ws, b)]
    want = conv(*ref, **kw)
    grad = torch.randn(want.shape, generator=g, dtype=torch.float64)
    want.backward(grad)
    xm = xs.float().to("mlu")
    if channels_last:
        xm = xm.contiguous(memory_format=torch.channels_last)
    wm = ws.float().to("mlu")
    if transpose_weight:  # the same values, laid out transposed
        wm = wm.transpose(0, 1).contiguous().transpose(0, 1)
    got = [t.requires_grad_() for t in (xm, wm, b.float().to("mlu"))]
    y = conv(*got, **kw)
    y.backward(grad.float().to("mlu"))
    tol = dict(atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(y.cpu().double(), want.detach(), **tol)
    for r, m in zip(ref, got):
        torch.testing.assert_close(m.grad.cpu().double(), r.grad, **tol)
for repeat in range(2):
    check(F.conv2d, (4, 64, 1, 1), (48, 64, 3, 3), padding=1)  # ResNet-18's deepest, at 32 x 32
    check(F.conv2d, (3, 5, 9, 8), (7, 5, 3, 3), stride=2, padding=1, channels_last=True)
    check(F.conv2d, (2, 6, 8, 8), (4, 6, 3, 3), padding=2, dilation=2, transpose_weight=True)
    check(F.conv2d, (2, 3, 12, 12), (8, 3, 7, 7), stride=2, padding=3)
    check(F.conv1d, (4, 8, 20), (6, 8, 5), stride=2, padding=2)
    check(F.conv3d, (2, 3, 5, 6, 4), (4, 3, 3, 3, 3), padding=1)
    check(F.conv_transpose2d, (2, 8, 5, 5), (8, 4, 3, 3), stride=2, padding=1, output_padding=1)
    check(F.conv2d, (2, 8, 6, 6), (8, 2, 3, 3), padding=1, groups=4)  # grouped: oneDNN's
    torch.mlu.synchronize()
print("policy", torch.mlu.kernel_isa()["conv_gemm"])
"""


def direct_convolutions(run_py, policy):
    """The float32 convolutions (passes) oneDNN ran directly, after every result matched CPU."""
    result = run_py(CONVOLUTIONS, MLU_CONV_GEMM=policy, ONEDNN_VERBOSE="1")
    assert result.returncode == 0, result
    assert f"policy {policy}" in result.stdout, result
    return [line for line in result.stdout.splitlines()
            if ",exec,cpu,convolution," in line and "src:f32" in line]


def test_always_runs_every_ungrouped_float32_convolution_as_products(run_py):
    direct = direct_convolutions(run_py, "always")
    # Only the grouped layer's three passes, twice, go to oneDNN's direct convolution.
    assert len(direct) == 6 and all("g4" in line for line in direct), direct


def test_never_keeps_onednn(run_py):
    direct = direct_convolutions(run_py, "never")
    assert len(direct) == 2 * 3 * 8, direct


def test_auto_takes_products_where_the_weights_outweigh_the_patches(run_py):
    direct = direct_convolutions(run_py, "auto")
    # The first layer's 48 x 64 x 3 x 3 weights against a 576 x 4 patch matrix: products; every
    # other layer's patches outnumber its weights.
    assert len(direct) == 2 * 3 * 7, direct
    assert not any("ic64oc48" in line for line in direct), direct


# A training step of a small ResNet-style network, on the products and on oneDNN, against the CPU.
STEP = """
import copy, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10)
x, target = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
grads = {}
for device in ("cpu", "mlu"):
    m = copy.deepcopy(model).to(device)
    torch.nn.functional.cross_entropy(m(x.to(device)), target.to(device)).backward()
    grads[device] = [p.grad.cpu().clone() for p in m.parameters()]
worst = max(((a - b).abs().max() / (b.abs().max() + 1e-6)).item()
            for a, b in zip(grads["mlu"], grads["cpu"]))
print("worst", worst)
"""


@pytest.mark.parametrize("policy", ["always", "never"])
def test_a_resnet_step_matches_the_cpu(run_py, policy):
    result = run_py(STEP, MLU_CONV_GEMM=policy)
    assert result.returncode == 0, result
    worst = float(result.stdout.split("worst ")[1])
    assert worst < 1e-3, worst


# 16-bit layers run as products on float32 copies, rounded once, as oneDNN's widened ones do.
CONVOLUTIONS_16 = """
import torch, torch.nn.functional as F
g = torch.Generator().manual_seed(0)
for dtype in (torch.bfloat16, torch.float16):
    for x, w, kw in (((4, 64, 1, 1), (48, 64, 3, 3), dict(padding=1)),
                     ((2, 32, 2, 2), (64, 32, 3, 3), dict(stride=2, padding=1))):
        xs, ws = torch.randn(x, generator=g).to(dtype), torch.randn(w, generator=g).to(dtype)
        b = torch.randn(w[0], generator=g).to(dtype)
        ref = [t.float().requires_grad_() for t in (xs, ws, b)]
        got = [t.to("mlu").requires_grad_() for t in (xs, ws, b)]
        want, y = F.conv2d(*ref, **kw), F.conv2d(*got, **kw)
        grad = torch.randn(want.shape, generator=g).to(dtype)
        want.backward(grad.float())
        y.backward(grad.to("mlu"))
        torch.testing.assert_close(y.cpu(), want.to(dtype))
        for r, m in zip(ref, got):
            torch.testing.assert_close(m.grad.cpu(), r.grad.to(dtype))
print("plans", torch.mlu.kernel_isa()["conv16_plans"])
"""


@pytest.mark.parametrize("policy, conv16, as_products", [
    ("auto", "auto", True), ("never", "auto", False),
    ("auto", "native", False),  # oneDNN's 16-bit kernels wherever it has them, as asked
])
def test_16_bit_layers_whose_weights_outweigh_their_patches(run_py, policy, conv16, as_products):
    result = run_py(CONVOLUTIONS_16, MLU_CONV_GEMM=policy, MLU_CONV16=conv16)
    assert result.returncode == 0, result
    planned = result.stdout.split("plans ")[1]
    # oneDNN plans the 16-bit layers only where they do not run as products.
    zero = "{'bfloat16': {'16-bit': 0, 'float32': 0}, 'float16': {'16-bit': 0, 'float32': 0}}"
    assert (planned.strip() == zero) == as_products, planned
