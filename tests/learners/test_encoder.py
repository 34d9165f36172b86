"""The shared modules: seeded initialisation with torch's default distributions, and seeded dropout."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from product_repr.learners.encoder import Dropout, Encoder, bind_generator, build_seeded, init_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_init_from_a_generator_equals_torchs_default_init_with_that_seed():
    """Same distributions as nn.Linear's own init (kaiming_uniform a=√5, bias U(±1/√fan_in)), same numbers."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        default = Encoder(7, 4, 16, 2, 0.0)
    seeded = init_parameters(Encoder(7, 4, 16, 2, 0.0), torch.Generator().manual_seed(3))
    for (name, a), b in zip(default.state_dict().items(), seeded.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs from torch's default initialisation"
    first = seeded.net[0]
    bound = 1 / math.sqrt(7)
    assert first.weight.abs().max() <= bound and first.bias.abs().max() <= bound


def test_build_seeded_uses_no_global_random_numbers_and_repeats():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    a = build_seeded(lambda: Encoder(5, 3, 8, 1, 0.0), torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(3), expected), "building must not draw from torch's global generator"
    b = build_seeded(lambda: Encoder(5, 3, 8, 1, 0.0), torch.Generator().manual_seed(0))
    c = build_seeded(lambda: Encoder(5, 3, 8, 1, 0.0), torch.Generator().manual_seed(1))
    assert all(t.device.type == "cpu" for t in a.state_dict().values())
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.net[0].weight, c.net[0].weight), "another seed gives other weights"


def test_init_refuses_modules_it_cannot_seed():
    with pytest.raises(TypeError, match="does not know how to initialise a Conv1d"):
        init_parameters(nn.Sequential(nn.Conv1d(1, 1, 3)), torch.Generator())


def test_dropout_is_seeded_scaled_and_off_in_eval():
    x = torch.ones(400, 50)
    drop = Dropout(0.2).train()
    with pytest.raises(RuntimeError, match="needs a generator"):
        drop(x)
    with bind_generator(drop, torch.Generator().manual_seed(0)):
        y1 = drop(x)
    with bind_generator(drop, torch.Generator().manual_seed(0)):
        y2 = drop(x)
    assert drop.generator is None, "the generator is bound for the block only"
    assert torch.equal(y1, y2), "the same generator state gives the same mask"
    kept = (y1 != 0).float().mean().item()
    assert abs(kept - 0.8) < 0.01, f"keeps 1 - p of the units, kept {kept:.3f}"
    assert torch.allclose(y1[y1 != 0], torch.tensor(1 / 0.8)), "kept units are scaled by 1 / (1 - p)"
    assert abs(y1.mean().item() - 1.0) < 0.02, "the same in expectation as without dropout"
    assert torch.equal(drop.eval()(x), x), "eval mode is the identity"


def test_torchs_own_dropout_is_refused():
    with pytest.raises(TypeError, match="Dropout draws from torch's global generator"):
        with bind_generator(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)), torch.Generator()):
            pass
