"""``snnstudio predict SOURCE --model M``: a model's prediction timeline over any source the studio
opens, through the studio's own session (flat out for files; a live source until Ctrl-C or
``--seconds``), and how fast it recognises labelled gestures.

SOURCE: a recording path, ``video:PATH`` (or a video file path), ``webcam[:N]``,
``synthetic[:GESTURE]``, ``camera``, ``network:HOST:PORT``; or a set of labelled clips —
``videos:DIR``, a folder with a ``labels.csv``, or that ``labels.csv`` — played one by one (each
up to its gesture's end). Labels come from the recording itself, a ``<stem>_labels.csv`` sidecar
(µs), ``--labels`` (a real-video ``labels.csv`` naming this file: frames → µs at the video's
frame rate), or for a video without them the nearest ``labels.csv`` naming it (its folder or two
above, as a labelled videos folder has it). Output: the per-step timeline (``--json``: JSON lines; ``--csv FILE``; else a table
of runs of equal prediction), per gesture the prediction at its end and the time to recognition
(see :mod:`snnstudio.engine.predict`), and the accuracy (motion classes and ``other`` apart).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path

from snnstudio.commands._options import add_filter_option, add_input_options, filter_spec, input_sensor
from snnstudio.events.sources.kinds import FILE_KINDS, SELF_PACED_KINDS, source_syntax

HELP = "run a model over a source or labelled clips: per-step predictions, accuracy, time to recognition"

from snnstudio.engine.spec import add_model_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help=f"a source ({source_syntax()}), or videos:DIR / a folder or labels.csv of "
                                  "labelled clips")
    p.add_argument("--model", default="default", metavar="M",
                   help="a bundled name (see `snnstudio models`), 'default', a checkpoint .json, a .nir graph or "
                        "file.py:factory / package.module:factory (runs that code)")
    add_model_options(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON lines (one per step or clip, then a summary)")
    out.add_argument("--csv", type=Path, default=None, metavar="FILE",
                     help="write the per-step timeline (per-clip rows for a set of clips) to FILE")
    p.add_argument("--labels", type=Path, default=None, metavar="CSV",
                   help="labels: a real-video labels.csv naming this file (file,label,start_frame,end_frame,fps) "
                        "or a class,startTime_usec,endTime_usec sidecar")
    p.add_argument("--no-mirror", action="store_true", help="never mirror the picture (webcams are mirrored by default)")
    p.add_argument("--roi", default=None, metavar="CX,CY,SIDE",
                   help="region of interest: centre as fractions of width and height, side as a fraction (0-1] "
                        "of the largest square that fits (default: centred, largest)")
    p.add_argument("--dt-ms", type=float, default=None, metavar="N",
                   help="step (ms) between predictions (default: the studio's, 10 ms)")
    p.add_argument("--seconds", type=float, default=None, metavar="S",
                   help="stop after S seconds of stream time (a live source: else until Ctrl-C)")
    add_filter_option(p, "every source's events (as the studio's Source panel does)")
    add_input_options(p)


# ---------------------------------------------------------------------------------------------
# options


def parse_roi(text: str | None) -> tuple[float, float, float] | None:
    from snnstudio.errors import SnnStudioError

    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        cx, cy, side = (float(p) for p in parts)
    except ValueError:
        raise SnnStudioError(f"--roi takes CX,CY,SIDE (three fractions, e.g. 0.5,0.4,0.8), got {text!r}") from None
    return cx, cy, side


def preprocess_of(args: argparse.Namespace):
    """The one :class:`~snnstudio.events.preprocess.Preprocess` every source of this run goes through."""
    from snnstudio.events.preprocess import Preprocess

    return Preprocess(roi=parse_roi(args.roi), mirror=False if args.no_mirror else None)


def clips_source(source: str) -> Path | None:
    """The labels.csv of a set of clips (``videos:DIR``, a folder with one, or the CSV), else ``None``."""
    from snnstudio.train.videos import LABELS_NAME, labels_csv_of, looks_like_video_labels

    if source.startswith("videos:"):
        return labels_csv_of(source[len("videos:"):])
    p = Path(source)
    if p.is_dir() and (p / LABELS_NAME).is_file():
        return p / LABELS_NAME
    if looks_like_video_labels(p):
        return p
    return None


# ---------------------------------------------------------------------------------------------
# labels → gestures


def _gestures_from_labels(labels, class_names, class_map: dict | None) -> list:
    """Recording / sidecar labels (µs) → :class:`Gesture` s of the model's classes (by name where the
    label has one, else its id taken as the model's class index; others are skipped with a warning)."""
    from snnstudio.engine.predict import Gesture
    from snnstudio.errors import SnnStudioWarning

    names = list(class_names)
    out, skipped, by_id = [], [], False
    for lb in labels:
        name = lb.name or (class_map or {}).get(lb.class_id)
        if name is not None and name in names:
            cid = names.index(name)
        elif name is None and 0 <= lb.class_id < len(names):
            cid, by_id = lb.class_id, True
        else:
            skipped.append(name or str(lb.class_id))
            continue
        out.append(Gesture(cid, int(lb.start_us), int(lb.end_us), names[cid]))
    if by_id:
        warnings.warn("labels carry no class names: their ids are taken as the model's class indices", SnnStudioWarning,
                      stacklevel=2)
    if skipped:
        warnings.warn(f"{len(skipped)} label(s) of classes the model does not have were skipped "
                      f"({', '.join(sorted(set(skipped)))})", SnnStudioWarning, stacklevel=2)
    return out


