"""``snnstudio export --model M --nir OUT.nir``: a checkpoint as a NIR graph (Neuromorphic
Intermediate Representation), for other simulators and neuromorphic hardware toolchains.

The model's layers become NIR nodes (:func:`snnstudio.snn.nir_io.export_nir`: conv, linear,
pooling, flatten, LIF/IF/CubaLIF-like neurons, BatchNorm folded into the layer before it, the vote
read-out as a fixed linear map); the graph carries its Euler time step (``metadata["dt"]``, s, the
checkpoint's frame length) and how the output is read (mean over time). What NIR cannot express is
listed in one message (attention blocks, residual shortcuts, adaptive pooling …) — the bundled
``gesture-lif-none`` (the default's twin without attention) exports; ``snnstudio gui --model
OUT.nir`` plays the graph again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a checkpoint as a NIR graph (what NIR cannot express is listed)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="M",
                   help="a bundled name (see `snnstudio models`), 'default', or a checkpoint path")
    p.add_argument("--nir", required=True, type=Path, metavar="OUT.nir", help="the graph file to write (HDF5)")


def run(args: argparse.Namespace) -> int:
    from snnstudio.engine.models import trained_sensor
    from snnstudio.safe_files import check_output
    from snnstudio.snn.checkpoints import load_checkpoint
    from snnstudio.snn.nir_io import export_zoo_model, save_nir
    from snnstudio.train.evaluate import resolve_model

    check_output(args.nir)  # before loading anything
    path = resolve_model(args.model)
    model, cfg, meta = load_checkpoint(path, device="cpu")
    model.eval()
    graph = export_zoo_model(model, cfg, trained_sensor({**(meta.get("train_config") or {}), **meta}))
    out = save_nir(graph, args.nir)
    print(f"wrote {out}: {Path(path).stem} as NIR (T = {cfg.T} steps of {cfg.dt_us / 1000:g} ms, "
          f"input {tuple(cfg.input_size)}); play it with: snnstudio gui --model {out}")
    return 0
