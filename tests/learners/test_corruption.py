"""Corruptions: rates, determinism, purity, whole-span replacement."""
from __future__ import annotations

import pytest
import torch

from product_repr.errors import ConfigError
from product_repr.features.space import Span
from product_repr.learners.corruption import scarf_marginal, span_of_dim, swap_noise, vime_mask
from product_repr.data.schema import Role

SPANS = [
    Span("price", Role.NUMERIC, 0, 2, "mse"),
    Span("colour", Role.CATEGORICAL, 2, 7, "ce"),
    Span("size", Role.CATEGORICAL, 7, 10, "ce"),
    Span("title", Role.TEXT, 10, 14, "mse"),
]
FUNCS = {"swap_noise": swap_noise, "scarf_marginal": scarf_marginal, "vime_mask": vime_mask}


def batch(n: int = 2000) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.zeros(n, 14)
    x[:, 0:2] = torch.randn(n, 2, generator=g)
    x[torch.arange(n), 2 + torch.randint(0, 5, (n,), generator=g)] = 1.0
    x[torch.arange(n), 7 + torch.randint(0, 3, (n,), generator=g)] = 1.0
    x[:, 10:] = torch.randn(n, 4, generator=g)
    return x


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_rate_is_respected(name):
    x = batch()
    _, mask = FUNCS[name](x, SPANS, 0.3, generator=gen())
    assert mask.shape == (2000, 4) and mask.dtype == torch.bool
    rate = mask.float().mean().item()
    # scarf replaces round(0.3 * 4) = 1 column per row exactly
    expected = 0.25 if name == "scarf_marginal" else 0.3
    assert abs(rate - expected) < 0.02, f"{name}: corrupted share {rate:.3f}, expected {expected}"
    if name == "scarf_marginal":
        assert (mask.sum(1) == 1).all(), "SCARF corrupts the same number of columns in every row"


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_inputs_not_mutated_and_deterministic(name):
    x = batch(300)
    before = x.clone()
    a, ma = FUNCS[name](x, SPANS, 0.5, generator=gen(3))
    b, mb = FUNCS[name](x, SPANS, 0.5, generator=gen(3))
    c, _ = FUNCS[name](x, SPANS, 0.5, generator=gen(4))
    assert torch.equal(x, before), f"{name} mutated its input"
    assert torch.equal(a, b) and torch.equal(ma, mb), f"{name}: same generator seed must give the same output"
    assert not torch.equal(a, c), f"{name}: a different seed should corrupt differently"


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_one_hot_blocks_stay_one_hot_and_unmasked_cells_untouched(name):
    x = batch(500)
    out, mask = FUNCS[name](x, SPANS, 0.6, generator=gen())
    for s in SPANS[1:3]:
        block = out[:, s.start:s.stop]
        assert torch.equal(block.sum(1), torch.ones(500)), f"{name}: {s.name} is no longer one-hot"
        assert set(block.unique().tolist()) == {0.0, 1.0}
    for k, s in enumerate(SPANS):
        keep = ~mask[:, k]
        assert torch.equal(out[keep, s.start:s.stop], x[keep, s.start:s.stop]), f"{name}: untouched cells changed"


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_replaced_spans_come_whole_from_one_row(name):
    x = batch(200)
    out, mask = FUNCS[name](x, SPANS, 0.5, generator=gen())
    for k, s in enumerate(SPANS):
        for i in torch.nonzero(mask[:, k]).flatten()[:20].tolist():
            match = (x[:, s.start:s.stop] == out[i, s.start:s.stop]).all(1)
            assert match.any(), f"{name}: row {i} span {s.name} is not any row's value"


def test_swap_noise_takes_another_row():
    x = torch.arange(10, dtype=torch.float32)[:, None].repeat(1, 2)
    spans = [Span("a", Role.NUMERIC, 0, 2, "mse")]
    out, mask = swap_noise(x, spans, 1.0, generator=gen())
    assert mask.all() and (out[:, 0] != x[:, 0]).all(), "every swapped cell must come from a different row"


def test_zero_rate_is_identity():
    x = batch(50)
    for f in FUNCS.values():
        out, mask = f(x, SPANS, 0.0, generator=gen())
        assert torch.equal(out, x) and not mask.any()


def test_bad_rate_and_bad_spans():
    with pytest.raises(ConfigError, match="corruption rate must be in"):
        swap_noise(batch(10), SPANS, 1.5, generator=gen())
    with pytest.raises(ConfigError, match="belongs to no span"):
        span_of_dim(SPANS[:2], 14)
    with pytest.raises(ConfigError, match="outside X's 5 columns"):
        span_of_dim(SPANS, 5)