def _clip_gestures(clips, class_names, clip_end_us: int) -> list:
    """Real-video rows → gestures; ``clip_end_us``: where the played clip ended (its last step's end)."""
    from snnstudio.engine.predict import Gesture
    from snnstudio.train.videos import class_index, gesture_end_us

    return [Gesture(class_index(class_names, c.label, f"line {c.line}"), c.start_us, gesture_end_us(c, clip_end_us),
                    c.label) for c in clips]


def _rows_for_video(csv_path: Path, video: Path) -> list:
    """The rows of a real-video labels.csv that name ``video`` (same file, else same file name)."""
    from snnstudio.errors import SnnStudioError
    from snnstudio.train.videos import read_video_labels

    rows = read_video_labels(csv_path, check_files=False)
    target = video.resolve()
    hits = [r for r in rows if r.path == target] or [r for r in rows if r.path.name == video.name]
    if not hits:
        raise SnnStudioError(f"{csv_path}: no row names {video.name}")
    return hits


# ---------------------------------------------------------------------------------------------
# output


def _step_json(step, names) -> dict:
    name = names[step.predicted] if step.predicted is not None and step.predicted < len(names) else None
    return {"type": "step", "t_start_us": step.t_start_us, "t_end_us": step.t_end_us, "class": step.predicted,
            "predicted": name, "confidence": round(step.confidence, 6),
            "probabilities": {n: round(p, 6) for n, p in zip(names, step.probabilities)}, "label": step.label}


def _result_json(r, names) -> dict:
    g = r.gesture
    return {"label": g.name or names[g.class_id], "start_us": g.start_us, "end_us": g.end_us,
            "predicted": names[r.predicted] if r.predicted is not None else None, "correct": r.correct,
            "ttr_ms": None if r.ttr_us is None else r.ttr_us / 1000, "steps": r.steps}


def write_timeline_csv(path: Path, steps, names) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["t_start_us", "t_end_us", "class", "predicted", "confidence", "label", *(f"p_{n}" for n in names)])
        for s in steps:
            pred = names[s.predicted] if s.predicted is not None else ""
            w.writerow([s.t_start_us, s.t_end_us, "" if s.predicted is None else s.predicted, pred,
                        f"{s.confidence:.6f}", "" if s.label is None else s.label, *(f"{p:.6f}" for p in s.probabilities)])


def prediction_runs(steps, names) -> list[tuple[int, int, str, float, float, int]]:
    """Runs of equal prediction: ``(from_us, to_us, class, mean confidence, max confidence, steps)``."""
    runs = []
    for s in steps:
        name = names[s.predicted] if s.predicted is not None else "-"
        if runs and runs[-1][2] == name:
            a, _, n, mean, mx, k = runs[-1]
            runs[-1] = (a, s.t_end_us, n, (mean * k + s.confidence) / (k + 1), max(mx, s.confidence), k + 1)
        else:
            runs.append((s.t_start_us, s.t_end_us, name, s.confidence, s.confidence, 1))
    return runs


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _ms(x) -> str:
    return "-" if x is None else f"{x:.0f} ms"


def _console():
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=140)


def _print_summary(console, summary: dict, per_class: bool) -> None:
    console.print(f"accuracy at the gesture's end: {_pct(summary['accuracy'])} of {summary['gestures']} "
                  f"(motion classes {_pct(summary['motion_accuracy'])} of {summary['motion_gestures']}, "
                  f"other {_pct(summary['other_accuracy'])} of {summary['other_gestures']}); "
                  f"recognised {summary['recognised']}; median time to recognition (motion) "
                  f"{_ms(summary['median_ttr_ms'])}, (all) {_ms(summary['median_ttr_ms_all'])}")
    if per_class and summary["per_class"]:
        console.print("per class: " + ", ".join(f"{k} {_pct(v['accuracy'])} ({v['samples']})"
                                                for k, v in summary["per_class"].items()))


