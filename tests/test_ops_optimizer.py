"""fused=True optimizers run one native kernel per step and follow the CPU's fused=True."""

import pytest
import torch

import torch_mlu  # noqa: F401
from op_helpers import native

CASES = [
    (torch.optim.Adam, {"lr": 0.1}),
    (torch.optim.Adam, {"lr": 0.1, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    (torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.5}),
    (torch.optim.AdamW, {"lr": torch.tensor(0.05), "amsgrad": True}),
    (torch.optim.SGD, {"lr": 0.1}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "maximize": True}),
]


@pytest.mark.parametrize("opt_cls, kwargs", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_fused_step_matches_cpu(opt_cls, kwargs):
    torch.manual_seed(0)
    cpu = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True)]
    mlu = [p.detach().to("mlu").requires_grad_() for p in cpu]
    mlu_kwargs = {k: v.to("mlu") if torch.is_tensor(v) else v for k, v in kwargs.items()}
    cpu_opt = opt_cls(cpu, fused=True, **kwargs)
    mlu_opt = opt_cls(mlu, fused=True, **mlu_kwargs)
    with native():
        for step in range(4):
            for p, q in zip(cpu, mlu):
                g = torch.full_like(p, 0.3 * (step + 1)) - p.detach() * 0.1
                p.grad, q.grad = g, g.to("mlu")
            cpu_opt.step()
            mlu_opt.step()
    # Adam divides by sqrt(v): where a gradient is near zero, float32 rounding of the two
    # implementations' operation orders shows at 1e-6.
    for p, q in zip(cpu, mlu):
        torch.testing.assert_close(q.detach().cpu(), p.detach(), rtol=1e-4, atol=1e-5)


def test_fused_adam_with_grad_scaler_skips_inf_steps():
    param = torch.ones(4, device="mlu", requires_grad=True)
    opt = torch.optim.Adam([param], lr=0.1, fused=True)
    scaler = torch.amp.GradScaler("mlu", init_scale=4.0)
    scaler.scale((param * float("inf")).sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert param.detach().cpu().tolist() == [1.0] * 4 and scaler.get_scale() == 2.0
    opt.zero_grad()
    scaler.scale(param.sum()).backward()  # scaled by 2: the true gradient is 1
    with native():
        scaler.step(opt)  # the fused kernel unscales, as the optimizer reports it can
    assert param.grad.cpu().tolist() == [1.0] * 4  # unscaled in place, as on the CPU
    assert param.detach().cpu().tolist() == pytest.approx([0.9] * 4)


def test_fused_step_rejects_mixed_devices():
    params = [torch.zeros(2, device="mlu:0"), torch.zeros(2, device="mlu:1")]
    for p in params:
        p.grad = torch.zeros_like(p)
    with pytest.raises(RuntimeError, match="one mlu device"):
        torch._fused_sgd_(params, [p.grad for p in params], [], weight_decay=0.0, momentum=0.0, lr=0.1,
                          dampening=0.0, nesterov=False, maximize=False, is_first_step=True)
