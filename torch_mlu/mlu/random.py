"""Random number generation: one counter-based generator per device, as torch.cuda's."""

import torch

from torch_mlu import _C
from .device import _index, _lazy_init, device_count


class _DefaultGenerators:
    """Sequence of the per-device default generators, created on first access."""

    def __len__(self):
        return device_count()

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"mlu default generator index {index} out of range")
        _lazy_init()
        return _C._default_generator(index)


default_generators = _DefaultGenerators()


def _generator(device):
    if isinstance(device, int) and not _C._in_bad_fork():
        # Generators are host state: seeding every device (torch.manual_seed does) leaves the
        # driver alone, as CUDA's deferred seeding does, so torch.mlu.is_initialized() stays
        # false and DeviceMesh still chooses each rank's device.
        return _C._default_generator(device)
    _lazy_init()
    return _C._default_generator(_index(device))


def manual_seed(seed):
    _generator(None).manual_seed(int(seed))


def manual_seed_all(seed):
    for i in range(device_count()):
        _generator(i).manual_seed(int(seed))


def seed():
    _generator(None).seed()


def seed_all():
    seed_value = _generator(0).seed()
    for i in range(1, device_count()):
        _generator(i).manual_seed(seed_value)


def initial_seed():
    return _generator(None).initial_seed()


def get_rng_state(device="mlu"):
    return _generator(device).get_state()


def get_rng_state_all():
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state(new_state, device="mlu"):
    _generator(device).set_state(new_state.clone().to("cpu", torch.uint8))


def set_rng_state_all(new_states):
    for i, state in enumerate(new_states):
        set_rng_state(state, i)
