"""Native matrix products against the CPU: mm, addmm, bmm, baddbmm, and matrix-vector and
vector-vector products (addmv, mv, dot, vdot, and matmul of vectors), in layouts and dtypes."""

import ctypes

import pytest
import torch

from op_helpers import native, sample


def check(got, expected):
    tolerance = dict(rtol=1e-2, atol=1e-2) if got.dtype in (torch.float16, torch.bfloat16) else {}
    assert got.dtype == expected.dtype and got.shape == expected.shape
    torch.testing.assert_close(got.cpu(), expected, **tolerance)


PRODUCTS = {
    "mm": lambda a, b, v, w: a @ b,
    "mm_transposed": lambda a, b, v, w: b.t() @ a.t(),
    "addmm": lambda a, b, v, w: torch.addmm(w, a, b, beta=0.5, alpha=2),
    "bmm": lambda a, b, v, w: torch.bmm(a.expand(3, 5, 4), b.expand(3, 4, 5)),
    "mv": lambda a, b, v, w: a @ v,
    "vector_matrix": lambda a, b, v, w: w @ a,
    "addmv": lambda a, b, v, w: torch.addmv(w, a, v, beta=2, alpha=-1),
    "addmv_scalar_input": lambda a, b, v, w: torch.addmv(w[0], a.t().contiguous().t(), v),
    "dot": lambda a, b, v, w: torch.dot(v, v.flip(0)),
    "vdot": lambda a, b, v, w: torch.vdot(v, v),
    "vector_vector": lambda a, b, v, w: v @ v,
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64])
@pytest.mark.parametrize("name", PRODUCTS)
def test_products_match_cpu(name, dtype):
    a, b = sample((5, 4), dtype), sample((4, 5), dtype, seed=1)
    v, w = sample((4,), dtype, seed=2), sample((5,), dtype, seed=3)
    fn = PRODUCTS[name]
    with native():
        got = fn(a.mlu(), b.mlu(), v.mlu(), w.mlu())
    check(got, fn(a, b, v, w))


def test_matrix_vector_gradients_and_out_forms():
    a, v = torch.randn(6, 3, requires_grad=True), torch.randn(3, requires_grad=True)
    am, vm = (t.detach().mlu().requires_grad_() for t in (a, v))
    with native():
        (am @ vm).square().sum().backward()
        out = torch.empty(0, device="mlu")
        torch.mv(am.detach(), vm.detach(), out=out)
        inplace = torch.ones(6, device="mlu").addmv_(am.detach(), vm.detach(), alpha=3)
    (a @ v).square().sum().backward()
    check(am.grad, a.grad)
    check(vm.grad, v.grad)
    check(out, torch.mv(a.detach(), v.detach()))
    check(inplace, torch.ones(6).addmv_(a.detach(), v.detach(), alpha=3))


def test_vector_products_reject_bad_operands():
    m, v = torch.ones(3, 4, device="mlu"), torch.ones(5, device="mlu")
    with pytest.raises(RuntimeError, match="size mismatch"):
        torch.mv(m, v)
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        torch.dot(m, m)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.dot(v, v.double())
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        torch.dot(v, torch.ones(4, device="mlu"))
    assert torch.dot(v, v).item() == 5.0  # still usable


def test_device_products_leave_the_cpu_blas_thread_count_alone():
    # The kernels run OpenBLAS single-threaded; its thread count is shared with PyTorch CPU, so it
    # must be back to what it was once they are done.
    blas = ctypes.CDLL("libopenblas.so.0")
    before = blas.openblas_get_num_threads()
    if before == 1:
        pytest.skip("OpenBLAS already runs single-threaded here (one core): nothing to restore")
    x = torch.randn(300, 300, device="mlu")
    (x @ x).sum().item()
    torch.nn.functional.scaled_dot_product_attention(*(torch.randn(1, 2, 8, 4, device="mlu"),) * 3).sum().item()
    assert blas.openblas_get_num_threads() == before


LARGE_16BIT_PRODUCTS = {  # large enough for oneDNN's matmul where this CPU has 16-bit instructions
    "mm": lambda a, b, bias: a @ b,
    "mm_transposed": lambda a, b, bias: a @ b.t().contiguous().t(),
    "bmm": lambda a, b, bias: torch.bmm(a.view(4, 32, 96), b.expand(4, 96, 160).contiguous()),
    "linear": lambda a, b, bias: torch.nn.functional.linear(a, b.t(), bias),
}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", LARGE_16BIT_PRODUCTS)
def test_large_16bit_products_match_a_float64_product(name, dtype):
    a, b = torch.randn(128, 96).to(dtype), torch.randn(96, 160).to(dtype)
    bias = torch.randn(160).to(dtype)
    fn = LARGE_16BIT_PRODUCTS[name]
    with native():
        got = fn(a.mlu(), b.mlu(), bias.mlu())
    want = fn(a.double(), b.double(), bias.double())
    assert got.dtype == dtype
    # float32 accumulation, one rounding to 16 bits
    torch.testing.assert_close(got.cpu().double(), want, rtol=1e-2, atol=2e-2)


FLOAT32_PRODUCTS = {
    "mm": lambda a, b, bias: a @ b,
    "addmm_bias": lambda a, b, bias: torch.addmm(bias, a, b),
    "addmm_scaled": lambda a, b, bias: torch.addmm(bias, a, b, beta=0.5, alpha=2),
    "linear_relu": lambda a, b, bias: torch.relu(torch.nn.functional.linear(a, b.t(), bias)),
    "bmm": lambda a, b, bias: torch.bmm(a.unsqueeze(0).expand(3, -1, -1),
                                        b.unsqueeze(0).expand(3, -1, -1).contiguous()),
}


def layout(t, transposed, padded):
    """t's values, stored transposed (column-major) and/or with rows wider than t."""
    stored = t.t() if transposed else t
    if padded:
        wide = torch.zeros(stored.shape[0], stored.shape[1] + 7, dtype=t.dtype, device=t.device)
        wide[:, :stored.shape[1]] = stored
        stored = wide[:, :stored.shape[1]]
    return stored.t() if transposed else stored


# Below and above the size from which float32 products run on oneDNN's brgemm kernels where the
# CPU has them (2^18 multiply-adds), on one thread and split across threads.
@pytest.mark.parametrize("m,n,k", [(64, 64, 64), (16, 256, 128), (512, 128, 128), (128, 96, 512)])
@pytest.mark.parametrize("a_transposed,b_transposed,padded",
                         [(False, False, False), (True, False, True), (False, True, False),
                          (True, True, True), (False, False, True)])
@pytest.mark.parametrize("name", FLOAT32_PRODUCTS)
def test_float32_products_in_every_layout_match_a_float64_product(
        name, m, n, k, a_transposed, b_transposed, padded):
    a, b, bias = sample((m, k), torch.float32), sample((k, n), torch.float32, seed=1), \
        sample((n,), torch.float32, seed=2)
    fn = FLOAT32_PRODUCTS[name]
    with native():
        got = fn(layout(a.mlu(), a_transposed, padded), layout(b.mlu(), b_transposed, padded),
                 bias.mlu())
    want = fn(a.double(), b.double(), bias.double())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.cpu().double(), want, rtol=1e-5, atol=1e-4)
