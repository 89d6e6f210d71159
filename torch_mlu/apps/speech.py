"""Speech: recognition (a mel front end, a Conformer and CTC) and synthesis (Tacotron2 from text
to mel frames, a WaveRNN vocoder from mel frames to samples), with torchaudio's transforms and
models."""

import contextlib
import copy
import math

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


SYMBOLS, TACOTRON_MELS = 40, 40


@contextlib.contextmanager
def dropout_masks_from(seed):
    """Tacotron2 drops units in its encoder, decoder and postnet, and its prenet's dropout stays on
    in inference too. Within this context every F.dropout draws its mask from a CPU generator
    seeded with `seed`, so a CPU and an mlu run drop the same units and can be compared."""
    generator = torch.Generator().manual_seed(seed)
    original = F.dropout

    def dropout(x, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return x
        keep = torch.rand(x.shape, generator=generator) >= p
        return x * keep.to(x.device) / (1 - p)

    F.dropout = dropout
    try:
        yield
    finally:
        F.dropout = original


def tacotron(quick):
    import torchaudio
    return torchaudio.models.Tacotron2(
        n_symbol=SYMBOLS, n_mels=TACOTRON_MELS, symbol_embedding_dim=64, encoder_embedding_dim=64,
        encoder_n_convolution=2, encoder_kernel_size=5, decoder_rnn_dim=128, decoder_max_step=40,
        attention_rnn_dim=128, attention_hidden_dim=64, attention_location_n_filter=8,
        attention_location_kernel_size=15, prenet_dim=64, postnet_n_convolution=2,
        postnet_kernel_size=5, postnet_embedding_dim=64)


def tacotron_batch(generator, quick):
    batch, symbols, frames = (2, 10, 20) if quick else (4, 16, 40)
    tokens = torch.randint(0, SYMBOLS, (batch, symbols), generator=generator)
    token_lengths = torch.full((batch,), symbols)
    token_lengths[1:] -= torch.randint(0, symbols // 3, (batch - 1,), generator=generator)
    # Longest first, as Tacotron2's packed encoder requires.
    token_lengths = token_lengths.sort(descending=True).values
    mels = torch.rand(batch, TACOTRON_MELS, frames, generator=generator)
    mel_lengths = frames - torch.randint(0, frames // 4, (batch,), generator=generator)
    seed = int(torch.randint(0, 2**31, (), generator=generator))
    return tokens, token_lengths, mels, mel_lengths, seed


def tacotron_loss(model, batch):
    """Tacotron2's training loss: mel frames before and after the postnet, and the stop gate,
    over the frames each utterance has."""
    tokens, token_lengths, mels, mel_lengths, seed = batch
    with dropout_masks_from(seed):
        before, after, gate, _ = model(tokens, token_lengths, mels, mel_lengths)
    frames = torch.arange(mels.shape[2], device=mels.device)
    valid = (frames[None, :] < mel_lengths[:, None]).to(mels.dtype)  # [B, frames]
    count = valid.sum()
    mel_error = (((before - mels) ** 2 + (after - mels) ** 2) * valid[:, None]).sum()
    stop = (frames[None, :] >= mel_lengths[:, None] - 1).to(mels.dtype)
    gate_error = F.binary_cross_entropy_with_logits(gate, stop, weight=valid, reduction="sum")
    return mel_error / (count * TACOTRON_MELS) + gate_error / count


def tacotron_inference(cpu_model, mlu_model, batch, quick):
    """Autoregressive synthesis (Tacotron2.infer) with the trained mlu weights on both devices and
    the same dropout masks: the mel frames the mlu produces against the CPU's."""
    tokens, token_lengths, _, _, seed = batch
    reference = copy.deepcopy(mlu_model).cpu().eval()
    outputs = []
    for model, device in ((reference, "cpu"), (mlu_model.eval(), "mlu")):
        with torch.no_grad(), dropout_masks_from(seed):
            mels, lengths, _ = model.infer(tokens.to(device), token_lengths.to(device))
        outputs.append((mels.cpu(), lengths.cpu()))
    (cpu_mels, cpu_lengths), (mlu_mels, mlu_lengths) = outputs
    same_lengths = torch.equal(cpu_lengths, mlu_lengths)
    difference = (mlu_mels - cpu_mels).abs().max().item() if same_lengths else math.inf
    return {"synthesis vs CPU (max difference)": (difference, difference <= 1e-3),
            "synthesised frames": (int(mlu_lengths.max()), same_lengths)}


APPS = [
    App("speech_recognition", "speech recognition",
        "MelSpectrogram + torchaudio Conformer (2 layers) + CTC, 0.5 s utterances",
        lambda quick: Recognizer(), speech_batch, ctc, tolerance=5e-3,
        requires=("torchaudio",)),
    App("speech_synthesis", "speech synthesis", "torchaudio WaveRNN vocoder, mel-conditioned",
        vocoder, vocoder_batch, vocoder_loss, requires=("torchaudio",)),
    App("text_to_speech", "speech synthesis",
        "torchaudio Tacotron2 (text to mel frames), teacher-forced; autoregressive synthesis",
        tacotron, tacotron_batch, tacotron_loss, check=tacotron_inference,
        optimizer=lambda model: torch.optim.Adam(model.parameters(), lr=1e-3),
        requires=("torchaudio",)),
]
