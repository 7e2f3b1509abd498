"""``snnstudio eval``: accuracy, firing rates, spikes, SOPs, energy and latency; ablation tables.

Every ``--set`` and ``--neuron`` adds one variant (one row); several ``--model`` add rows too.
"""

from __future__ import annotations

import argparse
import json
import sys

from snnstudio.commands._options import add_filter_option, filter_spec
from snnstudio.errors import SnnStudioError

HELP = "evaluate models and variants (--set module=off, --neuron NAME) into one ablation table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=[], metavar="M",
                   help="a bundled name (see `snnstudio models`), 'default', or a checkpoint path; repeatable")
    p.add_argument("--data", default="synthetic:test",
                   help="synthetic:test (held-out), digits:test, dvsgesture:DIR[:split], videos:DIR (clips + labels.csv), "
                        "or a folder[:split]")
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N samples (class-balanced)")
    p.add_argument("--set", action="append", default=[], dest="sets", metavar="MODULE=on|off[,…]",
                   help="a variant with modules switched, e.g. attention=off or conv3.attention.ta=off; repeatable")
    p.add_argument("--neuron", action="append", default=[], metavar="NAME",
                   help="a variant with this neuron type (weights that fit are kept); repeatable")
    p.add_argument("--no-base", action="store_true", help="leave out the row of each model as trained")
    add_filter_option(p, "every sample's events (cached apart from the unfiltered frames)")
    p.add_argument("--batch-size", type=int, default=32, help="(stochastic neurons: 32 reproduces training's test figure)")
    p.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda, cuda:1 …")
    p.add_argument("--cache-dir", default="cache", help="where framed datasets are cached (default ./cache)")
    p.add_argument("--workers", type=int, default=0,
                   help="processes generating synthetic data when not cached (0: one per core, at most 4)")
    p.add_argument("--out", action="append", default=[], metavar="FILE",
                   help="also write the table: .json (everything), .csv or .md; repeatable")
    p.add_argument("--plot", action="append", default=[], metavar="FILE",
                   help="also draw accuracy vs energy, accuracy vs spikes (Pareto front) and per-layer firing "
                        "rates: .png or .svg (needs matplotlib: pip install 'snnstudio[plots]'); repeatable")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--bundled-ablation", nargs="?", const="", default=None, metavar="DIR",
                   help="evaluate every bundled checkpoint (in DIR, default resources/models) and rewrite "
                        "its ABLATION.md / ABLATION.csv")
    p.add_argument("--real", default=None, metavar="videos:DIR",
                   help="with --bundled-ablation: also evaluate every bundled model on these labelled real "
                        "clips (a folder with a labels.csv) and add a section on them")


def run(args: argparse.Namespace) -> int:
    from snnstudio.train.evaluate import ablation_table, check_table_output, table_rows, write_table
    from snnstudio.train.plots import check_plot_output, write_plot

    filters = filter_spec(args)  # a bad spec: said before anything runs
    if filters and args.bundled_ablation is not None:
        raise SnnStudioError("--filter does not apply to --bundled-ablation (the bundled tables are unfiltered)")
    for path in args.out:  # before the evaluation runs, not after
        check_table_output(path)
    for path in args.plot:
        check_plot_output(path)

    if args.bundled_ablation is not None:
        from snnstudio.train.bundled import write_bundled_ablation

        result = write_bundled_ablation(args.bundled_ablation or None, args.data, device=args.device,
                                        cache_dir=args.cache_dir, workers=args.workers, real_data=args.real,
                                        limit=args.limit)
        print(f"wrote ABLATION.md and ABLATION.csv ({len(result['rows'])} rows)")
        for path in args.plot:
            write_plot(result, path)
        return 0
    models = args.model or ["default"]
    from snnstudio.engine.spec import parse_spec

    for m in models:  # the one resolver: eval needs snnstudio checkpoints (their config says how data is framed)
        ms = parse_spec(m).check()
        if ms.kind in ("nir", "python"):
            raise SnnStudioError(f"eval measures snnstudio checkpoints on a data set framed by their config; {m} is a "
                                 f"{ms.kind} model: run it over labelled data with `snnstudio predict SOURCE --model {m}`")
    variants = list(args.sets) + [f"neuron={n}" for n in args.neuron]
    progress = None
    bar = None
    if not args.json and sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True, console=None)
        bar.start()
        task = bar.add_task("evaluating", total=None)

        def progress(done, total):
            bar.update(task, completed=done, total=total)

    try:
        result = ablation_table(models, args.data, variants, include_base=not args.no_base, limit=args.limit,
                                batch_size=args.batch_size, device=args.device, cache_dir=args.cache_dir,
                                workers=args.workers, progress=progress, filters=filters)
    finally:
        if bar is not None:
            bar.stop()
    for path in args.out:
        write_table(result, path)
    for path in args.plot:
        write_plot(result, path)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"evaluation on {args.data}" + (f" (first {args.limit})" if args.limit else "")
              + (f", events filtered: {filters}" if filters else ""))
    split = any("motion_accuracy" in r for r in result["rows"])  # classes include `other`: show it apart
    cols = ["model", "variant", "accuracy"] + (["motion", "other"] if split else [])
    for col in cols + ["spikes/sample", "firing rate", "SOPs/sample", "energy µJ", "ms/step"]:
        t.add_column(col)
    for r, row in zip(result["rows"], table_rows(result)):
        extra = [_percent(r.get("motion_accuracy")), _percent(r.get("other_accuracy"))] if split else []
        t.add_row(*row[:3], *extra, *row[3:])
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(t)
    if split:
        for r in result["rows"]:
            per = ", ".join(f"{k} {_percent(v)}" for k, v in r["per_class_accuracy"].items() if v is not None)
            console.print(f"{r['model']} ({r['variant']}) per class: {per}")
    return 0


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"
