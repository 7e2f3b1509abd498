"""Event augmentation applied to framed batches of event counts ``[T, B, 2, H, W]`` (torch).

The datasets are cached as per-polarity event counts, so each augmentation is written as what the
event-level transform (:mod:`snnstudio.events.filters`) does to the counts — exactly or in
distribution — instead of re-decoding events every epoch:

* **flip** — :func:`~snnstudio.events.filters.flip` along x: exact on the counts when the frame
  width divides the sensor width (sum pooling commutes with mirroring). The label goes through the
  dataset's ``flip_map`` (swipe_left ↔ swipe_right …); without one, flip is skipped.
* **shift** — a translation by whole frame pixels (``±shift`` cells), zero-filled at the border
  (events pushed off the sensor are dropped, as :func:`~snnstudio.events.filters.crop` would).
* **drop** — :func:`~snnstudio.events.filters.drop_events` with a per-sample rate ``U(0, drop)``:
  keeping each event independently with probability ``1 − p`` turns a count ``n`` into
  ``Binomial(n, 1 − p)``, which is sampled directly.
* **time_jitter_us** — :func:`~snnstudio.events.filters.time_jitter` with std σ: an event uniform
  in a window of ``dt`` crosses into the next (or previous) window with probability
  ``q = σ / (dt·√(2π))`` (for σ ≲ dt; capped at 0.5), so each count sends ``Binomial(n, q)``
  events to each neighbour (the first and last frames lose what leaves the range).

* **gain** — the event rate scaled per sample by ``2^U(−gain, gain)`` (a brighter or darker
  scene, a more or less sensitive sensor): thinning (``Binomial(n, g)``) below 1, and above 1
  each count adds ``Poisson(n·(g − 1))`` events, so the expected count is ``g·n`` either way.
* **noise** — background activity: every frame cell gains ``Poisson(λ)`` events of each
  polarity, ``λ ~ U(0, noise)`` per sample (a noisy sensor, video block artefacts).

All draws come from one ``torch.Generator`` (the trainer seeds it), so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch


@dataclass
class AugmentConfig:
    flip: float = 0.5  #: probability of mirroring a sample (only where the dataset has a flip map)
    shift: int = 2  #: max translation in frame pixels
    drop: float = 0.1  #: max fraction of events dropped (per-sample rate ~ U(0, drop))
    time_jitter_us: float = 0.0  #: std of the per-event time jitter (µs)
    gain: float = 0.0  #: max |log2| of the per-sample event-rate gain (0: off)
    noise: float = 0.0  #: max mean background events per frame cell and polarity (0: off)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return bool(self.flip > 0 or self.shift > 0 or self.drop > 0 or self.time_jitter_us > 0
                    or self.gain > 0 or self.noise > 0)


def _binomial(n: torch.Tensor, p: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """``Binomial(n, p)`` samples for integer-valued float ``n`` (torch.binomial takes a generator)."""
    return torch.binomial(n, p.expand_as(n).contiguous(), generator=g)


def augment_batch(x: torch.Tensor, y: torch.Tensor, cfg: AugmentConfig, dt_us: int, flip_map: list[int] | None,
                  g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment counts ``x`` ``[T, B, 2, H, W]`` (float, on CPU) and labels ``y`` ``[B]``; returns new tensors."""
    T, B = x.shape[:2]
    x = x.clone()
    y = y.clone()
    if cfg.flip > 0 and flip_map is not None:
        mirror = torch.rand(B, generator=g) < cfg.flip
        if mirror.any():
            x[:, mirror] = x[:, mirror].flip(-1)
            fmap = torch.as_tensor(flip_map, dtype=y.dtype)
            y[mirror] = fmap[y[mirror]]
    if cfg.shift > 0:
        s = int(cfg.shift)
        d = torch.randint(-s, s + 1, (B, 2), generator=g)
        H, W = x.shape[-2:]
        out = torch.zeros_like(x)
        for b in range(B):
            dy, dx = int(d[b, 0]), int(d[b, 1])
            ys, yd = (slice(0, H - dy), slice(dy, H)) if dy >= 0 else (slice(-dy, H), slice(0, H + dy))
            xs, xd = (slice(0, W - dx), slice(dx, W)) if dx >= 0 else (slice(-dx, W), slice(0, W + dx))
            out[:, b, :, yd, xd] = x[:, b, :, ys, xs]
        x = out
    if cfg.drop > 0:
        p_keep = 1.0 - torch.rand(B, generator=g) * cfg.drop
        x = _binomial(x, p_keep.view(1, B, 1, 1, 1), g)
    if cfg.time_jitter_us > 0 and T > 1:
        q = min(0.5, cfg.time_jitter_us / (dt_us * math.sqrt(2 * math.pi)))
        qt = torch.tensor(q)
        fwd = _binomial(x, qt, g)
        back = _binomial(x - fwd, torch.tensor(min(1.0, q / (1 - q))), g)
        x = x - fwd - back
        x[1:] += fwd[:-1]
        x[:-1] += back[1:]
    if cfg.gain > 0:
        gain = torch.pow(2.0, (torch.rand(B, generator=g) * 2 - 1) * cfg.gain).view(1, B, 1, 1, 1)
        thinned = _binomial(x, gain.clamp(max=1.0), g)
        extra = torch.poisson(x * (gain - 1).clamp(min=0.0), generator=g)
        x = thinned + extra
    if cfg.noise > 0:
        lam = (torch.rand(B, generator=g) * cfg.noise).view(1, B, 1, 1, 1)
        x = x + torch.poisson(lam.expand_as(x).contiguous(), generator=g)
    return x, y
