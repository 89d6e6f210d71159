"""Tensors on mlu: creation, transfers for every dtype, copies, views and storage operations."""

import math
import pytest
import torch

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int16,
          torch.int32, torch.int64, torch.uint8, torch.bool]


def sample(dtype, shape=(3, 5), seed=0):
    """Distinctive CPU values of the dtype, including negatives and extremes where they exist."""
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g) * 100).to(dtype)
    info = torch.iinfo(dtype)
    t = torch.randint(max(info.min, -1000), min(info.max, 1000) + 1, shape, generator=g, dtype=dtype)
    t.view(-1)[0] = info.max
    t.view(-1)[1] = info.min
    return t


def test_factories_on_mlu():
    e = torch.empty(2, 3, device="mlu")
    assert e.device == torch.device("mlu", 0) and e.shape == (2, 3) and e.dtype == torch.float32
    assert torch.equal(torch.zeros(2, 3, device="mlu").cpu(), torch.zeros(2, 3))
    assert torch.equal(torch.ones(4, dtype=torch.int16, device="mlu").cpu(),
                       torch.ones(4, dtype=torch.int16))
    assert torch.equal(torch.full((2, 2), 7.5, device="mlu").cpu(), torch.full((2, 2), 7.5))
    assert torch.equal(torch.full((3,), 255, dtype=torch.uint8, device="mlu").cpu(),
                       torch.full((3,), 255, dtype=torch.uint8))
    assert torch.equal(torch.full((2,), True, device="mlu").cpu(), torch.tensor([True, True]))
    assert torch.equal(torch.arange(5, device="mlu").cpu(), torch.arange(5))
    assert torch.equal(torch.arange(1, 2, 0.25, device="mlu").cpu(), torch.arange(1, 2, 0.25))
    assert torch.equal(torch.tensor([[1, 2], [3, 4]], device="mlu").cpu(),
                       torch.tensor([[1, 2], [3, 4]]))
    r = torch.randn(4, 4)
    assert torch.equal(r.to("mlu").cpu(), r)
    assert torch.zeros(1, device="mlu:1").device == torch.device("mlu", 1)


def test_int64_fill_keeps_all_bits():
    big = 2**62 + 12345
    assert torch.full((2,), big, dtype=torch.int64, device="mlu").cpu().tolist() == [big, big]
    assert torch.full((1,), -1, dtype=torch.int64, device="mlu").item() == -1


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_every_dtype(dtype):
    cpu = sample(dtype)
    dev = cpu.to("mlu")
    assert dev.device.type == "mlu" and dev.dtype == dtype and dev.shape == cpu.shape
    back = dev.cpu()
    assert back.dtype == dtype
    assert torch.equal(back, cpu)
    assert torch.equal(cpu.mlu().to("cpu"), cpu)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_on_device_dtype_conversion_matches_cpu(dtype):
    cpu = sample(torch.float32) / 10
    dev = cpu.to("mlu")
    converted = dev.to(dtype)
    assert converted.device.type == "mlu" and converted.dtype == dtype
    assert torch.equal(converted.cpu(), cpu.to(dtype))
    # and back again, from every dtype to float32
    assert torch.equal(converted.to(torch.float32).cpu(), cpu.to(dtype).to(torch.float32))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_rounding_float32_to_16_bits_matches_cpu_bit_for_bit(dtype):
    # Long runs take the vectorised conversions, the tail the scalar one: ties to even, values
    # that round up to infinity, subnormals, signed zeros and infinities bit for bit; NaN stays
    # NaN (its bits are not specified: PyTorch CPU's bfloat16 NaN is 0xffff or 0x7fc0).
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(-2**31, 2**31, (1000,), generator=g, dtype=torch.int64).to(torch.int32)
    special = torch.tensor([1 + 2**-8, 1 + 3 * 2**-8, 3.3895e38, 3.4e38, 65519.0, 65520.0, 1e-40,
                            -1e-45, 6e-8, -0.0, 0.0, math.inf, -math.inf, math.nan, -math.nan])
    cpu = torch.cat([bits.view(torch.float32), special, special.flip(0)])
    for length in (cpu.numel(), 31, 25, 23, 7):
        x = cpu[:length]
        got, expected = x.to("mlu").to(dtype).cpu(), x.to(dtype)
        nan = x.isnan()
        assert torch.equal(got.isnan(), nan)
        assert torch.equal(got[~nan].view(torch.int16), expected[~nan].view(torch.int16)), dtype


def test_mixed_dtype_copies_across_host_and_device():
    cpu = torch.arange(-5, 5, dtype=torch.int32)
    dst = torch.empty(10, dtype=torch.float16, device="mlu")
    dst.copy_(cpu)
    assert torch.equal(dst.cpu(), cpu.to(torch.float16))
    host = torch.empty(10, dtype=torch.int64)
    host.copy_(dst)
    assert torch.equal(host, cpu.to(torch.int64))


