"""Recurrent layers run natively (LSTM as whole-sequence layers, GRU as fused cells) and match the
CPU."""

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

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


class RecordedOps(TorchDispatchMode):
    """The operators that reached the backends inside the block."""

    def __init__(self):
        super().__init__()
        self.names = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def lstm_pair(dtype=torch.float32, **options):
    torch.manual_seed(0)
    cpu = nn.LSTM(6, 5, **options).to(dtype)
    mlu = nn.LSTM(6, 5, **options).to(dtype)
    mlu.load_state_dict(cpu.state_dict())
    return cpu, mlu.to("mlu")


def run_lstm(model, x, state, device):
    x = x.detach().to(device).requires_grad_()
    state = tuple(s.detach().to(device).requires_grad_() for s in state)
    out, (hy, cy) = model(x, state)
    (out.square().sum() + hy.sin().sum() + cy.cos().sum()).backward()
    return [out, hy, cy, x.grad, *(s.grad for s in state), *(p.grad for p in model.parameters())]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layers,bidirectional,batch_first,bias",
                         [(1, False, False, True), (2, False, True, True), (2, True, False, True),
                          (1, True, True, False), (3, True, True, True)])
def test_lstm_runs_whole_sequence_layers_and_matches_cpu(dtype, layers, bidirectional,
                                                          batch_first, bias):
    cpu, mlu = lstm_pair(dtype, num_layers=layers, bidirectional=bidirectional,
                         batch_first=batch_first, bias=bias)
    g = torch.Generator().manual_seed(1)
    shape = (3, 7, 6) if batch_first else (7, 3, 6)
    x = torch.randn(shape, generator=g, dtype=dtype)
    state = tuple(torch.randn(layers * (2 if bidirectional else 1), 3, 5, generator=g, dtype=dtype)
                  for _ in range(2))
    with RecordedOps() as recorded:
        got = run_lstm(mlu, x, state, "mlu")
    assert "torch_mlu.lstm_layer" in recorded.names
    assert "torch_mlu.lstm_layer_backward" in recorded.names
    assert not any("lstm_cell" in name for name in recorded.names), recorded.names
    expected = run_lstm(cpu, x, state, "cpu")
    for i, (m, c) in enumerate(zip(got, expected)):
        torch.testing.assert_close(m.cpu(), c, rtol=1e-4, atol=1e-5, msg=f"result {i}")


def test_a_wide_lstm_layer_matches_cpu():
    # Gates of several of the step product's column panels, split between the kernel threads.
    torch.manual_seed(0)
    cpu = nn.LSTM(48, 96, num_layers=2)
    mlu = nn.LSTM(48, 96, num_layers=2)
    mlu.load_state_dict(cpu.state_dict())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 10, 48, generator=g)
    state = tuple(torch.randn(2, 10, 96, generator=g) for _ in range(2))
    mlu = mlu.to("mlu")
    for _ in range(3):  # the helper thread joins the steps once it is awake
        mlu.zero_grad(set_to_none=True)
        got = run_lstm(mlu, x, state, "mlu")
    expected = run_lstm(cpu, x, state, "cpu")
    for i, (m, c) in enumerate(zip(got, expected)):
        torch.testing.assert_close(m.cpu(), c, rtol=1e-4, atol=1e-5, msg=f"result {i}")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_16_bit_lstm_runs_the_float32_layers(dtype):
    # Weights, input and state in one 16-bit dtype: the layers compute in float32 from the
    # widened operands (their products in that dtype where the CPU has AMX for it), as PyTorch
    # CPU's float32 LSTM does from the same rounded values, and every result and gradient comes
    # back in the 16-bit dtype.
    cpu, mlu = lstm_pair(dtype, num_layers=2, bidirectional=True)
    cpu.float()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, 6, generator=g).to(dtype)
    state = tuple(torch.randn(4, 3, 5, generator=g).to(dtype) for _ in range(2))
    with RecordedOps() as recorded:
        got = run_lstm(mlu, x, state, "mlu")
    assert "torch_mlu.lstm_layer" in recorded.names
    assert not any("lstm_cell" in name for name in recorded.names), recorded.names
    expected = run_lstm(cpu, x.float(), [s.float() for s in state], "cpu")
    for i, (m, c) in enumerate(zip(got, expected)):
        assert m.dtype == dtype, f"result {i}"
        torch.testing.assert_close(m.cpu().float(), c.to(dtype).float(), rtol=2e-2, atol=2e-2,
                                   msg=f"result {i}")


def test_lstm_gradient_through_the_final_state_only():
    cpu, mlu = lstm_pair()
    x = torch.randn(4, 2, 6)
    grads = []
    for model, device in ((cpu, "cpu"), (mlu, "mlu")):
        xd = x.to(device).detach().requires_grad_()
        _, (hy, _) = model(xd)
        hy.sum().backward()
        grads.append(xd.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-5)


