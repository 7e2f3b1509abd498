"""The recipes of the bundled checkpoints (``resources/models/``): ``snnstudio train --bundled NAME``.

All are trained on the synthetic gestures (:mod:`snnstudio.train.data`, default split sizes:
50 / 8 / 20 samples per class for train / val / test), 10 steps of 150 ms (1.5 s per sample),
128×128 events sum-pooled to 16×16 — small enough to train on a shared 2-core CPU. The
MA-SNN nets use MA-SNN's LIF cell (threshold 0.3, decay 0.3, input not decayed, see
:data:`snnstudio.snn.zoo.MA_LIF`); other neurons get the same threshold where they take one.
"""

from __future__ import annotations

from snnstudio.errors import SnnStudioError

T, DT_US, SIZE = 10, 150_000, 16
_MA = {"preset": "ma_snn_gesture_small", "T": T, "dt_us": DT_US, "input_size": [2, SIZE, SIZE],
       "widths": [16, 32, 32, 64]}
_COMMON = {"epochs": 30, "batch_size": 32, "lr": 5e-3, "data": "synthetic"}


def _ma(neuron: str, attention: str, params: dict | None = None) -> dict:
    m = {**_MA, "attention": attention}
    if neuron != "lif":
        m.update(neuron=neuron, neuron_params=dict(params or {}))
    return m


RECIPES: dict[str, dict] = {
    "gesture-lif-tcsa": {"model": _ma("lif", "tcsa")},
    "gesture-lif-none": {"model": _ma("lif", "none")},
    "gesture-lif-ta": {"model": _ma("lif", "ta")},
    "gesture-lif-ca": {"model": _ma("lif", "ca")},
    "gesture-lif-sa": {"model": _ma("lif", "sa")},
    "gesture-plif-tcsa": {"model": _ma("plif", "tcsa", {"v_threshold": 0.3, "decay_input": False})},
    "gesture-sliding_psn-tcsa": {"model": _ma("sliding_psn", "tcsa")},
    "gesture-psu-tcsa": {"model": _ma("psu", "tcsa", {"v_threshold": 0.3})},
    "gesture-paralif_sb-tcsa": {"model": _ma("paralif_sb", "tcsa", {"v_threshold": 0.3})},
    "gesture-spikformer": {"model": {"preset": "spikformer_small", "T": T, "dt_us": DT_US,
                                     "input_size": [2, SIZE, SIZE], "widths": [64]}, "lr": 2e-3},
    "gesture-ms_resnet": {"model": {"preset": "ms_resnet", "T": T, "dt_us": DT_US, "input_size": [2, SIZE, SIZE],
                                    "widths": [16, 32, 64]}},
}


def recipe(name: str) -> dict:
    """The :class:`~snnstudio.train.trainer.TrainConfig` fields of bundled model ``name``."""
    if name not in RECIPES:
        raise SnnStudioError(f"no bundled recipe {name!r}; known: {', '.join(RECIPES)}")
    return {**_COMMON, "name": name, "out": f"runs/{name}", **RECIPES[name]}
