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
