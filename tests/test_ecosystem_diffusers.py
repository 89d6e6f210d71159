"""diffusers on mlu: the library sees torch_mlu, and a UNet2DModel learns DDPM noise prediction
step for step as on the CPU, with no CPU fallback; under bf16 autocast too."""

from ecosystem_support import assert_same_training, example, require, run

require("diffusers")


def test_diffusers_sees_torch_mlu():
    from diffusers.utils import is_torch_mlu_available

    assert is_torch_mlu_available()


def test_unet_denoising_training_as_on_cpu():
    mlu = run(example("diffusers_unet.py", "--steps", "8"))
    cpu = run(example("diffusers_unet.py", "--steps", "8", "--cpu"))
    assert_same_training(mlu, cpu, rtol=1e-3)


def test_unet_denoising_training_in_bf16():
    mlu = run(example("diffusers_unet.py", "--steps", "8", "--bf16"))
    cpu = run(example("diffusers_unet.py", "--steps", "8", "--bf16", "--cpu"))
    assert_same_training(mlu, cpu, rtol=5e-2)
