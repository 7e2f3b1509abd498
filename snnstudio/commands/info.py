"""``snnstudio info PATH [--json]``: what an event file holds.

Streams the file (bounded memory, any size) and reports format, sensor, event count, time
range, duration, per-polarity counts, event rate and the labels of a ``<stem>_labels.csv``
sidecar. A labels CSV itself is summarised too (format ``labels``, no events).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from snnstudio.commands._options import add_input_options, input_sensor

HELP = "show an event file's format, sensor size, events, duration, polarity counts and labels"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="event file (AEDAT 2/3.1/4, EVT2/EVT3 .raw, .dat, .bin, .npz, .h5, .csv)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_input_options(p)


def _labels_json(labels) -> list[dict]:
    return [{"class": lab.class_id, "name": lab.name, "start_us": lab.start_us, "end_us": lab.end_us}
            for lab in labels]


def summarize(path: Path, format: str | None = None, sensor_size: tuple[int, int] | None = None) -> dict:
    """The ``info`` dictionary of one file (raises :class:`EventFileError` when unreadable);
    ``format`` and ``sensor_size`` say what a headerless file is."""
    import numpy as np

    from snnstudio.events.io import detect_format, iter_event_chunks, read_labels
    from snnstudio.events.io.labels import check_labels

    name = format or detect_format(path)
    if name == "labels" and format is None:
        labels = read_labels(path)
        t0 = labels[0].start_us if labels else None
        t1 = labels[-1].end_us if labels else None
        return {"path": str(path), "format": "labels", "events": 0, "sensor_size": None, "sensor": None,
                "t_start_us": t0, "t_end_us": t1,
                "duration_s": (t1 - t0) / 1e6 if labels else 0.0, "on": 0, "off": 0, "event_rate": 0.0,
                "labels": _labels_json(labels)}
    chunks = iter_event_chunks(path, format=format, sensor_size=sensor_size)  # None: detected (and said so if guessed)
    n = n_on = 0
    t0 = t1 = None
    for ev in chunks:
        if t0 is None:
            t0 = int(ev["t"][0])
        t1 = int(ev["t"][-1])
        n += ev.shape[0]
        n_on += int(np.count_nonzero(ev["p"]))
    if n == 0:
        from snnstudio.errors import EventFileError

        raise EventFileError(path, "file holds no events")
    if chunks.labels:
        check_labels(chunks.labels, path.with_name(f"{path.stem}_labels.csv"), (t0, t1))
    duration = (t1 - t0) / 1e6
    info = {
        "path": str(path),
        "format": chunks.format,
        "events": n,
        "sensor_size": list(chunks.sensor_size) if chunks.sensor_size else None,
        "sensor": chunks.sensor,
        "t_start_us": t0,
        "t_end_us": t1,
        "duration_s": duration,
        "on": n_on,
        "off": n - n_on,
        "event_rate": n / duration if duration > 0 else 0.0,
        "labels": _labels_json(chunks.labels),
    }
    extra = {k: v for k, v in chunks.meta.items() if k in ("other_streams", "note", "sensor_size_inferred", "sensor_size_given",
                                                               "streams", "external_events")}
    if extra:
        info["meta"] = extra
    return info


def run(args: argparse.Namespace) -> int:
    info = summarize(args.path, args.in_format, input_sensor(args))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    size = "x".join(map(str, info["sensor_size"])) if info["sensor_size"] else "-"
    rows = [
        ("file", info["path"]),
        ("format", info["format"]),
        ("sensor", f"{info['sensor'] or '-'} ({size})"),
        ("events", f"{info['events']:,} ({info['on']:,} on, {info['off']:,} off)"),
        ("time", f"{info['t_start_us']} .. {info['t_end_us']} µs ({info['duration_s']:.6g} s)"),
        ("rate", f"{info['event_rate'] / 1e6:.4g} M events/s"),
        ("labels", str(len(info["labels"]))),
    ]
    for lab in info["labels"]:
        rows.append(("", f"class {lab['class']}{' ' + lab['name'] if lab['name'] else ''}: "
                         f"{lab['start_us']} .. {lab['end_us']} µs"))
    if info.get("meta", {}).get("note"):
        rows.append(("note", info["meta"]["note"]))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