# ---------------------------------------------------------------------------------------------
# run


def run(args: argparse.Namespace) -> int:
    from snnstudio.engine.predict import Predictor

    pre = preprocess_of(args)
    dt_us = None if args.dt_ms is None else int(round(args.dt_ms * 1000))
    clips_csv = clips_source(args.source)
    from snnstudio.engine.spec import model_option

    with Predictor(model_option(args.model, args.weights, args.dt_us), dt_us, pre, filters=filter_spec(args)) as predictor:
        if clips_csv is not None:
            return _run_clips(args, predictor, clips_csv)
        return _run_source(args, predictor)


def _run_source(args: argparse.Namespace, predictor) -> int:
    from snnstudio.engine.predict import score_gesture, summarize
    from snnstudio.errors import SnnStudioError
    from snnstudio.events.sources import parse_source_spec

    spec = args.source
    kind, arg = parse_source_spec(spec)  # a bare video path is kind "video" (VIDEO_EXTENSIONS)
    if kind != "file" and (args.in_format or args.sensor):
        raise SnnStudioError(f"--format and --sensor describe an event file, not a {kind} source")
    if kind == "video" and not spec.lower().startswith("video:"):
        spec = f"video:{spec}"
    target, labels, class_map, clips = spec, [], None, None
    found_labels = False  # clips from a labels.csv found beside the video (not asked for)
    if kind == "file":
        from snnstudio.events.io import read_events
        from snnstudio.events.sources import parse_file_spec

        _, spec_format, spec_sensor = parse_file_spec(spec)  # file[format=…,sensor=…]:PATH says it too
        path = Path(arg)
        if not path.is_file():
            raise SnnStudioError(f"{path}: no such file")
        # its labels (and a <stem>_labels.csv sidecar); the session gets this recording
        rec = read_events(path, format=args.in_format or spec_format, sensor_size=input_sensor(args) or spec_sensor)
        target, labels, class_map = rec, list(rec.labels), rec.meta.get("class_names")
    elif kind == "video":
        path = Path(arg or "")
        if not path.is_file():
            raise SnnStudioError(f"{path}: no such video file")
        from snnstudio.events.io.labels import read_labels, sidecar_path

        if args.labels is None and sidecar_path(path).is_file():
            labels = read_labels(sidecar_path(path))
        elif args.labels is None:  # a labelled videos folder's labels.csv naming it (as the studio shows)
            from snnstudio.train.videos import labels_for_video, native_fps, with_stamped_fps

            found = labels_for_video(path)
            if found:
                fps = native_fps(path)
                clips, found_labels = [with_stamped_fps(c, fps) for c in found], True
    if args.labels is not None:
        from snnstudio.train.videos import looks_like_video_labels

        if not args.labels.is_file():
            raise SnnStudioError(f"{args.labels}: no such labels file")
        if looks_like_video_labels(args.labels):
            if kind != "video":
                raise SnnStudioError(f"{args.labels}: frame labels need a video source (video:PATH)")
            from snnstudio.train.videos import native_fps, with_stamped_fps

            fps = native_fps(path)
            clips = [with_stamped_fps(c, fps) for c in _rows_for_video(args.labels, path)]
        else:
            from snnstudio.events.io.labels import read_labels

            labels = read_labels(args.labels)
    on_step = None
    if args.json:
        def on_step(step):
            print(json.dumps(_step_json(step, predictor.class_names)), flush=True)
    elif args.csv is None and kind in SELF_PACED_KINDS:
        console = _console()
        last = [None]

        def on_step(step):
            if step.predicted != last[0]:
                last[0] = step.predicted
                names = predictor.class_names
                name = names[step.predicted] if step.predicted is not None and step.predicted < len(names) else "-"
                console.print(f"{step.t_end_us / 1e6:9.2f} s  {name:<12} {100 * step.confidence:5.1f} %")
    tl = predictor.run(target, seconds=args.seconds, on_step=on_step, name=args.source)
    names = list(tl.class_names)
    if not tl.steps:
        raise SnnStudioError(f"{args.source}: the session made no step (too short, or no events)")
    end = tl.steps[-1].t_end_us
    if clips is not None and found_labels and args.seconds is not None:
        # a run cut short: score the labels found beside the video that end within it
        clips = [c for c in clips if c.end_frame is not None and c.end_us() <= end]
    if clips is not None:
        gestures = _clip_gestures(clips, names, end)
    else:
        if not labels and kind not in FILE_KINDS:  # a live labelled source (synthetic): its own ground truth
            from snnstudio.engine.predict import labels_from_steps

            labels, class_map = labels_from_steps(tl.steps, tl.source_classes), tl.source_classes
        gestures = _gestures_from_labels(labels, names, class_map)
    results = [score_gesture(tl.steps, g) for g in gestures]
    summary = summarize(results, names) if results else None
    if args.json:
        for r in results:
            print(json.dumps({"type": "gesture", **_result_json(r, names)}))
        print(json.dumps({"type": "summary", "source": args.source, "model": tl.model, "step_ms": tl.step_us / 1000,
                          "steps": len(tl.steps), "preprocess": tl.preprocess_note, **(summary or {})}))
        return 0
    if args.csv is not None:
        write_timeline_csv(args.csv, tl.steps, names)
    from rich.table import Table

    console = _console()
    head = f"{tl.model} on {args.source}: {len(tl.steps)} steps of {tl.step_us / 1000:g} ms"
    if tl.preprocess_note:
        head += f" ({tl.preprocess_note})"
    if args.csv is None:
        t = Table(title=head)
        for col in ("from s", "to s", "predicted", "mean conf", "max conf", "steps"):
            t.add_column(col)
        for a, b, n, mean, mx, k in prediction_runs(tl.steps, names):
            t.add_row(f"{a / 1e6:.2f}", f"{b / 1e6:.2f}", n, f"{100 * mean:.1f} %", f"{100 * mx:.1f} %", str(k))
        console.print(t)
    else:
        console.print(f"{head}; timeline written to {args.csv}")
    if results:
        _print_gestures(console, results, names)
        _print_summary(console, summary, per_class=False)
    return 0


