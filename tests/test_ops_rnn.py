"""Recurrent layers run their fused cells natively and match the CPU."""

import pytest
import torch
from torch import nn

import torch_mlu  # noqa: F401


def no_fallback(prefix):
    return not any(name.startswith(prefix) for name in torch.mlu.fallback_stats())


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_layer_forward_and_backward_match_cpu(kind, bias):
    torch.manual_seed(0)
    cpu = kind(6, 5, num_layers=2, bias=bias, batch_first=True)
    mlu = kind(6, 5, num_layers=2, bias=bias, batch_first=True)
    mlu.load_state_dict(cpu.state_dict())
    mlu = mlu.to("mlu")
    x = torch.randn(3, 7, 6, requires_grad=True)
    xm = x.detach().to("mlu").requires_grad_()
    torch.mlu.reset_fallback_stats()
    out_m, _ = mlu(xm)
    out_m.square().sum().backward()
    assert no_fallback("aten::_thnn_fused"), torch.mlu.fallback_stats()
    out, _ = cpu(x)
    out.square().sum().backward()
    torch.testing.assert_close(out_m.cpu(), out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(xm.grad.cpu(), x.grad, rtol=1e-4, atol=1e-5)
    for (name, p), pm in zip(cpu.named_parameters(), mlu.parameters()):
        torch.testing.assert_close(pm.grad.cpu(), p.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_lstm_cell_with_only_the_cell_state_gradient():
    torch.manual_seed(0)
    cell = nn.LSTMCell(4, 3)
    x, h, c = torch.randn(2, 4), torch.randn(2, 3), torch.randn(2, 3, requires_grad=True)
    cm = c.detach().to("mlu").requires_grad_()
    _, c1 = cell(x, (h, c))
    c1.sum().backward()
    _, cm1 = cell.to("mlu")(x.to("mlu"), (h.to("mlu"), cm))
    cm1.sum().backward()
    torch.testing.assert_close(cm.grad.cpu(), c.grad)


def test_fused_cell_rejects_mismatched_gates():
    gates = torch.randn(2, 8, device="mlu")
    with pytest.raises(RuntimeError, match=r"\[batch, 4 \* hidden\]"):
        torch.ops.aten._thnn_fused_lstm_cell(gates, gates, torch.randn(2, 3, device="mlu"))
