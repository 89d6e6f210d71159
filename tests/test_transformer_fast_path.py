"""The Transformer inference fast path native on mlu: nn.TransformerEncoder(Layer) and
nn.MultiheadAttention in eval mode under no_grad (_transformer_encoder_layer_fwd,
_native_multi_head_attention, _masked_softmax, and the nested tensors a key padding mask makes),
against the CPU, with no CPU fallback."""

import pytest
import torch
from torch import nn

TOL = dict(atol=2e-5, rtol=2e-5)


pytestmark = pytest.mark.usefixtures("no_cpu_fallback")


def ran(operator, fn):
    """fn()'s result and whether the operator was dispatched while it ran."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        result = fn()
    return result, any(event.name == operator for event in prof.events())


def padding_mask(batch, length, lengths):
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for i, n in enumerate(lengths):
        mask[i, n:] = True
    return mask


def dense(t):
    return t.to_padded_tensor(0.0) if t.is_nested else t


ENCODER_CASES = {
    "plain": {},
    "padding": {"src_key_padding_mask": padding_mask(3, 7, [7, 5, 2])},
    "causal": {"mask": nn.Transformer.generate_square_subsequent_mask(7)},
    "causal_and_padding": {"mask": nn.Transformer.generate_square_subsequent_mask(7),
                           "src_key_padding_mask": padding_mask(3, 7, [7, 5, 2])},
}


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("case", sorted(ENCODER_CASES))
def test_encoder_fast_path_matches_the_cpu(case, activation, norm_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, activation=activation, batch_first=True,
                                       norm_first=norm_first)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=not norm_first).eval()
    x = torch.randn(3, 7, 32)
    inputs = ENCODER_CASES[case]
    with torch.no_grad():
        expected = dense(encoder(x, **inputs))
        encoder.to("mlu")
        actual, fast = ran("aten::_transformer_encoder_layer_fwd",
                           lambda: encoder(x.to("mlu"), **{k: v.to("mlu") for k, v in inputs.items()}))
    assert fast, "the encoder did not take the fast path"
    torch.testing.assert_close(dense(actual).cpu(), expected, **TOL)


def test_padded_positions_come_back_as_zeros_as_on_the_cpu():
    torch.manual_seed(1)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 1).eval()
    x, mask = torch.randn(2, 5, 16), padding_mask(2, 5, [5, 3])
    with torch.no_grad():
        out = encoder.to("mlu")(x.to("mlu"), src_key_padding_mask=mask.to("mlu")).cpu()
    assert torch.equal(out[1, 3:], torch.zeros(2, 16))
    assert out[1, :3].abs().sum() > 0


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("masks", ["none", "padding", "attn"])
def test_multi_head_attention_fast_path_matches_the_cpu(masks, need_weights):
    torch.manual_seed(2)
    attention = nn.MultiheadAttention(24, 4, batch_first=True).eval()  # fast path: even heads
    x = torch.randn(2, 6, 24)
    kwargs = {"need_weights": need_weights}
    if masks == "padding":
        kwargs["key_padding_mask"] = padding_mask(2, 6, [6, 4])
    elif masks == "attn":
        kwargs["attn_mask"] = torch.rand(6, 6, generator=torch.Generator().manual_seed(3)) > 0.6
        kwargs["attn_mask"].fill_diagonal_(False)  # every query may attend to itself
    with torch.no_grad():
        expected = attention(x, x, x, **kwargs)
        attention.to("mlu")
        moved = {k: v.to("mlu") if torch.is_tensor(v) else v for k, v in kwargs.items()}
        xm = x.to("mlu")
        actual, fast = ran("aten::_native_multi_head_attention", lambda: attention(xm, xm, xm, **moved))
    assert fast
    torch.testing.assert_close(actual[0].cpu(), expected[0], **TOL)
    if need_weights:
        torch.testing.assert_close(actual[1].cpu(), expected[1], **TOL)
    else:
        assert actual[1] is None and expected[1] is None


@pytest.mark.parametrize("mask_type", [0, 1, 2, None])
def test_masked_softmax_matches_the_cpu_including_fully_masked_rows(mask_type):
    g = torch.Generator().manual_seed(4)
    scores = torch.randn(2, 3, 5, 5, generator=g)
    if mask_type == 0:
        mask = torch.rand(5, 5, generator=g) > 0.5
        mask[1] = True  # a query that may attend nothing
    elif mask_type == 1:
        mask = torch.rand(2, 5, generator=g) > 0.5
        mask[0] = True
    else:
        mask = torch.rand(2, 3, 5, 5, generator=g) > 0.5
        mask[0, 1, 2] = True
    expected = torch._masked_softmax(scores, mask, 3, mask_type)
    actual = torch._masked_softmax(scores.to("mlu"), mask.to("mlu"), 3, mask_type).cpu()
    # A query that may attend nothing: NaN on the CPU (every version here), so on mlu too.
    torch.testing.assert_close(actual, expected, equal_nan=True, **TOL)
    assert actual.isnan().any() and not actual.isnan().all()


def test_masked_softmax_backward_matches_the_cpu():
    g = torch.Generator().manual_seed(5)
    scores, mask = torch.randn(2, 4, 6, generator=g), torch.rand(2, 4, 6, generator=g) > 0.6
    mask[..., 0] = False  # no row fully masked: the CPU's backward of one is NaN
    out = torch._masked_softmax(scores, mask, 2)
    grad = torch.randn(2, 4, 6, generator=g)
    expected = torch.ops.aten._masked_softmax_backward(grad, out, mask, 2)
    actual = torch.ops.aten._masked_softmax_backward(grad.to("mlu"), out.to("mlu"), mask.to("mlu"), 2)
    torch.testing.assert_close(actual.cpu(), expected, **TOL)


def test_bad_masks_raise_clear_errors():
    scores = torch.randn(2, 3, 4, 4, device="mlu")
    with pytest.raises(RuntimeError, match="boolean"):
        torch._masked_softmax(scores, torch.zeros(4, 4, device="mlu"), 3, 0)
    with pytest.raises(RuntimeError, match=r"mask_type == 1 the mask shape should be \(B, L\)"):
        torch._masked_softmax(scores, torch.zeros(3, 4, dtype=torch.bool, device="mlu"), 3, 1)
    x = torch.randn(2, 4, 8, device="mlu")
    right_aligned = torch.tensor([[False, True, True, True], [True, True, True, True]], device="mlu")
    assert not torch._nested_tensor_from_mask_left_aligned(x, right_aligned)
    with pytest.raises(RuntimeError, match="not left-aligned"):
        torch._nested_tensor_from_mask(x, right_aligned)
    assert torch.equal(torch._masked_softmax(scores, torch.zeros(4, 4, dtype=torch.bool, device="mlu"),
                                             3, 0).cpu(), torch.softmax(scores.cpu(), 3))
