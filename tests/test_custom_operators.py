"""The torch_mlu:: operators are whole in C++: each has its schema, device kernel, meta kernel
(fake tensors for torch.compile), derivative and autocast rule registered from csrc/ops, and the
meta kernels give exactly the shapes, strides and dtypes the device kernels return."""

import contextlib

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

OPERATORS = ["torch_mlu::linear_act", "torch_mlu::conv_relu", "torch_mlu::lstm_layer",
             "torch_mlu::lstm_layer_backward"]


def registrations(name):
    """{dispatch key: where its kernel was registered} from the dispatcher's own table."""
    table = {}
    for line in torch._C._dispatch_dump(name).splitlines():
        key, sep, rest = line.partition(": registered at ")
        if sep:
            table[key] = rest.split(" :: ")[0]
    return table


def test_every_operator_of_the_library_is_listed_here():
    ours = sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith("torch_mlu::"))
    assert ours == sorted(OPERATORS)


@pytest.mark.parametrize("name", OPERATORS)
def test_each_operator_is_registered_whole_from_csrc(name):
    table = registrations(name)
    for key in ("PrivateUse1", "Meta", "AutogradPrivateUse1", "AutocastPrivateUse1"):
        assert key in table, (name, key, table)
        # A Python registration shows up as /dev/null; fallthroughs have no location.
        assert "/dev/null" not in table[key], (name, key, table[key])
    # One file per operator: its schema and kernels live together.
    files = {where.split(":")[0] for where in table.values() if "csrc/ops/" in where}
    assert len(files) == 1, table


def test_nn_lstm_on_mlu_is_a_csrc_registration():
    table = registrations("aten::lstm.input")
    for key in ("PrivateUse1", "AutogradPrivateUse1"):
        assert "csrc/ops/lstm.cpp" in table[key], table


def fake_matches_real(op, *args):
    """Runs op on mlu tensors and on fake copies of them; compares shapes, strides and dtypes."""
    real = op(*args)
    mode = FakeTensorMode()
    fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
    with mode:
        fake = op(*fake_args)
    real = real if isinstance(real, (tuple, list)) else [real]
    fake = fake if isinstance(fake, (tuple, list)) else [fake]
    assert len(real) == len(fake)
    for r, f in zip(real, fake):
        assert f.device == r.device
        assert (f.shape, f.stride(), f.dtype) == (r.shape, r.stride(), r.dtype)


@pytest.mark.parametrize("keep", [False, True])
def test_linear_act_meta_kernel_agrees_with_the_device(keep):
    x, w, b = (torch.randn(*s, device="mlu") for s in ((2, 3, 8), (5, 8), (5,)))
    fake_matches_real(torch.ops.torch_mlu.linear_act, x, w, b, "gelu", keep)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_conv_relu_meta_kernel_agrees_with_the_device(layout):
    x = torch.randn(2, 3, 9, 9, device="mlu").to(memory_format=layout)
    w = torch.randn(4, 3, 3, 3, device="mlu")
    fake_matches_real(torch.ops.torch_mlu.conv_relu, x, w, None, [2, 2], [1, 1], [1, 1], 1)


def test_lstm_layer_and_its_backward_meta_kernels_agree_with_the_device():
    steps, batch, features, hidden = 5, 3, 4, 6
    x = torch.randn(steps, batch, features, device="mlu")
    h0, c0 = torch.zeros(batch, hidden, device="mlu"), torch.zeros(batch, hidden, device="mlu")
    w_ih = torch.randn(4 * hidden, features, device="mlu")
    w_hh = torch.randn(4 * hidden, hidden, device="mlu")
    b = torch.randn(4 * hidden, device="mlu")
    fake_matches_real(torch.ops.torch_mlu.lstm_layer, x, h0, c0, w_ih, w_hh, b, b, False)
    out, _, _, gates, cells = torch.ops.torch_mlu.lstm_layer(x, h0, c0, w_ih, w_hh, b, b, False)
    fake_matches_real(torch.ops.torch_mlu.lstm_layer_backward, torch.ones_like(out), None, None,
                      x, h0, c0, w_ih, w_hh, False, out, gates, cells)


def test_lstm_layer_meta_kernel_checks_as_the_device_does():
    x = torch.randn(5, 3, 4, device="mlu")
    h0 = torch.zeros(3, 6, device="mlu")
    bad_w_ih = torch.randn(24, 7, device="mlu")  # input_size 7, not 4
    w_hh = torch.randn(24, 6, device="mlu")
    mode = FakeTensorMode()
    fakes = [mode.from_tensor(t) for t in (x, h0, h0, bad_w_ih, w_hh)]
    for args in ((x, h0, h0, bad_w_ih, w_hh), fakes):
        with mode if args is fakes else contextlib.nullcontext():
            with pytest.raises(RuntimeError, match=r"lstm_layer: expected weights \[4 \* hidden"):
                torch.ops.torch_mlu.lstm_layer(*args, None, None, False)


def test_lstm_layer_under_autocast_runs_in_float32():
    x = torch.randn(4, 2, 3, device="mlu", dtype=torch.float16)
    h0 = torch.zeros(2, 5, device="mlu", dtype=torch.float16)
    w_ih, w_hh = torch.randn(20, 3, device="mlu"), torch.randn(20, 5, device="mlu")
    with torch.autocast("mlu", dtype=torch.float16):
        out, hy, cy, _, _ = torch.ops.torch_mlu.lstm_layer(x, h0, h0, w_ih, w_hh, None, None, True)
    assert out.dtype == hy.dtype == cy.dtype == torch.float32
    want = torch.ops.torch_mlu.lstm_layer(x.float(), h0.float(), h0.float(), w_ih, w_hh, None,
                                          None, True)[0]
    torch.testing.assert_close(out.cpu(), want.cpu())
    with pytest.raises(RuntimeError, match="lstm_layer: expected float32 or float64, got Half"):
        torch.ops.torch_mlu.lstm_layer(x, h0.float(), h0.float(), w_ih, w_hh, None, None, True)


def test_the_activation_list_comes_from_the_kernels():
    import torch_mlu

    names = torch_mlu._C._fused_activations()
    assert names == ["none", "relu", "gelu", "gelu_tanh", "silu"]
    x, w = torch.randn(3, 4, device="mlu"), torch.randn(2, 4, device="mlu")
    for name in names:
        torch.ops.torch_mlu.linear_act(x, w, None, name)
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        torch.ops.torch_mlu.linear_act(x, w, None, "tanh")
