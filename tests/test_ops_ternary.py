"""addcmul, addcdiv, lerp, where(out=) and log_sigmoid run natively and match the CPU."""

import pytest
import torch
import torch.nn.functional as F

import torch_mlu  # noqa: F401

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def tolerance(dtype):
    return dict(rtol=1e-2, atol=1e-2) if dtype in (torch.float16, torch.bfloat16) else {}


def native(prefixes):
    return not any(k.startswith(p) for k in torch.mlu.fallback_stats() for p in prefixes)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_addcmul_addcdiv_lerp_with_broadcasting(dtype):
    a, b = torch.randn(4, 5).to(dtype), torch.randn(5).to(dtype)
    c = (torch.rand(4, 1) + 0.5).to(dtype)
    w = torch.rand(4, 5).to(dtype)
    torch.mlu.reset_fallback_stats()
    ops = [
        lambda a, b, c, w: torch.addcmul(a, b, c, value=0.5),
        lambda a, b, c, w: torch.addcdiv(a, b, c, value=-2),
        lambda a, b, c, w: torch.lerp(a, b, 0.3),
        lambda a, b, c, w: torch.lerp(a, b.expand(4, 5), w),
        lambda a, b, c, w: a.clone().addcmul_(b, c),
        lambda a, b, c, w: a.clone().lerp_(b.expand(4, 5), 0.9),
    ]
    for op in ops:
        got = op(*(t.to("mlu") for t in (a, b, c, w))).cpu()
        torch.testing.assert_close(got, op(a, b, c, w), **tolerance(dtype))
    assert native(["aten::addc", "aten::lerp"]), torch.mlu.fallback_stats()


@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.float16, torch.bfloat16,
                                   torch.float32, torch.int64, torch.float64, torch.complex64,
                                   torch.complex128], ids=str)
def test_where_of_contiguous_operands_matches_cpu(dtype):
    # Large enough to be split between the kernel threads; complex128 has no 16-byte integer and
    # takes the element-by-element path.
    g = torch.Generator().manual_seed(0)
    cond = torch.rand(70_000, generator=g) > 0.5
    x, y = ((torch.randn(70_000, generator=g) * 100).to(dtype) for _ in range(2))
    assert torch.equal(torch.where(cond.to("mlu"), x.to("mlu"), y.to("mlu")).cpu(),
                       torch.where(cond, x, y))


def test_where_keeps_the_bits_of_nan_payloads():
    bits = torch.tensor([0x7FC00001, -0x3ED4CBA, 0x3F800000, 0x7F800001], dtype=torch.int32)
    x = bits.view(torch.float32).to("mlu")
    got = torch.where(torch.tensor([True, True, False, True], device="mlu"), x, x.flip(0))
    assert torch.equal(got.cpu().view(torch.int32), bits[[0, 1, 1, 3]])


def test_where_out_and_log_sigmoid_with_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    xm = x.detach().to("mlu").requires_grad_()
    torch.mlu.reset_fallback_stats()
    out = torch.empty(3, 4, device="mlu")
    torch.where(xm > 0, xm.detach(), torch.zeros((), device="mlu"), out=out)
    torch.testing.assert_close(out.cpu(), torch.where(x > 0, x, 0.0).detach())
    F.logsigmoid(xm * 30).sum().backward()
    F.logsigmoid(x * 30).sum().backward()
    torch.testing.assert_close(xm.grad.cpu(), x.grad)
    assert native(["aten::where", "aten::log_sigmoid"]), torch.mlu.fallback_stats()


def test_optimizer_updates_run_natively():
    torch.manual_seed(0)
    params = [torch.randn(8, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    mlu_params = [p.detach().to("mlu").requires_grad_() for p in params]
    for opt_cls in (torch.optim.AdamW, torch.optim.Adam, torch.optim.SGD):
        kwargs = {"lr": 0.1, "momentum": 0.9} if opt_cls is torch.optim.SGD else {"lr": 0.1}
        cpu_opt, mlu_opt = opt_cls(params, **kwargs), opt_cls(mlu_params, **kwargs)
        torch.mlu.reset_fallback_stats()
        for _ in range(3):
            for p, q in zip(params, mlu_params):
                p.grad = torch.ones_like(p) * 0.1
                q.grad = torch.ones_like(q) * 0.1
            cpu_opt.step()
            mlu_opt.step()
        assert not torch.mlu.fallback_stats(), (opt_cls, torch.mlu.fallback_stats())
        for p, q in zip(params, mlu_params):
            torch.testing.assert_close(q.detach().cpu(), p.detach())


def test_ternary_shape_mismatch_is_a_clear_error():
    with pytest.raises(RuntimeError, match="must match the size"):
        torch.addcmul(torch.ones(3, device="mlu"), torch.ones(4, device="mlu"), torch.ones(3, device="mlu"))
