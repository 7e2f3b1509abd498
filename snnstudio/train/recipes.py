"""The recipes of the bundled checkpoints (``resources/models/``): ``snnstudio train --bundled NAME``
(pure data, imported by the trainer; the ablation report of the bundled models is
:mod:`snnstudio.train.bundled`).

All are trained on the synthetic gestures (:mod:`snnstudio.train.data`, default split sizes:
50 / 8 / 20 samples per class for train / val / test), 10 steps of 150 ms (1.5 s per sample),
128×128 events sum-pooled to 16×16 — small enough to train on a shared 2-core CPU. The five
attention models get MA-SNN's own input, 128×128 pooled to 32×32, and 4× the data (200 / 20 / 20
per class); the default and its no-attention twin also a read-out of 10 voting neurons per class,
a 128-wide FC layer and 60 epochs (TA, CA and SA alone: 64 wide, one neuron per class, 50); the
PLIF, sliding-PSN, PSU and ParaLIF SB variants are the default's recipe with their neuron. The
seed systems' own nets (Spikformer V1 and V2, Spikeformer, MS-ResNet, SynA-ResNet) are sized alike
(64-wide tokens, one block; residual widths 16-32-64) and trained 50 epochs (the later three
recipes hold it; the earlier ones were run with ``--epochs 50``); SynA-ResNet and MS-ResNet on the
attention models' 4× data (at 16×16: 98.5 % and 97.5 % against 81.0 % and 84.5 % on the small split),
Spikeformer and Spikformer V2 on 2× (89.0 % and 90.0 % against 79.0 % and 78.5 %; their transformers
take ~25–45 s an epoch of 1,000 samples here). The
MA-SNN nets use MA-SNN's LIF cell (threshold 0.3, decay 0.3, input not decayed, see
:data:`snnstudio.snn.zoo.MA_LIF`); other neurons get the same threshold where they take one.
"""

from __future__ import annotations

from snnstudio.errors import SnnStudioError

T, DT_US, SIZE = 10, 150_000, 16
_MA = {"preset": "ma_snn_gesture_small", "T": T, "dt_us": DT_US, "input_size": [2, SIZE, SIZE],
       "widths": [16, 32, 32, 64]}
_COMMON = {"epochs": 100, "batch_size": 16, "lr": 5e-3, "data": "synthetic",
           "augment": {"flip": 0.5, "shift": 1, "drop": 0.1, "time_jitter_us": 0.0}}


def _ma(neuron: str, attention: str, params: dict | None = None, size: int = SIZE, **changes) -> dict:
    m = {**_MA, "attention": attention, "input_size": [2, size, size], **changes}
    if neuron != "lif":
        m.update(neuron=neuron, neuron_params=dict(params or {}))
    return m


#: the attention comparison (default and no-attention net) is trained on 4× the data: 200 / 20
#: samples per class for train / val (the test split is the same 20 per class), at 32×32
_MORE_DATA = {"epochs": 50, "data_options": {"per_class": {"train": 200, "val": 20, "test": 20}}}

#: the default and its no-attention twin also get a read-out of 10 voting neurons per class and
#: a wider FC layer (128), and 60 epochs
_VOTE = {"widths": [16, 32, 32, 128], "options": {"vote": 10}}

RECIPES: dict[str, dict] = {
    "gesture-lif-tcsa": {"model": _ma("lif", "tcsa", size=32, **_VOTE), **_MORE_DATA, "epochs": 60},
    "gesture-lif-none": {"model": _ma("lif", "none", size=32, **_VOTE), **_MORE_DATA, "epochs": 60},
    "gesture-lif-ta": {"model": _ma("lif", "ta", size=32), **_MORE_DATA},
    "gesture-lif-ca": {"model": _ma("lif", "ca", size=32), **_MORE_DATA},
    "gesture-lif-sa": {"model": _ma("lif", "sa", size=32), **_MORE_DATA},
    # retrained on the default's recipe (its data, input, read-out and epochs; only the neuron differs)
    "gesture-plif-tcsa": {"model": _ma("plif", "tcsa", {"v_threshold": 0.3, "decay_input": False}, size=32, **_VOTE),
                          **_MORE_DATA, "epochs": 60},
    "gesture-sliding_psn-tcsa": {"model": _ma("sliding_psn", "tcsa", size=32, **_VOTE), **_MORE_DATA, "epochs": 60},
    "gesture-psu-tcsa": {"model": _ma("psu", "tcsa", {"v_threshold": 0.3}, size=32, **_VOTE), **_MORE_DATA,
                         "epochs": 60},
    "gesture-paralif_sb-tcsa": {"model": _ma("paralif_sb", "tcsa", size=32, **_VOTE), **_MORE_DATA, "epochs": 60},
    "gesture-spikformer": {"model": {"preset": "spikformer_small", "T": T, "dt_us": DT_US,
                                     "input_size": [2, SIZE, SIZE], "widths": [64]}, "lr": 2e-3},
    "gesture-ms_resnet": {"model": {"preset": "ms_resnet", "T": T, "dt_us": DT_US, "input_size": [2, SIZE, SIZE],
                                    "widths": [16, 32, 64]}, **_MORE_DATA},
    # the seed systems' own nets, each in a Compare column: same data, T, input and budget (50
    # epochs) as gesture-spikformer / gesture-ms_resnet, synthetic generator v2
    "gesture-spikformer_v2": {"model": {"preset": "spikformer_v2_small", "T": T, "dt_us": DT_US,
                                        "input_size": [2, SIZE, SIZE], "widths": [64]}, "lr": 2e-3, "epochs": 50,
                              "data_options": {"per_class": {"train": 100, "val": 20, "test": 20}}},
    # one CT layer: 16×16 → 8×8 = 64 tokens, Spikformer's token grid at this input
    "gesture-spikeformer": {"model": {"preset": "spikeformer", "T": T, "dt_us": DT_US, "input_size": [2, SIZE, SIZE],
                                      "widths": [64], "options": {"depth": 1, "heads": 4, "ct_layers": 1,
                                                                  "sta_mode": "st", "mlp_ratio": 4}},
                            "lr": 2e-3, "epochs": 50, "data_options": {"per_class": {"train": 100, "val": 20, "test": 20}}},
    "gesture-syna_resnet": {"model": {"preset": "syna_resnet", "T": T, "dt_us": DT_US, "input_size": [2, SIZE, SIZE],
                                      "widths": [16, 32, 64]}, **_MORE_DATA},
}


def recipe(name: str) -> dict:
    """The :class:`~snnstudio.train.trainer.TrainConfig` fields of bundled model ``name``."""
    if name not in RECIPES:
        raise SnnStudioError(f"no bundled recipe {name!r}; known: {', '.join(RECIPES)}")
    return {**_COMMON, "name": name, "out": f"runs/{name}", **RECIPES[name]}
