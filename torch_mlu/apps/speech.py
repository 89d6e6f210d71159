"""Speech: recognition (a mel front end, a Conformer and CTC) and synthesis (a WaveRNN vocoder),
with torchaudio's transforms and models."""

import torch
import torch.nn.functional as F
from torch import nn

from .runner import App

SAMPLE_RATE, MELS, TOKENS = 8000, 40, 20


class Recognizer(nn.Module):
    """Waveform -> log-mel frames -> Conformer -> per-frame token log-probabilities."""

    def __init__(self):
        super().__init__()
        import torchaudio
        self.mel = torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=256, hop_length=80,
                                                        n_mels=MELS)
        self.conformer = torchaudio.models.Conformer(
            input_dim=MELS, num_heads=4, ffn_dim=64, num_layers=2, depthwise_conv_kernel_size=7)
        self.head = nn.Linear(MELS, TOKENS + 1)  # token 0 is CTC's blank

    def forward(self, waveform, lengths):
        frames = (self.mel(waveform) + 1e-6).log().transpose(1, 2)  # [B, T, mels]
        frame_lengths = lengths // 80 + 1
        encoded, frame_lengths = self.conformer(frames, frame_lengths)
        return self.head(encoded).log_softmax(-1), frame_lengths


def speech_batch(generator, quick):
    batch = 2 if quick else 4
    waveform = torch.randn(batch, SAMPLE_RATE // 2, generator=generator) * 0.1
    lengths = torch.full((batch,), SAMPLE_RATE // 2)
    lengths[1:] -= torch.randint(0, SAMPLE_RATE // 8, (batch - 1,), generator=generator)
    targets = torch.randint(1, TOKENS + 1, (batch, 12), generator=generator)
    return waveform, lengths, targets


def ctc(model, batch):
    waveform, lengths, targets = batch
    log_probs, frame_lengths = model(waveform, lengths)
    target_lengths = torch.full((targets.shape[0],), targets.shape[1], device=targets.device)
    return F.ctc_loss(log_probs.transpose(0, 1), targets, frame_lengths, target_lengths)


HOP, FREQ = 16, 40


def vocoder(quick):
    import torchaudio
    return torchaudio.models.WaveRNN(upsample_scales=[4, 4], n_classes=256, hop_length=HOP,
                                     n_res_block=2, n_rnn=64, n_fc=64, kernel_size=5,
                                     n_freq=FREQ, n_hidden=32, n_output=32)


def vocoder_batch(generator, quick):
    batch, frames = 2, 12
    samples = (frames - 5 + 1) * HOP  # WaveRNN's upsampled length for kernel_size 5
    specgram = torch.rand(batch, 1, FREQ, frames, generator=generator)
    classes = torch.randint(0, 256, (batch, samples + 1), generator=generator)
    return specgram, classes


def vocoder_loss(model, batch):
    specgram, classes = batch
    waveform = classes[:, :-1].unsqueeze(1).float() / 127.5 - 1  # the previous sample, in [-1, 1]
    logits = model(waveform, specgram)  # [B, 1, T, classes]
    return F.cross_entropy(logits.squeeze(1).transpose(1, 2), classes[:, 1:])


APPS = [
    App("speech_recognition", "speech recognition",
        "MelSpectrogram + torchaudio Conformer (2 layers) + CTC, 0.5 s utterances",
        lambda quick: Recognizer(), speech_batch, ctc, tolerance=5e-3,
        requires=("torchaudio",)),
    App("speech_synthesis", "speech synthesis", "torchaudio WaveRNN vocoder, mel-conditioned",
        vocoder, vocoder_batch, vocoder_loss, requires=("torchaudio",)),
]
