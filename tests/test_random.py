"""The mlu random generators: seeding, state, torch.manual_seed and torch.Generator."""

import pytest
import torch


def draw(n=16, device="mlu"):
    return torch.rand(n, device=device).cpu()


def test_manual_seed_reproduces_numbers():
    torch.mlu.manual_seed(7)
    a = draw()
    torch.mlu.manual_seed(7)
    b = draw()
    torch.mlu.manual_seed(8)
    c = draw()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.mlu.initial_seed() == 8


def test_manual_seed_seeds_only_the_current_device():
    torch.mlu.manual_seed_all(1)
    on1 = draw(device="mlu:1")
    torch.mlu.manual_seed_all(1)
    torch.mlu.manual_seed(99)                     # device 0 only
    assert torch.equal(draw(device="mlu:1"), on1)
    assert torch.mlu.initial_seed() == 99
    with torch.mlu.device(1):
        assert torch.mlu.initial_seed() == 1


def test_manual_seed_all_seeds_every_device():
    torch.mlu.manual_seed_all(21)
    a0, a1 = draw(device="mlu:0"), draw(device="mlu:1")
    torch.mlu.manual_seed_all(21)
    assert torch.equal(draw(device="mlu:0"), a0)
    assert torch.equal(draw(device="mlu:1"), a1)
    for i in range(torch.mlu.device_count()):
        assert torch.mlu.default_generators[i].initial_seed() == 21


def test_seed_and_seed_all_pick_new_random_seeds():
    torch.mlu.manual_seed(5)
    torch.mlu.seed()
    first = torch.mlu.initial_seed()
    torch.mlu.seed()
    assert torch.mlu.initial_seed() != first
    torch.mlu.seed_all()
    s0 = torch.mlu.initial_seed()
    with torch.mlu.device(1):
        assert torch.mlu.initial_seed() == s0


def test_rng_state_round_trip():
    torch.mlu.manual_seed(11)
    draw()
    state = torch.mlu.get_rng_state()
    assert state.dtype == torch.uint8 and state.device.type == "cpu" and state.dim() == 1
    a = draw()
    b = torch.randn(8, device="mlu").cpu()
    torch.mlu.set_rng_state(state)
    assert torch.equal(draw(), a)
    assert torch.equal(torch.randn(8, device="mlu").cpu(), b)


def test_rng_state_all_round_trip():
    states = torch.mlu.get_rng_state_all()
    assert len(states) == 2
    a = [draw(device=f"mlu:{i}") for i in range(2)]
    torch.mlu.set_rng_state_all(states)
    assert all(torch.equal(draw(device=f"mlu:{i}"), a[i]) for i in range(2))


def test_set_rng_state_rejects_bad_states():
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        torch.mlu.set_rng_state(torch.zeros(3, dtype=torch.uint8))


def test_torch_manual_seed_also_seeds_mlu():
    torch.manual_seed(3)
    a0, a1 = draw(device="mlu:0"), draw(device="mlu:1")
    torch.manual_seed(3)
    assert torch.equal(draw(device="mlu:0"), a0)
    assert torch.equal(draw(device="mlu:1"), a1)
    assert torch.mlu.initial_seed() == 3
    torch.mlu.manual_seed(3)
    assert torch.equal(draw(device="mlu:0"), a0)    # the same as seeding mlu directly


def test_torch_manual_seed_does_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.manual_seed(0)


def test_fork_rng_restores_mlu_state():
    torch.mlu.manual_seed(17)
    with torch.random.fork_rng(devices=[0], device_type="mlu"):
        draw()
        draw()
    after = draw()
    torch.mlu.manual_seed(17)
    assert torch.equal(draw(), after)


def test_generator_on_mlu():
    g = torch.Generator(device="mlu")
    assert g.device == torch.device("mlu", 0)
    g.manual_seed(123)
    a = torch.rand(16, generator=g, device="mlu").cpu()
    b = torch.rand(16, generator=g, device="mlu").cpu()
    assert not torch.equal(a, b)
    g.manual_seed(123)
    assert torch.equal(torch.rand(16, generator=g, device="mlu").cpu(), a)
    # an explicit generator leaves the default one alone
    torch.mlu.manual_seed(123)
    default_draw = draw()
    torch.mlu.manual_seed(123)
    torch.rand(16, generator=g, device="mlu")
    assert torch.equal(draw(), default_draw)


def test_generator_state_and_other_ops():
    g = torch.Generator(device="mlu:1").manual_seed(9)
    assert g.device == torch.device("mlu", 1)
    state = g.get_state()
    x = torch.empty(32, device="mlu:1").normal_(generator=g).cpu()
    p = torch.randperm(20, generator=g, device="mlu:1").cpu()
    g.set_state(state)
    assert torch.equal(torch.empty(32, device="mlu:1").normal_(generator=g).cpu(), x)
    assert torch.equal(torch.randperm(20, generator=g, device="mlu:1").cpu(), p)


def test_seeding_every_device_leaves_the_driver_uninitialised(run_py):
    # torch.manual_seed seeds every mlu generator; DeviceMesh chooses each rank's device only
    # while the driver is untouched (CUDA defers its seeding for the same reason).
    result = run_py("""
        import torch, torch_mlu
        torch.manual_seed(7)
        print(torch.mlu.is_initialized())
        a = torch.randn(4, device="mlu").cpu()
        torch.manual_seed(7)
        b = torch.randn(4, device="mlu").cpu()
        print(torch.equal(a, b), torch.mlu.initial_seed())
    """)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["False", "True", "7"]