def _print_gestures(console, results, names) -> None:
    from rich.table import Table

    t = Table(title="labelled gestures")
    for col in ("label", "from s", "to s", "predicted at end", "right", "time to recognition"):
        t.add_column(col)
    for r in results:
        g = r.gesture
        t.add_row(g.name or names[g.class_id], f"{g.start_us / 1e6:.2f}", f"{g.end_us / 1e6:.2f}",
                  names[r.predicted] if r.predicted is not None else "-", "yes" if r.correct else "no",
                  _ms(None if r.ttr_us is None else r.ttr_us / 1000))
    console.print(t)


def _run_clips(args: argparse.Namespace, predictor, csv_path: Path) -> int:
    from snnstudio.engine.predict import score_gesture, summarize
    from snnstudio.train.videos import native_fps, read_video_labels, with_stamped_fps

    clips = read_video_labels(csv_path)
    show = not args.json and sys.stderr.isatty()
    rows, results, names = [], [], []
    for i, clip in enumerate(clips):
        clip = with_stamped_fps(clip, native_fps(clip.path))
        if show:
            print(f"[{i + 1}/{len(clips)}] {clip.path.name}", file=sys.stderr, end="\r", flush=True)
        stop = None if clip.whole_clip else clip.end_us()
        tl = predictor.run(f"video:{clip.path}", stop_us=stop, seconds=args.seconds, name=str(clip.path))
        names = list(tl.class_names)
        end = tl.steps[-1].t_end_us if tl.steps else 0
        (g,) = _clip_gestures([clip], names, end)
        r = score_gesture(tl.steps, g)
        results.append(r)
        rel = clip.path.relative_to(csv_path.parent.resolve()) if clip.path.is_relative_to(csv_path.parent.resolve()) \
            else clip.path
        row = {"type": "clip", "file": str(rel), **_result_json(r, names),
               "confidence_at_end": _confidence_at_end(tl.steps, g)}
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if show:
        print(" " * 60, file=sys.stderr, end="\r")
    summary = summarize(results, names)
    if args.json:
        print(json.dumps({"type": "summary", "data": str(csv_path), "model": args.model, **summary}))
        return 0
    if args.csv is not None:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            keys = ["file", "label", "start_us", "end_us", "predicted", "correct", "ttr_ms", "confidence_at_end", "steps"]
            w = csv.DictWriter(f, keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    from rich.table import Table

    console = _console()
    t = Table(title=f"{args.model} on {csv_path.parent} ({len(rows)} clips)")
    for col in ("file", "label", "predicted at end", "conf", "right", "time to recognition"):
        t.add_column(col)
    for row in rows:
        t.add_row(row["file"], row["label"], row["predicted"] or "-", _pct(row["confidence_at_end"]),
                  "yes" if row["correct"] else "no", _ms(row["ttr_ms"]))
    console.print(t)
    _print_summary(console, summary, per_class=True)
    return 0


def _confidence_at_end(steps, g) -> float | None:
    from snnstudio.engine.predict import gesture_steps

    inside = gesture_steps(steps, g.start_us, g.end_us)
    return inside[-1].confidence if inside else None