def test_lstm_in_inference_mode_and_without_state_matches_cpu():
    cpu, mlu = lstm_pair(num_layers=2)
    x = torch.randn(5, 2, 6)
    with torch.inference_mode():
        out, (hy, cy) = mlu(x.to("mlu"))
    expected, (ehy, ecy) = cpu(x)
    for m, c in ((out, expected), (hy, ehy), (cy, ecy)):
        torch.testing.assert_close(m.cpu(), c.detach(), rtol=1e-4, atol=1e-5)


def test_lstm_with_projections_takes_the_composite_path():
    cpu, mlu = lstm_pair(proj_size=3)
    x = torch.randn(5, 2, 6)
    with RecordedOps() as recorded:
        out, _ = mlu(x.to("mlu"))
    assert "torch_mlu.lstm_layer" not in recorded.names
    torch.testing.assert_close(out.cpu(), cpu(x)[0].detach(), rtol=1e-4, atol=1e-5)


def test_lstm_dropout_between_layers_applies_in_training_only():
    _, mlu = lstm_pair(num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 6, device="mlu")
    torch.manual_seed(0)
    train_a, _ = mlu(x)
    torch.manual_seed(1)
    train_b, _ = mlu(x)
    mlu.eval()
    eval_a, _ = mlu(x)
    eval_b, _ = mlu(x)
    assert not torch.equal(train_a.cpu(), train_b.cpu())
    assert torch.equal(eval_a.cpu(), eval_b.cpu())


def test_lstm_under_autocast_widens_a_float16_input_once():
    cpu, mlu = lstm_pair()
    x = torch.randn(5, 2, 6)
    with torch.autocast("mlu", dtype=torch.float16), RecordedOps() as recorded:
        out, _ = mlu(x.to("mlu", torch.float16))
    assert out.dtype == torch.float32
    assert "torch_mlu.lstm_layer" in recorded.names
    # Float32 products unless this CPU has AMX for float16 (then they round to it: see below).
    exact = torch.mlu.kernel_isa()["lstm16"]["float16"] == "float32"
    torch.testing.assert_close(out.cpu(), cpu(x.half().float())[0].detach(),
                               rtol=1e-4 if exact else 2e-2, atol=1e-5 if exact else 2e-2)


LSTM16 = torch.mlu.kernel_isa()["lstm16"]


class LayerCalls(TorchDispatchMode):
    """The products argument of every torch_mlu.lstm_layer call (None when not given)."""

    def __init__(self):
        super().__init__()
        self.products = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if str(func.overloadpacket) == "torch_mlu.lstm_layer":
            self.products.append(kwargs.get("products", args[8] if len(args) > 8 else None))
        return func(*args, **kwargs)


