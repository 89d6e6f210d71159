"""Error paths not covered elsewhere: each raises a clear Python exception and leaves the device
usable."""

import pytest
import torch


def device_still_works():
    x = torch.arange(4.0, device="mlu") * 2
    torch.mlu.synchronize()
    return x.cpu().tolist() == [0.0, 2.0, 4.0, 6.0]


@pytest.mark.parametrize("dtype", [torch.uint16, torch.float8_e4m3fn], ids=str)
def test_unsupported_dtype_in_device_kernels_names_it(dtype):
    name = {torch.uint16: "UInt16", torch.float8_e4m3fn: "Float8_e4m3fn"}[dtype]
    with pytest.raises((TypeError, RuntimeError), match=name):
        torch.zeros(4, device="mlu").to(dtype)
    assert device_still_works()


def test_complex_operands_of_an_operator_without_complex_numbers_raise_as_on_the_cpu():
    z = torch.ones(2, 2, dtype=torch.complex64).to("mlu")  # complex storage and copies work
    with pytest.raises(RuntimeError, match="clamp is not supported for complex types"):
        torch.clamp(z, 0, 1)
    with pytest.raises(RuntimeError, match="clamp is not supported for complex types"):
        torch.relu(z)
    assert device_still_works()


def test_pinned_device_tensors_and_compressed_sparse_layouts_are_rejected():
    with pytest.raises(RuntimeError, match="pinned"):
        torch.empty(2, device="mlu", pin_memory=True)
    # Sparse COO works on mlu (tests/test_sparse.py); the compressed layouts have no kernels.
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.empty(2, 2, device="mlu", layout=torch.sparse_csr)
    assert device_still_works()


def test_cpu_errors_inside_the_fallback_propagate():
    a = torch.ones(2, 3, device="mlu")
    with pytest.raises(RuntimeError, match="must match the size"):
        a + torch.ones(3, 3, device="mlu")
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        a @ a
    # raised by the CPU kernel at once, or by a native kernel at the next synchronisation
    with pytest.raises(RuntimeError, match="ZeroDivisionError|division by zero"):
        torch.ones(2, dtype=torch.int64, device="mlu") // 0
        torch.mlu.synchronize()
    assert device_still_works()


def test_view_and_item_errors_match_cpu():
    x = torch.ones(2, 3, device="mlu")
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(6)
    with pytest.raises(RuntimeError, match="0 elements"):
        torch.ones(0, device="mlu").item()
    with pytest.raises(RuntimeError):
        torch.ones(2, device="mlu").resize_(-1)
    assert device_still_works()


def test_contiguous_tensors_of_any_rank_fill_and_convert():
    x = torch.zeros([2] * 17, dtype=torch.uint8, device="mlu")     # more dims than kernels take
    assert x.cpu().sum().item() == 0
    x.fill_(3)
    y = x.to(torch.float32)
    assert y.dtype == torch.float32 and torch.equal(y.cpu(), torch.full([2] * 17, 3.0))


def test_too_many_dimensions_for_a_strided_device_copy():
    x = torch.zeros([2] * 17, dtype=torch.uint8, device="mlu")
    with pytest.raises(RuntimeError, match="at most 16 dimensions"):
        x.permute(*reversed(range(17))).contiguous()
    # sixteen is fine
    y = torch.arange(2**16).view([2] * 16)
    z = y.to("mlu").permute(*reversed(range(16))).contiguous()
    assert torch.equal(z.cpu(), y.permute(*reversed(range(16))).contiguous())
    assert device_still_works()


def test_torch_mlu_rejects_non_mlu_devices():
    with pytest.raises(ValueError, match="mlu device"):
        torch.mlu.get_device_properties("cpu")
    with pytest.raises(ValueError, match="mlu device"):
        torch.mlu.set_device("cpu")


def test_invalid_stream_and_event_use():
    s = torch.mlu.Stream()
    bogus = torch.mlu.Stream(stream_id=1000, device_index=0, device_type=s.device_type)
    with pytest.raises(RuntimeError, match="stream id"):
        torch.mlu.set_stream(bogus)
    assert torch.mlu.current_stream() == torch.mlu.default_stream()
    e = torch.mlu.Event()
    e.record(torch.mlu.Stream(device=0))
    with pytest.raises(RuntimeError, match="does not match"):
        e.record(torch.mlu.Stream(device=1))
    with pytest.raises(RuntimeError, match="mlu stream"):
        torch.ones(2, device="mlu").record_stream(torch.Stream(device="cpu"))
    assert device_still_works()


def test_operator_without_mlu_tensor_argument_is_not_misrouted():
    # a factory with device="mlu" reaches the fallback through its device argument
    x = torch.linspace(0, 1, 5, device="mlu")
    assert x.device.type == "mlu"
    torch.testing.assert_close(x.cpu(), torch.linspace(0, 1, 5))
    e = torch.eye(3, device="mlu:1")
    assert e.device == torch.device("mlu", 1) and torch.equal(e.cpu(), torch.eye(3))
