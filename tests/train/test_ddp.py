"""The distributed path: ``torchrun --nproc_per_node 2 -m snnstudio train`` on CPU (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from safetensors.torch import load_file

from .conftest import REPO, TINY_MODEL, data_args


def test_torchrun_two_processes_gloo(tiny_cache, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "snnstudio",
           "train", "--name", "tiny", "--out", str(out), "--cache-dir", str(tiny_cache), *TINY_MODEL, *data_args(),
           "--epochs", "2", "--batch-size", "4", "--no-progress", "--device", "cpu"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-2000:]
    ranks = [json.load(open(out / f"rank-{k}.json")) for k in (0, 1)]
    assert [x["world"] for x in ranks] == [2, 2]
    # DDP keeps the replicas identical: same parameters in both processes after training
    assert ranks[0]["weights_sha1"] == ranks[1]["weights_sha1"]
    # each process read its own half of the 20 training samples
    a, b = (set(x["indices_epoch_last"]) for x in ranks)
    assert not a & b and a | b == set(range(20))
    assert ranks[0]["samples_seen"] + ranks[1]["samples_seen"] == 2 * 20
    # only rank 0 printed and wrote: one line per epoch, one log, one final checkpoint
    assert r.stdout.count("epoch   1/2") == 1
    assert len(json.load(open(out / "log.json"))) == 2
    meta = json.load(open(out / "tiny.json"))["meta"]
    assert meta["processes"] == 2 and meta["test_samples"] == 10  # test counts summed over both processes
    assert load_file(str(out / "tiny.safetensors")).keys() == load_file(str(out / "last.safetensors")).keys()
