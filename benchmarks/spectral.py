"""Speech front ends on mlu against PyTorch CPU: the FFT and torchaudio's spectral transforms, on
a batch of one-second 16 kHz waveforms. Medians of alternating runs in this process (mlu, CPU
with one thread, CPU with the default threads), the CPU baseline being the better of the two.

    tools/devenv python3 benchmarks/spectral.py [--quick]
"""

import argparse

import torch

import torch_mlu  # noqa: F401
from run import DEFAULT_THREADS, alternate, best_cpu, configurations, standard


def cases():
    import torchaudio.transforms as T

    frames = dict(n_fft=400, hop_length=160)

    def transform_runner(make_transform, batch):
        def make(device):
            waveform = torch.randn(batch, 16000, device=device)
            transform = make_transform().to(device)
            return lambda: transform(waveform)
        return make

    def rfft_runner(device):
        x = torch.randn(64, 8, 1024, device=device)
        return lambda: torch.fft.irfft(torch.fft.rfft(x), n=1024)

    return {
        "rfft+irfft 512x1024": rfft_runner,
        "MelSpectrogram b8": transform_runner(
            lambda: T.MelSpectrogram(sample_rate=16000, n_mels=80, **frames), 8),
        "MFCC b8": transform_runner(
            lambda: T.MFCC(sample_rate=16000, n_mfcc=13, melkwargs=dict(frames, n_mels=40)), 8),
        "GriffinLim 8 iters b2": transform_runner(
            lambda: torch.nn.Sequential(T.Spectrogram(n_fft=400, hop_length=160),
                                        T.GriffinLim(n_fft=400, hop_length=160, n_iter=8,
                                                     rand_init=False)), 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeats, warmup = (5, 1) if args.quick else (15, 3)
    print(f"torch {torch.__version__}, {DEFAULT_THREADS} default threads, median of {repeats}")
    labels = [label for label, _, _ in configurations()]
    print(f"{'case':<24}" + "".join(f"{label:>10}" for label in labels) + f"{'speedup':>9}"
          "  fallback calls")
    for name, make in cases().items():
        torch.mlu.reset_fallback_stats()
        medians = alternate(standard(make), repeats, warmup)
        calls = sum(s["calls"] for s in torch.mlu.fallback_stats().values())
        cells = "".join(f"{medians[label] * 1e3:>8.2f}ms" for label in labels)
        print(f"{name:<24}{cells}{best_cpu(medians) / medians['mlu']:>8.2f}x  {calls}")


if __name__ == "__main__":
    main()
