"""The FFT on mlu (pocketfft in the kernel library): torch.fft, stft/istft and gradients against the
CPU, with zero CPU fallbacks; torchaudio's spectral transforms run natively."""

import pytest
import torch
import torch_mlu  # noqa: F401
from op_helpers import native


def randn(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, dtype=dtype, generator=g)


def close(got, expected):
    assert got.device.type == "mlu" and got.dtype == expected.dtype and got.shape == expected.shape
    tolerance = 1e-4 if expected.dtype in (torch.float32, torch.complex64) else 1e-10
    torch.testing.assert_close(got.cpu(), expected, rtol=tolerance, atol=tolerance)


TRANSFORMS = {
    "fft": lambda x: torch.fft.fft(x),
    "fft n padded": lambda x: torch.fft.fft(x, n=20),
    "fft n cropped, dim 0": lambda x: torch.fft.fft(x, n=5, dim=0),
    "ifft ortho": lambda x: torch.fft.ifft(x, norm="ortho"),
    "rfft": lambda x: torch.fft.rfft(x.real if x.is_complex() else x),
    "rfft forward": lambda x: torch.fft.rfft(x.real if x.is_complex() else x, norm="forward"),
    "irfft": lambda x: torch.fft.irfft(x),
    "irfft odd n": lambda x: torch.fft.irfft(x, n=13),
    "hfft": lambda x: torch.fft.hfft(x),
    "fft2": lambda x: torch.fft.fft2(x),
    "rfft2": lambda x: torch.fft.rfft2(x.real if x.is_complex() else x),
    "irfftn": lambda x: torch.fft.irfftn(x, s=(6, 14)),
    "fftn of a transpose": lambda x: torch.fft.fftn(x.t(), dim=(0,)),
    "fftshift of fft": lambda x: torch.fft.fftshift(torch.fft.fft(x)),
}


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128, torch.float32])
@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_match_cpu(name, dtype):
    x = randn(6, 16, dtype=dtype)
    fn = TRANSFORMS[name]
    with native():
        got = fn(x.to("mlu"))
    close(got, fn(x))


def test_batched_transform_large_enough_to_run_in_parallel_matches_cpu():
    x = randn(64, 8, 1024)
    with native():
        got = torch.fft.rfft(x.to("mlu"), dim=-1)
        back = torch.fft.irfft(got, n=1024)
    close(got, torch.fft.rfft(x))
    close(back, x)


def test_out_variants_and_strided_outputs():
    x = randn(4, 10, dtype=torch.complex64)
    out = torch.empty(10, 4, dtype=torch.complex64, device="mlu").t()  # a strided out
    with native():
        result = torch.fft.fft(x.to("mlu"), out=out)
    assert result is out
    close(out, torch.fft.fft(x))


def test_stft_and_istft_match_cpu_and_round_trip():
    signal = randn(2, 4000)
    window = torch.hann_window(400)
    kwargs = dict(n_fft=400, hop_length=160, window=window, return_complex=True)
    with native():
        spec = torch.stft(signal.to("mlu"), **{**kwargs, "window": window.to("mlu")})
        back = torch.istft(spec, n_fft=400, hop_length=160, window=window.to("mlu"),
                           length=4000)
    close(spec, torch.stft(signal, **kwargs))
    close(back, signal)


def test_gradients_through_the_fft_match_cpu():
    x = randn(3, 32)
    grads = []
    for device in ("cpu", "mlu"):
        xs = x.clone().to(device).requires_grad_()
        spectrum = torch.fft.rfft(xs * torch.linspace(0, 1, 32, device=device))
        loss = spectrum.abs().pow(2).sum() + torch.fft.irfft(spectrum * 1j, n=32).sum()
        loss.backward()
        grads.append(xs.grad.cpu())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-4)


def test_bad_input_is_refused_with_clear_errors():
    # A RuntimeError up to PyTorch 2.14, a TypeError from 2.15 on.
    with pytest.raises((RuntimeError, TypeError), match="rfft expects a real input tensor"):
        torch.fft.rfft(torch.ones(4, dtype=torch.complex64, device="mlu"))
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        torch.fft.fft(torch.ones(4, device="mlu"), n=0)
    with pytest.raises(RuntimeError, match="_fft_c2r on mlu takes complex64 or complex128"):
        torch.ops.aten._fft_c2r(torch.ones(3, 4, device="mlu"), [1], 0, 6)
    torch.testing.assert_close(torch.fft.fft(torch.ones(4, device="mlu")).cpu(),
                               torch.fft.fft(torch.ones(4)))


@pytest.mark.parametrize("make", [
    lambda T: T.Spectrogram(n_fft=256),
    lambda T: T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40),
    lambda T: T.MFCC(sample_rate=16000, n_mfcc=13,
                     melkwargs=dict(n_fft=400, hop_length=160, n_mels=40)),
    lambda T: torch.nn.Sequential(T.Spectrogram(n_fft=256, power=None),
                                  T.InverseSpectrogram(n_fft=256)),
    lambda T: torch.nn.Sequential(T.Spectrogram(n_fft=256),
                                  T.GriffinLim(n_fft=256, n_iter=4, rand_init=False)),
], ids=["Spectrogram", "MelSpectrogram", "MFCC", "InverseSpectrogram", "GriffinLim"])
def test_torchaudio_transforms_run_natively_and_match_cpu(make):
    pytest.importorskip("torchaudio", reason="torchaudio is not installed in this lane (Debian's "
                        "lanes have python3-torchaudio; the pypi lane does not)")
    import torchaudio.transforms as T

    waveform = randn(2, 8000)
    transform = make(T)
    expected = transform(waveform)
    transform.to("mlu")
    with native():
        got = transform(waveform.to("mlu"))
    assert got.device.type == "mlu" and got.shape == expected.shape
    scale = expected.abs().max().item()
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-3, atol=1e-4 * scale)