def test_is_mlu_tensor_mlu_and_module_mlu():
    x = torch.ones(3)
    assert not x.is_mlu
    y = x.mlu()
    assert y.is_mlu and y.device == torch.device("mlu", 0)
    assert x.mlu(1).device == torch.device("mlu", 1)
    m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).mlu()
    assert all(p.is_mlu for p in m.parameters())
    assert all(b.is_mlu for b in m.buffers())
    assert m.cpu()[0].weight.device.type == "cpu"


@pytest.mark.parametrize("make", [
    lambda t: t.t(),
    lambda t: t[:, ::2],
    lambda t: t[1:, 1::3],
    lambda t: t.unsqueeze(0).expand(3, -1, -1),
    lambda t: t[:, :1].expand(-1, 7),
    lambda t: t.t()[::2],
], ids=["transposed", "step", "offset-step", "expanded", "broadcast-column", "t-step"])
def test_noncontiguous_copies_both_directions(make):
    base = torch.arange(42, dtype=torch.float32).view(6, 7)
    expected = make(base)
    up = make(base.to("mlu"))  # a non-contiguous device tensor
    assert not up.is_contiguous()
    assert torch.equal(up.cpu(), expected)                     # device -> host
    assert torch.equal(expected.to("mlu").cpu(), expected)     # non-contiguous host -> device
    assert torch.equal(up.contiguous().cpu(), expected)         # device -> device (layout)
    dims = list(reversed(range(expected.dim())))
    dst = torch.zeros(tuple(reversed(expected.shape)), device="mlu").permute(dims)
    dst.copy_(expected)                                        # into a permuted destination
    assert torch.equal(dst.cpu(), expected)
    dst.zero_()
    dst.copy_(up)
    assert torch.equal(dst.cpu(), expected)


def test_copy_into_noncontiguous_destinations():
    src = torch.arange(12.0).view(3, 4)
    dev = torch.zeros(4, 3, device="mlu")
    dev.t().copy_(src)                           # host -> non-contiguous device
    assert torch.equal(dev.cpu(), src.t())
    host = torch.zeros(4, 3)
    host.t().copy_(src.to("mlu"))               # device -> non-contiguous host
    assert torch.equal(host, src.t())
    strided = torch.zeros(3, 8, device="mlu")
    strided[:, ::2].copy_(src.to("mlu"))        # device -> non-contiguous device
    expected = torch.zeros(3, 8)
    expected[:, ::2] = src
    assert torch.equal(strided.cpu(), expected)


def test_broadcasting_copy_sources():
    row = torch.arange(4.0)
    dev = torch.empty(3, 4, device="mlu")
    dev.copy_(row)                                       # expand a host source
    assert torch.equal(dev.cpu(), row.expand(3, 4))
    host = torch.empty(3, 4)
    host.copy_(row.to("mlu"))                            # expand a device source
    assert torch.equal(host, row.expand(3, 4))
    dev2 = torch.empty(3, 4, device="mlu")
    dev2.copy_(torch.tensor(5.0, device="mlu"))          # 0-d device source
    assert torch.equal(dev2.cpu(), torch.full((3, 4), 5.0))


def test_cross_device_copies():
    cpu = torch.randn(5, 6)
    a = cpu.to("mlu:0")
    b = a.to("mlu:1")
    assert b.device == torch.device("mlu", 1)
    assert torch.equal(b.cpu(), cpu)
    c = b.t().to("mlu:0")                               # non-contiguous source across devices
    assert c.device.index == 0 and torch.equal(c.cpu(), cpu.t())
    d = a.to("mlu:1", dtype=torch.float64)               # with a dtype change
    assert d.device.index == 1 and torch.equal(d.cpu(), cpu.double())
    e = torch.zeros(6, 5, device="mlu:1")
    e.t().copy_(a)                                       # into a non-contiguous destination
    assert torch.equal(e.cpu(), cpu.t())


def test_views_share_storage_with_base():
    base = torch.arange(12.0, device="mlu").view(3, 4)
    flat = base.view(12)
    flat[0] = 100.0
    assert base[0, 0].item() == 100.0
    base.t()[1].fill_(-1.0)                     # column 1
    assert base[:, 1].cpu().tolist() == [-1.0, -1.0, -1.0]
    diag = base.as_strided((3,), (5,))
    diag.zero_()
    assert [base[i, i].item() for i in range(3)] == [0.0, 0.0, 0.0]
    windows = base.view(12).unfold(0, 4, 2)
    assert windows.shape == (5, 4)
    assert torch.equal(windows.cpu(), base.cpu().view(12).unfold(0, 4, 2))
    windows[1, 0] = 42.0                         # element 2 of the base
    assert base.view(12)[2].item() == 42.0
    reshaped = base.reshape(2, 6)
    assert reshaped.data_ptr() == base.data_ptr()
    reshaped[1, 5] = 7.0
    assert base[2, 3].item() == 7.0
    for v in (flat, diag, windows, reshaped, base.t()):
        assert v.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()


