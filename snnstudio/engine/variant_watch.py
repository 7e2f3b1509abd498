"""Does a run-time variant run untrained? Watch its first steps and say so.

Swapping the neuron of a trained network (LIF → PLIF) or switching its attention off keeps the
convolution weights, which were trained for the old neuron or with the attention's scaling: the
variant often falls silent (no spike reaches the output) or saturates, and its accuracy sits at
chance — which a user reads as "PLIF is bad", not as "this PLIF was never trained".
:class:`VariantWatch` looks at the variant's first snapshots (layer spike counts, events in) and,
once it has seen enough input, says what it found: silent or saturated layers, and the bundled
checkpoint trained as this variant when there is one (:func:`trained_alternative`), or a fine-tune
in the Teach panel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from snnstudio.resources import bundled_models_dir

#: a layer firing on average above this share of its neurons per step is saturated
SATURATED_RATE = 0.6


def trained_alternative(arch: str | None, neuron: str | None, attention: str | None,
                        models_dir: str | Path | None = None) -> str | None:
    """The name of a bundled checkpoint trained as ``arch`` with ``neuron`` and ``attention``
    (``None`` matches anything), or ``None``: the first in name order."""
    folder = Path(models_dir) if models_dir is not None else bundled_models_dir()
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.json")):
        if not path.with_suffix(".safetensors").is_file():
            continue
        try:
            cfg = json.loads(path.read_text(encoding="utf-8")).get("config", {})
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(cfg, dict):
            continue
        if all(want is None or cfg.get(key) == want for key, want in (("arch", arch), ("neuron", neuron),
                                                                       ("attention", attention))):
            return path.stem
    return None


@dataclass
class VariantWatch:
    """Watches snapshots of a variant (``what``: e.g. "the neuron swap to plif") until
    ``min_steps`` steps holding ``min_events`` events in all have passed, then
    :meth:`observe` returns one message (or ``None`` when the variant looks alive) and the
    watch is done. ``alternative``: a trained checkpoint to offer."""

    what: str
    alternative: str | None = None
    min_steps: int = 12
    min_events: int = 2000
    steps: int = 0
    events: int = 0
    done: bool = False
    _spikes: dict[str, int] = field(default_factory=dict)
    _rates: dict[str, float] = field(default_factory=dict)

    def observe(self, snap) -> str | None:
        """Take one snapshot (``engine.snapshot.Snapshot``); a message once the verdict is in."""
        if self.done:
            return None
        self.steps += 1
        self.events += int(snap.n_events)
        for layer in snap.layers:
            self._spikes[layer.name] = self._spikes.get(layer.name, 0) + int(layer.spike_count)
            self._rates[layer.name] = self._rates.get(layer.name, 0.0) + float(layer.rate)
        if self.steps < self.min_steps or self.events < self.min_events:
            return None
        self.done = True
        silent = [n for n, c in self._spikes.items() if c == 0]
        saturated = [n for n, r in self._rates.items() if r / self.steps > SATURATED_RATE]
        if not silent and not saturated:
            return None
        parts = []
        if silent:
            parts.append(f"{_names(silent)} silent")
        if saturated:
            parts.append(f"{_names(saturated)} saturated (over {SATURATED_RATE:.0%} of the neurons every step)")
        offer = (f"open the trained {self.alternative} (Model panel) or fine-tune this variant in the Teach panel"
                 if self.alternative else "fine-tune this variant in the Teach panel")
        return (f"{self.what[:1].upper()}{self.what[1:]} leaves {' and '.join(parts)} over its first "
                f"{self.steps} steps: these weights were not trained for it, so its accuracy says little — {offer}")


def _names(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
    return ("layer " if len(names) == 1 else "layers ") + shown