def layer_operands(seed=0, steps=6, batch=3, inputs=40, hidden=24, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    shapes = [(steps, batch, inputs), (batch, hidden), (batch, hidden), (4 * hidden, inputs),
              (4 * hidden, hidden), (4 * hidden,)]
    return [(torch.randn(s, generator=g) * 0.5).to(dtype) for s in shapes]


def layer_reference(x, h0, c0, w_ih, w_hh, b, products):
    """One LSTM layer in float64 whose products read their operands rounded to `products` (None:
    not rounded), as the device's 16-bit products do; biases b_ih = b_hh = b."""
    def r(t):
        return (t.float().to(products) if products else t.float()).double()

    gates_in = r(x) @ r(w_ih).T + 2 * b.double()
    h, c, out = h0.double(), c0.double(), []
    for t in range(x.shape[0]):
        i, f, g, o = (gates_in[t] + r(h) @ r(w_hh).T).chunk(4, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        out.append(h)
    return torch.stack(out), h, c


@pytest.mark.parametrize("products", [torch.bfloat16, torch.float16])
def test_lstm_layer_rounds_its_products_where_the_cpu_has_amx(products):
    # Asked for 16-bit products, a float32 layer rounds each product's operands (input, weights,
    # each step's h) to that dtype and accumulates in float32 where this CPU has AMX for it;
    # elsewhere its products stay float32.
    operands = layer_operands()
    x, h0, c0, w_ih, w_hh, b = (t.to("mlu") for t in operands)
    out, hy, cy, _, _ = torch.ops.torch_mlu.lstm_layer(x, h0, c0, w_ih, w_hh, b, b, False,
                                                       products=products)
    on_amx = LSTM16[str(products).removeprefix("torch.")] == "AMX"
    rounded = layer_reference(*operands, products if on_amx else None)
    other = layer_reference(*operands, None if on_amx else products)
    for got, want, unlike in zip((out, hy, cy), rounded, other):
        torch.testing.assert_close(got.cpu().double(), want, rtol=0, atol=2e-3)
        # The rounding shows: the reference of the other kind is further away.
        assert (got.cpu().double() - want).abs().max() < (got.cpu().double() - unlike).abs().max()


def test_lstm_layer_backward_with_16_bit_products_tracks_float32():
    x, h0, c0, w_ih, w_hh, b = (t.to("mlu") for t in layer_operands(seed=1))
    out = torch.ops.torch_mlu.lstm_layer(x, h0, c0, w_ih, w_hh, b, b, False)
    grad = torch.randn(out[0].shape, generator=torch.Generator().manual_seed(2)).to("mlu")
    grads = {}
    for products in (None, torch.bfloat16):
        grads[products] = torch.ops.torch_mlu.lstm_layer_backward(
            grad, None, None, x, h0, c0, w_ih, w_hh, False, out[0], out[3], out[4],
            products=products)
    for name, wide, narrow in zip(("input", "h0", "c0", "w_ih", "w_hh", "bias"),
                                  grads[None], grads[torch.bfloat16]):
        scale = wide.abs().max().item()
        torch.testing.assert_close(narrow.cpu(), wide.cpu(), rtol=0, atol=2e-2 * scale, msg=name)
        if LSTM16["bfloat16"] == "AMX" and name != "bias":  # the bias gradient sums in float32
            assert not torch.equal(narrow.cpu(), wide.cpu()), name


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_lstm_under_autocast_asks_for_16_bit_products(dtype):
    cpu, mlu = lstm_pair(num_layers=2, bidirectional=True)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(7, 3, 6, generator=g)
    state = tuple(torch.randn(4, 3, 5, generator=g) for _ in range(2))
    with torch.autocast("mlu", dtype=dtype), LayerCalls() as calls:
        got = run_lstm(mlu, x, state, "mlu")
    assert calls.products == [dtype] * 4
    assert got[0].dtype == torch.float32
    expected = run_lstm(cpu, x, state, "cpu")
    for i, (m, c) in enumerate(zip(got, expected)):
        torch.testing.assert_close(m.cpu(), c, rtol=3e-2, atol=3e-2, msg=f"result {i}")
    with LayerCalls() as calls:  # outside autocast: float32 products
        mlu(x.to("mlu"))
    assert calls.products == [None] * 4


def test_lstm_layer_rejects_products_it_cannot_take():
    x, h0, c0, w_ih, w_hh, b = (t.to("mlu") for t in layer_operands())
    with pytest.raises(RuntimeError, match="products must be float32, or float16 or bfloat16"):
        torch.ops.torch_mlu.lstm_layer(x, h0, c0, w_ih, w_hh, b, b, False, products=torch.float64)
    doubles = [t.double() for t in (x, h0, c0, w_ih, w_hh, b)]
    with pytest.raises(RuntimeError, match="for a Double layer"):
        torch.ops.torch_mlu.lstm_layer(*doubles[:5], doubles[5], doubles[5], False,
                                       products=torch.bfloat16)
    out, *_ = torch.ops.torch_mlu.lstm_layer(x, h0, c0, w_ih, w_hh, b, b, False)
    assert torch.isfinite(out).all()


def test_lstm_layer_rejects_mismatched_weights():
    x, h = torch.randn(4, 2, 6, device="mlu"), torch.zeros(2, 5, device="mlu")
    w = torch.randn(20, 5, device="mlu")
    with pytest.raises(RuntimeError, match=r"weights \[4 \* hidden, input_size\]"):
        torch.ops.torch_mlu.lstm_layer(x, h, h, w, torch.randn(20, 5, device="mlu"), None, None, False)
    out, *_ = torch.ops.torch_mlu.lstm_layer(x, h, h, torch.randn(20, 6, device="mlu"), w, None,
                                             None, False)
    assert out.shape == (4, 2, 5)


def test_lstm_layer_rejects_mixed_dtypes_and_bad_biases():
    x, h = torch.randn(4, 2, 6, device="mlu"), torch.zeros(2, 5, device="mlu")
    w_ih, w_hh = torch.randn(20, 6, device="mlu"), torch.randn(20, 5, device="mlu")
    with pytest.raises(RuntimeError, match="every operand must be Float"):
        torch.ops.torch_mlu.lstm_layer(x, h, h, w_ih.double(), w_hh, None, None, False)
    with pytest.raises(RuntimeError, match=r"biases of shape \[4 \* hidden\]"):
        torch.ops.torch_mlu.lstm_layer(x, h, h, w_ih, w_hh, torch.zeros(5, device="mlu"), None, False)
