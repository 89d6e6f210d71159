"""fused=True optimizers run one native kernel per step and follow the CPU's fused=True; the
_foreach_* operators of foreach=True run as multi-tensor kernels and match the CPU."""

import math

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


def run_steps(cpu_opt, mlu_opt, cpu, mlu):
    """Four steps of both optimizers on the same gradients, without the fallback."""
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


@pytest.mark.parametrize("opt_cls, kwargs", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_fused_step_matches_cpu(opt_cls, kwargs):
    torch.manual_seed(0)
    cpu = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True)]
    mlu = [p.detach().to("mlu").requires_grad_() for p in cpu]
    mlu_kwargs = {k: v.to("mlu") if torch.is_tensor(v) else v for k, v in kwargs.items()}
    run_steps(opt_cls(cpu, fused=True, **kwargs), opt_cls(mlu, fused=True, **mlu_kwargs), cpu, mlu)


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


def dense_layout_params(device, layout):
    """A convolution weight and a matrix, contiguous or in another dim order without gaps
    (channels last, transposed), with the same values either way."""
    torch.manual_seed(0)
    weight, matrix = torch.randn(4, 3, 3, 3), torch.randn(3, 5)
    if layout == "permuted":
        weight, matrix = weight.to(memory_format=torch.channels_last), matrix.t().contiguous().t()
    return [t.to(device).requires_grad_() for t in (weight, matrix)]


@pytest.mark.parametrize("opt_cls, kwargs", [(torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                             (torch.optim.AdamW, {"lr": 0.1})],
                         ids=["sgd", "adamw"])
@pytest.mark.parametrize("mode", ["fused", "foreach"])
def test_permuted_parameters_step_in_as_few_launches_and_match_cpu(opt_cls, kwargs, mode):
    """Channels-last and transposed parameters, with gradients and state in their layout, take the
    multi-tensor path of contiguous ones: the same launches per step, the CPU's results."""
    launches = {}
    for layout in ("contiguous", "permuted"):
        cpu, mlu = dense_layout_params("cpu", layout), dense_layout_params("mlu", layout)
        assert all(p.is_contiguous() == (layout == "contiguous") for p in mlu)
        mlu_opt = opt_cls(mlu, **kwargs, **{mode: True})
        cpu_opt = opt_cls(cpu, **kwargs, foreach=False)
        run_steps(cpu_opt, mlu_opt, cpu, mlu)
        before = torch.mlu.kernel_launches()
        with native():
            mlu_opt.step()
        torch.mlu.synchronize()
        launches[layout] = torch.mlu.kernel_launches() - before
        assert all(p.stride() == q.stride() for p, q in zip(mlu, cpu))
    assert launches["permuted"] == launches["contiguous"]


def test_fused_step_rejects_state_in_another_layout():
    param = torch.zeros(2, 3, device="mlu")
    grad = torch.zeros(3, 2, device="mlu").t()
    with pytest.raises(RuntimeError, match=r"grads\[0\] must be a tensor of the parameter's"):
        torch._fused_sgd_([param], [grad], [], weight_decay=0.0, momentum=0.0, lr=0.1,
                          dampening=0.0, nesterov=False, maximize=False, is_first_step=True)
    torch._fused_sgd_([param], [grad.contiguous()], [], weight_decay=0.0, momentum=0.0, lr=0.1,
                      dampening=0.0, nesterov=False, maximize=False, is_first_step=True)


def test_fused_step_rejects_parameters_with_gaps():
    param = torch.zeros(6, device="mlu")[::2]
    with pytest.raises(RuntimeError, match="without gaps or overlap on one mlu device"):
        torch._fused_sgd_([param], [torch.zeros_like(param)], [], weight_decay=0.0, momentum=0.0,
                          lr=0.1, dampening=0.0, nesterov=False, maximize=False,
                          is_first_step=True)


def test_fused_step_rejects_mixed_devices():
    params = [torch.zeros(2, device="mlu:0"), torch.zeros(2, device="mlu:1")]
    for p in params:
        p.grad = torch.zeros_like(p)
    with pytest.raises(RuntimeError, match="one mlu device"):
        torch._fused_sgd_(params, [p.grad for p in params], [], weight_decay=0.0, momentum=0.0, lr=0.1,
                          dampening=0.0, nesterov=False, maximize=False, is_first_step=True)


@pytest.mark.parametrize("opt_cls, kwargs", [c for c in CASES if not torch.is_tensor(c[1]["lr"])],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_foreach_step_matches_cpu(opt_cls, kwargs):
    torch.manual_seed(0)
    cpu = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True),
           torch.randn(300, 300, requires_grad=True)]  # large enough to split across threads
    mlu = [p.detach().to("mlu").requires_grad_() for p in cpu]
    run_steps(opt_cls(cpu, foreach=False, **kwargs), opt_cls(mlu, foreach=True, **kwargs), cpu, mlu)