def test_reshape_of_noncontiguous_copies():
    base = torch.arange(12.0, device="mlu").view(3, 4)
    r = base.t().reshape(12)
    assert r.data_ptr() != base.data_ptr()
    assert torch.equal(r.cpu(), torch.arange(12.0).view(3, 4).t().reshape(12))


def test_resize_grows_and_keeps_contents():
    x = torch.arange(4.0, device="mlu")
    bytes_before = x.untyped_storage().nbytes()
    x.resize_(3, 5)
    assert x.shape == (3, 5) and x.is_contiguous()
    assert x.untyped_storage().nbytes() >= 15 * 4 > bytes_before
    assert x.view(-1)[:4].cpu().tolist() == [0.0, 1.0, 2.0, 3.0]
    x.resize_(2)
    assert x.shape == (2,) and x.cpu().tolist() == [0.0, 1.0]
    y = torch.empty(0, device="mlu")
    y.resize_(0)
    assert y.numel() == 0


def test_set_storage_and_tensor():
    base = torch.arange(10.0, device="mlu")
    y = torch.empty(0, device="mlu")
    y.set_(base.untyped_storage(), 2, (2, 3), (3, 1))
    assert y.shape == (2, 3)
    assert torch.equal(y.cpu(), torch.arange(10.0).as_strided((2, 3), (3, 1), 2))
    y[0, 0] = -5.0
    assert base[2].item() == -5.0
    z = torch.empty(0, device="mlu").set_(base)
    assert z.shape == base.shape and z.data_ptr() == base.data_ptr()
    w = torch.empty(0, device="mlu").set_(base.untyped_storage())
    assert w.shape == (10,) and torch.equal(w.cpu(), base.cpu())
    e = torch.ones(3, device="mlu").set_()
    assert e.shape == (0,) and e.device.type == "mlu"


def test_set_rejects_storage_of_another_device():
    other = torch.arange(4.0, device="mlu:1")
    with pytest.raises(RuntimeError):
        torch.empty(0, device="mlu:0").set_(other.untyped_storage())


def test_fill_and_zero():
    for dtype in DTYPES:
        x = torch.empty(2, 3, dtype=dtype, device="mlu")
        x.fill_(1)
        assert torch.equal(x.cpu(), torch.ones(2, 3, dtype=dtype)), dtype
        x.zero_()
        assert torch.equal(x.cpu(), torch.zeros(2, 3, dtype=dtype)), dtype
    f = torch.empty(3, device="mlu").fill_(2.5)
    assert f.cpu().tolist() == [2.5, 2.5, 2.5]
    h = torch.empty(3, dtype=torch.float16, device="mlu").fill_(-0.125)
    assert torch.equal(h.cpu(), torch.full((3,), -0.125, dtype=torch.float16))
    strided = torch.zeros(4, 4, device="mlu")
    strided[:, 1].fill_(9.0)                      # non-contiguous fill
    expected = torch.zeros(4, 4)
    expected[:, 1] = 9.0
    assert torch.equal(strided.cpu(), expected)
    big = torch.empty(2, device="mlu").fill_(torch.tensor(3.0))
    assert big.cpu().tolist() == [3.0, 3.0]


def test_item():
    assert torch.tensor(3.5, device="mlu").item() == 3.5
    assert torch.tensor([7], dtype=torch.int64, device="mlu").item() == 7
    assert torch.tensor(True, device="mlu").item() is True
    x = torch.arange(6, device="mlu")
    assert x[4].item() == 4
    assert torch.tensor(1.5, dtype=torch.bfloat16, device="mlu").item() == 1.5
    with pytest.raises(RuntimeError):
        x.item()


def test_empty_and_zero_dim_tensors():
    e = torch.empty(0, 3, device="mlu")
    assert e.shape == (0, 3) and e.numel() == 0
    assert e.cpu().shape == (0, 3)
    assert torch.empty(0).to("mlu").shape == (0,)
    assert torch.zeros(0, device="mlu").fill_(1).numel() == 0
    assert e.to(torch.int8).dtype == torch.int8
    s = torch.tensor(2.0).to("mlu")
    assert s.dim() == 0 and s.shape == ()
    assert s.cpu().dim() == 0 and s.item() == 2.0
    z = torch.zeros((), device="mlu")
    z.fill_(4)
    assert z.item() == 4.0
    assert torch.empty(0, device="mlu").to("mlu:1").device.index == 1
