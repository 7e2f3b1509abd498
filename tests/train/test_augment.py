"""Frame-domain augmentation against the event filters it stands for (snnstudio.events.filters)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnstudio.events import filters
from snnstudio.events.frames import bin_events
from snnstudio.events.types import make_events
from snnstudio.train.augment import AugmentConfig, augment_batch


def _events(n=20000, seed=0, sensor=(32, 32), t_end=400_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_end, n))
    return make_events(t, rng.integers(0, sensor[0], n), rng.integers(0, sensor[1], n), rng.integers(0, 2, n))


def _frames(ev, dt=100_000, out=(8, 8)):
    return torch.from_numpy(bin_events(ev, (32, 32), dt_us=dt, t_start_us=0, n_frames=4, out_size=out))


def test_flip_equals_flipping_the_events_and_maps_labels():
    ev = _events()
    x = _frames(ev)[:, None]  # [T, 1, 2, H, W]
    got, y = augment_batch(x, torch.tensor([0]), AugmentConfig(flip=1.0, shift=0, drop=0), 100_000, [1, 0], torch.Generator())
    want = _frames(filters.flip(ev, (32, 32), x=True))
    torch.testing.assert_close(got[:, 0], want)
    assert y.tolist() == [1]
    same, y2 = augment_batch(x, torch.tensor([0]), AugmentConfig(flip=1.0, shift=0, drop=0), 100_000, None, torch.Generator())
    torch.testing.assert_close(same, x)  # no flip map: not mirrored
    assert y2.tolist() == [0]


def test_shift_equals_moving_the_events():
    ev = _events(sensor=(8, 8))
    x = torch.from_numpy(bin_events(ev, (8, 8), dt_us=100_000, t_start_us=0, n_frames=4))[:, None]
    g = torch.Generator().manual_seed(3)
    d = torch.randint(-2, 3, (1, 2), generator=torch.Generator().manual_seed(3))
    dy, dx = int(d[0, 0]), int(d[0, 1])
    got, _ = augment_batch(x, torch.tensor([0]), AugmentConfig(flip=0, shift=2, drop=0), 100_000, None, g)
    moved = ev.copy()
    moved["x"] += dx
    moved["y"] += dy
    keep = (moved["x"] >= 0) & (moved["x"] < 8) & (moved["y"] >= 0) & (moved["y"] < 8)
    want = torch.from_numpy(bin_events(moved[keep], (8, 8), dt_us=100_000, t_start_us=0, n_frames=4))
    torch.testing.assert_close(got[:, 0], want)


def test_drop_keeps_the_expected_fraction_like_drop_events():
    ev = _events(200_000)
    x = _frames(ev)[:, None].repeat(1, 64, 1, 1, 1)
    got, _ = augment_batch(x, torch.zeros(64, dtype=torch.long), AugmentConfig(flip=0, shift=0, drop=0.4), 100_000,
                           None, torch.Generator().manual_seed(0))
    kept = float(got.sum() / x.sum())
    # per-sample rate ~ U(0, 0.4): on average 80 % kept; drop_events at p = 0.2 keeps the same on average
    ref = len(filters.drop_events(ev, 0.2, rng=0)) / len(ev)
    assert kept == pytest.approx(ref, abs=0.03)
    assert (got <= x).all() and (got == got.round()).all()


def test_time_jitter_moves_counts_like_jittering_events():
    dt, sigma = 100_000, 10_000.0
    ev = _events(400_000)
    x = _frames(ev, dt)[:, None]
    got, _ = augment_batch(x, torch.tensor([0]), AugmentConfig(flip=0, shift=0, drop=0, time_jitter_us=sigma), dt,
                           None, torch.Generator().manual_seed(1))
    jit = filters.time_jitter(ev, sigma, rng=1)
    jit = jit[(jit["t"] >= 0) & (jit["t"] < 4 * dt)]
    want = _frames(np.sort(jit, order="t"), dt)
    # the counts that change bins: an event crosses a boundary with probability σ/(dt·√(2π)) per side
    moved_got = float((got[:, 0] - x[:, 0]).abs().sum())
    moved_ref = float((want - x[:, 0]).abs().sum())
    assert moved_got == pytest.approx(moved_ref, rel=0.1)
    # events jittered past the first and last window are lost, in both
    assert float(got.sum()) == pytest.approx(float(want.sum()), rel=0.002)
    q = sigma / (dt * math.sqrt(2 * math.pi))
    assert float(x.sum() - got.sum()) == pytest.approx(q * float(x[0].sum() + x[-1].sum()), rel=0.05)


def test_gain_scales_each_sample_by_a_power_of_two_drawn_in_range():
    """Expected count g·n: per sample, the ratio of counts is the drawn gain, within 2^±gain."""
    x = torch.full((4, 256, 2, 8, 8), 20.0)
    got, _ = augment_batch(x, torch.zeros(256, dtype=torch.long),
                           AugmentConfig(flip=0, shift=0, drop=0, gain=1.0), 100_000, None,
                           torch.Generator().manual_seed(0))
    ratio = got.sum(dim=(0, 2, 3, 4)) / x.sum(dim=(0, 2, 3, 4))
    assert ratio.min() > 0.45 and ratio.max() < 2.1  # 2^-1 .. 2^1, up to sampling noise
    # log2 of the gain is uniform in [-1, 1]: a quarter of the samples below 2^-0.5, a quarter above 2^0.5
    assert 0.15 < float((ratio < 2 ** -0.5).float().mean()) < 0.35
    assert 0.15 < float((ratio > 2 ** 0.5).float().mean()) < 0.35
    assert (got == got.round()).all() and (got >= 0).all()


def test_noise_adds_poisson_background_to_empty_cells():
    x = torch.zeros(10, 200, 2, 8, 8)
    got, _ = augment_batch(x, torch.zeros(200, dtype=torch.long),
                           AugmentConfig(flip=0, shift=0, drop=0, noise=2.0), 100_000, None,
                           torch.Generator().manual_seed(0))
    per_sample = got.mean(dim=(0, 2, 3, 4))  # λ of each sample
    assert float(per_sample.mean()) == pytest.approx(1.0, abs=0.15)  # λ ~ U(0, 2)
    assert float(per_sample.min()) < 0.2 and float(per_sample.max()) > 1.8
    # a Poisson count's variance equals its mean, per sample
    var = got.var(dim=(0, 2, 3, 4))
    big = per_sample > 0.5
    assert torch.allclose(var[big], per_sample[big], rtol=0.25)
