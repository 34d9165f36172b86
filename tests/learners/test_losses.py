"""Loss functions against values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from product_repr.features.space import Span
from product_repr.learners.losses import (
    margin_contrastive,
    mask_loss,
    nt_xent,
    reconstruction_loss,
    span_losses,
)
from product_repr.data.schema import Role

SPANS = [
    Span("price", Role.NUMERIC, 0, 1, "mse"),
    Span("colour", Role.CATEGORICAL, 1, 4, "ce"),
    Span("title", Role.TEXT, 4, 8, "mse"),
]


def test_nt_xent_identical_orthogonal_views_closed_form():
    # identical views, orthogonal rows: each anchor has its twin at cos 1 and 2N-2 others at cos 0, so
    # loss = -log(e^{1/τ} / (e^{1/τ} + 2N - 2)) = log(1 + (2N - 2) e^{-1/τ})
    for n, tau in [(4, 1.0), (6, 0.5), (2, 0.1)]:
        z = torch.eye(n, 8) * 3.0  # scale must not matter: rows are normalised
        expected = math.log(1 + (2 * n - 2) * math.exp(-1 / tau))
        got = float(nt_xent(z, z.clone(), temperature=tau))
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6), f"N={n}, τ={tau}: {got} vs closed form {expected}"


def test_nt_xent_prefers_matching_views():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, 8, generator=g)
    matched = nt_xent(z, z + 0.01 * torch.randn(16, 8, generator=g), temperature=0.5)
    shuffled = nt_xent(z, z[torch.randperm(16, generator=g)], temperature=0.5)
    assert matched < shuffled


def test_margin_contrastive_by_hand():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # cos: (0,0)=1, (0,1)=1/√2, (1,0)=0, (1,1)=1/√2
    c01, c11 = 1 / math.sqrt(2), 1 / math.sqrt(2)
    pos = ((1 - 1) + (1 - c11)) / 2
    neg = (max(0.0, c01 - 0.5) + max(0.0, 0.0 - 0.5)) / 2
    assert float(margin_contrastive(z1, z2, margin=0.5)) == pytest.approx(pos + neg, rel=1e-6)


def test_span_losses_match_manual_computation():
    rng = np.random.default_rng(0)
    x = np.zeros((5, 8), dtype=np.float32)
    x[:, 0] = rng.normal(size=5)
    x[np.arange(5), 1 + rng.integers(0, 3, 5)] = 1.0
    x[:, 4:] = rng.normal(size=(5, 4))
    x_hat = rng.normal(size=(5, 8)).astype(np.float32)

    per = span_losses(torch.from_numpy(x_hat), torch.from_numpy(x), SPANS).numpy()
    mse_price = (x_hat[:, 0] - x[:, 0]) ** 2
    logits = x_hat[:, 1:4]
    log_soft = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    ce_colour = -(x[:, 1:4] * log_soft).sum(axis=1)
    mse_title = ((x_hat[:, 4:] - x[:, 4:]) ** 2).mean(axis=1)
    np.testing.assert_allclose(per, np.column_stack([mse_price, ce_colour, mse_title]), rtol=1e-5)

    # each source column counts equally: w_s = 1/S, whatever the span's width
    total = float(reconstruction_loss(torch.from_numpy(x_hat), torch.from_numpy(x), SPANS))
    expected = (mse_price.mean() + ce_colour.mean() + mse_title.mean()) / 3
    assert total == pytest.approx(expected, rel=1e-5)


def test_wide_span_does_not_drown_narrow_one():
    x = torch.zeros(4, 8)
    err_title = torch.zeros(4, 8)
    err_title[:, 4:] = 1.0  # every title dim off by 1
    err_price = torch.zeros(4, 8)
    err_price[:, 0] = 1.0  # the single price dim off by 1
    x[:, 1] = 1.0
    logits = torch.zeros(4, 8)
    logits[:, 1] = 50.0  # colour predicted right: ~0 cross-entropy
    a = float(reconstruction_loss(logits + err_title, x, SPANS))
    b = float(reconstruction_loss(logits + err_price, x, SPANS))
    assert a == pytest.approx(b, rel=1e-5), "a 4-dim text span and a 1-dim price must weigh the same"


def test_custom_weights():
    x, x_hat = torch.zeros(2, 8), torch.ones(2, 8)
    x[:, 1] = 1.0
    per = span_losses(x_hat, x, SPANS).mean(0)
    w = torch.tensor([1.0, 0.0, 0.0])
    assert float(reconstruction_loss(x_hat, x, SPANS, weights=w)) == pytest.approx(float(per[0]))


def test_mask_loss_is_bce():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    mask = torch.tensor([[True, False], [False, True]])
    p = torch.sigmoid(logits)
    m = mask.float()
    expected = -(m * p.log() + (1 - m) * (1 - p).log()).mean()
    assert float(mask_loss(logits, mask)) == pytest.approx(float(expected), rel=1e-6)


def test_losses_do_not_mutate_inputs():
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    c1, c2 = z1.clone(), z2.clone()
    nt_xent(z1, z2, temperature=0.5)
    margin_contrastive(z1, z2)
    assert torch.equal(z1, c1) and torch.equal(z2, c2)


def test_span_baselines_and_weights():
    from product_repr.learners.losses import span_baselines, span_weights

    rng = np.random.default_rng(0)
    n = 400
    x = np.zeros((n, 8), dtype=np.float32)
    x[:, 0] = rng.normal(0, 2.0, n)  # variance 4
    x[np.arange(n), 1 + np.arange(n) % 3] = 1.0  # three equally frequent levels: entropy log 3
    x[:, 4:] = rng.normal(0, 0.1, (n, 4))  # a "text" block with per-dim variance 0.01
    base = span_baselines(x, SPANS)
    np.testing.assert_allclose(base, [x[:, 0].var(), math.log(3), x[:, 4:].var(0).mean()], rtol=1e-5)
    w = span_weights(x, SPANS)
    np.testing.assert_allclose(w, 1 / (3 * base), rtol=1e-5)
    # the trivial predictor (column means / marginal frequencies) then scores exactly 1 on every span
    mean_logits = np.tile(np.log(x[:, 1:4].mean(0)), (n, 1))
    x_hat = np.column_stack([np.full(n, x[:, 0].mean()), mean_logits, np.tile(x[:, 4:].mean(0), (n, 1))])
    loss = reconstruction_loss(torch.from_numpy(x_hat.astype(np.float32)), torch.from_numpy(x), SPANS,
                               torch.from_numpy(w))
    assert float(loss) == pytest.approx(1.0, rel=1e-4), "normalised loss of the trivial predictor must be 1"


def test_constant_span_gets_zero_weight():
    from product_repr.learners.losses import span_weights

    x = np.zeros((10, 8), dtype=np.float32)
    x[:, 1] = 1.0
    x[:, 4:] = np.arange(40).reshape(10, 4)
    w = span_weights(x, SPANS)
    assert w[0] == 0.0, "a constant numeric column has nothing to learn"
    assert w[2] > 0


def test_scaled_weighting_keeps_feature_emphasis():
    from product_repr.learners.losses import span_baselines, span_weights

    rng = np.random.default_rng(1)
    x = np.zeros((300, 8), dtype=np.float32)
    x[:, 0] = rng.normal(size=300)
    x[np.arange(300), 1 + np.arange(300) % 3] = 1.0
    x[:, 4:] = rng.normal(0, 1.0, (300, 4))  # total standard deviation 2
    equal, scaled = span_weights(x, SPANS), span_weights(x, SPANS, "scaled")
    ratio = scaled / equal
    assert ratio[1] == pytest.approx(1.0), "categorical spans keep their weight"
    assert ratio[2] == pytest.approx(np.sqrt(x[:, 4:].var(0).sum()), rel=1e-5)
    assert ratio[2] / ratio[0] == pytest.approx(2.0, rel=0.15), "a block with twice the spread counts twice"
    with pytest.raises(ValueError, match="unknown span weighting 'loud'"):
        span_weights(x, SPANS, "loud")
    assert span_baselines(x, SPANS).shape == (3,)