def lists(dtype=torch.float32, shapes=((3, 4), (5,), (0,), ())):
    g = torch.Generator().manual_seed(0)
    return [torch.rand(s, generator=g).to(dtype) + 0.5 for s in shapes]


FOREACH_CASES = {
    "add_scalar": lambda xs, ys, zs: torch._foreach_add(xs, 0.1),
    "add_scalar_": lambda xs, ys, zs: torch._foreach_add_(xs, 0.1),
    "mul_scalar": lambda xs, ys, zs: torch._foreach_mul(xs, 0.1),
    "mul_scalar_": lambda xs, ys, zs: torch._foreach_mul_(xs, 0.1),
    "div_scalar_": lambda xs, ys, zs: torch._foreach_div_(xs, 3.0),
    "div_scalar_list": lambda xs, ys, zs: torch._foreach_div(xs, [float(i + 2) for i in range(len(xs))]),
    "div_scalar_list_": lambda xs, ys, zs: torch._foreach_div_(xs, [float(i + 2) for i in range(len(xs))]),
    "add_list": lambda xs, ys, zs: torch._foreach_add(xs, ys, alpha=-0.5),
    "add_list_": lambda xs, ys, zs: torch._foreach_add_(xs, ys, alpha=2),
    "sqrt": lambda xs, ys, zs: torch._foreach_sqrt(xs),
    "sqrt_": lambda xs, ys, zs: torch._foreach_sqrt_(xs),
    "lerp_": lambda xs, ys, zs: torch._foreach_lerp_(xs, ys, 0.1),
    "lerp_high_weight_": lambda xs, ys, zs: torch._foreach_lerp_(xs, ys, 0.9),
    "addcmul_": lambda xs, ys, zs: torch._foreach_addcmul_(xs, ys, zs, 0.3),
    "addcmul_list_": lambda xs, ys, zs: torch._foreach_addcmul_(xs, ys, zs, [0.1 * i for i in range(len(xs))]),
    "addcdiv_": lambda xs, ys, zs: torch._foreach_addcdiv_(xs, ys, zs, -0.3),
    "addcdiv_list_": lambda xs, ys, zs: torch._foreach_addcdiv_(xs, ys, zs, [0.5] * len(xs)),
    "mul_tensor_": lambda xs, ys, zs: torch._foreach_mul_(xs, zs[0].flatten()[0].clone()),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
@pytest.mark.parametrize("name", FOREACH_CASES)
def test_foreach_operator_matches_cpu(name, dtype):
    fn = FOREACH_CASES[name]
    cpu = [lists(dtype), [t.flip(0) if t.dim() else t for t in lists(dtype)], lists(dtype)]
    mlu = [[t.to("mlu") for t in group] for group in cpu]
    with native():
        got = fn(*mlu)
    expected = fn(*cpu)
    got, expected = (mlu[0], cpu[0]) if got is None else (got, expected)
    if name.startswith("sqrt"):
        # IEEE sqrt is correctly rounded and so is mlu's; PyPI's CPU (MKL) can be 1 ulp off in
        # float64, so the reference is the correctly rounded root, from Python's math.sqrt.
        expected = [torch.tensor([math.sqrt(v) for v in t.flatten().tolist()], dtype=torch.float64)
                    .reshape(t.shape).to(dtype) for t in cpu[0 if name == "sqrt" else 2]]
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        torch.testing.assert_close(g.cpu(), e, rtol=0, atol=0) if dtype != torch.float16 else \
            torch.testing.assert_close(g.cpu(), e)


def test_foreach_lists_outside_the_fast_path_match_cpu():
    # Mixed dtypes, a non-contiguous tensor and integers: tensor by tensor, same results.
    cpu = [torch.arange(6.).reshape(2, 3).t(), torch.arange(4, dtype=torch.int64),
           torch.ones(3, dtype=torch.float16)]
    mlu = [t.to("mlu") for t in cpu]
    torch._foreach_add_(mlu, 2)
    torch._foreach_add_(cpu, 2)
    torch._foreach_mul_(mlu, 3)
    torch._foreach_mul_(cpu, 3)
    for m, c in zip(mlu, cpu):
        assert m.dtype == c.dtype
        torch.testing.assert_close(m.cpu(), c)


def test_foreach_rejects_mismatched_lists():
    xs = [torch.ones(2, device="mlu")] * 2
    with pytest.raises(RuntimeError, match="same number"):
        torch._foreach_add_(xs, [torch.ones(2, device="mlu")])
    with pytest.raises(RuntimeError, match="scalar list"):
        torch._foreach_div_(xs, [1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError):
        torch._foreach_sqrt_([torch.ones(2, dtype=torch.int64, device="mlu")])
    torch._foreach_add_(xs, 1)  # still usable
    assert torch.equal(xs[0].cpu(), torch.full((2,), 3.0))  # the same tensor twice: added twice
