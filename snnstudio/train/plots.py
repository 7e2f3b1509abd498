"""Plots of an evaluation (:func:`snnstudio.train.evaluate.ablation_table`'s result): accuracy
against cost, and per-layer firing rates. Torch-free and Qt-free.

Two halves:

* the *data* of the plots — :func:`points` (one :class:`Point` per row: accuracy against
  ``energy_uj`` or ``spike_count``), :func:`pareto_front` (the rows no other row beats on both
  accuracy and cost) and :func:`layer_rates` (per-layer firing rate of every row) — plain Python,
  shared by the headless files below and the Evaluate panel's live pyqtgraph plots, so both show
  the same points;
* :func:`draw` / :func:`write_plot` — one figure (accuracy vs energy, accuracy vs spikes, and
  grouped bars of per-layer firing rate per variant) written as ``.png`` or ``.svg``.

Why matplotlib (the optional extra ``snnstudio[plots]``) and not pyqtgraph's exporters:
pyqtgraph's ``ImageExporter`` / ``SVGExporter`` need a ``QApplication`` (a Qt platform plugin, a
Qt import in a process that ``train/`` must keep Qt-free), and its SVG exporter writes the scene's
items, not text labels, reliably. Matplotlib's Agg and SVG backends are pure-C++/Python renderers
with no display; they are used through :class:`matplotlib.figure.Figure` directly (never
``pyplot``, which picks an interactive backend — QtAgg when PySide6 is installed — and keeps
global state), so writing a plot touches no GUI toolkit and is safe from any thread or process.

Units: energy in µJ per sample, spikes per sample, accuracy and firing rates as fractions
(drawn as %).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from snnstudio.errors import SnnStudioError

#: the cost axes: row key → axis title
COSTS = {"energy_uj": "energy per sample (µJ)", "spike_count": "spikes per sample"}
#: the file types :func:`write_plot` writes
PLOT_SUFFIXES = (".png", ".svg")
#: one colour per variant, in row order (matplotlib's tab10), used by the files and the panel
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


class PlotError(SnnStudioError):
    """A plot that cannot be drawn or written (no rows, unknown file type, matplotlib missing)."""


@dataclass(frozen=True)
class Point:
    """One row on an accuracy-vs-cost plot: ``cost`` in the unit of :data:`COSTS` ``[key]``,
    ``accuracy`` a fraction; ``row`` is its index in ``result["rows"]``."""

    row: int
    label: str
    cost: float
    accuracy: float
    on_front: bool


def row_labels(result: dict) -> list[str]:
    """A short, unique name per row: the variant, prefixed with the model when there are several
    models (``gesture-lif-tcsa: attention=off``)."""
    rows = result["rows"]
    several = len({r["model"] for r in rows}) > 1
    out = [f"{r['model']}: {r['variant']}" if several else str(r["variant"]) for r in rows]
    seen: dict[str, int] = {}
    for i, text in enumerate(out):  # the same variant twice (a repeated --set): number them
        if text in seen:
            seen[text] += 1
            out[i] = f"{text} ({seen[text]})"
        else:
            seen[text] = 1
    return out


def pareto_front(costs: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates (cost ≤ and accuracy ≥, one of them strictly),
    in order of increasing cost: the best accuracy reachable at each cost. Equal points are all kept."""
    n = len(costs)
    if len(accuracies) != n:
        raise PlotError(f"{n} costs but {len(accuracies)} accuracies")
    keep = []
    for i in range(n):
        dominated = any(costs[j] <= costs[i] and accuracies[j] >= accuracies[i]
                        and (costs[j] < costs[i] or accuracies[j] > accuracies[i]) for j in range(n))
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: (costs[i], -accuracies[i]))


def points(result: dict, cost: str) -> list[Point]:
    """One :class:`Point` per row of ``result`` (row order): ``row[cost]`` against ``row["accuracy"]``."""
    if cost not in COSTS:
        raise PlotError(f"cost must be one of {', '.join(COSTS)}, got {cost!r}")
    rows = result["rows"]
    costs = [float(r[cost]) for r in rows]
    accs = [float(r["accuracy"]) for r in rows]
    front = set(pareto_front(costs, accs))
    return [Point(i, label, c, a, i in front) for i, (label, c, a) in enumerate(zip(row_labels(result), costs, accs))]


def front_line(pts: Sequence[Point]) -> tuple[list[float], list[float]]:
    """The Pareto front of ``pts`` as a staircase ``(costs, accuracies)``: from the cheapest front
    point, across at its accuracy to the next front point's cost, up to its accuracy, … (the best
    accuracy reachable at each cost)."""
    front = sorted((p for p in pts if p.on_front), key=lambda p: (p.cost, -p.accuracy))
    xs, ys = [], []
    for p in front:
        if xs:
            xs.append(p.cost)
            ys.append(ys[-1])
        xs.append(p.cost)
        ys.append(p.accuracy)
    return xs, ys


def layer_rates(result: dict) -> tuple[list[str], list[list[float]]]:
    """``(layer names, rates)``: the neuron layers in network order (the union over rows, first
    seen first) and, per row, each layer's firing rate (spikes / neuron-steps; NaN where a row has
    no such layer, e.g. another model)."""
    names: list[str] = []
    for r in result["rows"]:
        for lay in r.get("layers", ()):
            if lay["name"] not in names:
                names.append(lay["name"])
    rates = []
    for r in result["rows"]:
        by_name = {lay["name"]: float(lay["firing_rate"]) for lay in r.get("layers", ())}
        rates.append([by_name.get(n, float("nan")) for n in names])
    return names, rates


#: the headline columns of the Evaluate panel's table and of a plot's table: ``(title, tooltip)``
TABLE_COLUMNS = (
    ("model", "model (bundled name or checkpoint)"),
    ("variant", "the model as trained, or with modules switched off / another neuron"),
    ("acc. %", "top-1 accuracy on the evaluated samples (%)"),
    ("spikes", "spikes per sample, all neuron layers (k = thousand, M = million)"),
    ("rate %", "firing rate: spikes / neuron-steps over all neuron layers (%)"),
    ("SOPs", "synaptic operations (accumulates) per sample"),
    ("µJ", "energy per sample (µJ): 4.6 pJ per MAC + 0.9 pJ per accumulate"),
    ("ms/step", "latency of one time step (ms), batch 1, on the evaluation device"),
)


def _si(x: float) -> str:
    """Three significant digits with k / M / G: ``27402 → 27.4 k``, ``7.44e6 → 7.44 M``, ``772 → 772``."""
    v = float(f"{x:.3g}")  # rounded first, so 999 999 is "1 M", not "1e+03 k"
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


def format_cells(row: dict) -> list[str]:
    """One row's cells under :data:`TABLE_COLUMNS` (short enough for a narrow dock)."""
    return [str(row["model"]), str(row["variant"]), f"{100 * row['accuracy']:.1f}", _si(row["spike_count"]),
            f"{100 * row['firing_rate']:.2f}", _si(row["sops"]), f"{row['energy_uj']:.3f}",
            f"{row['latency_ms_per_step']:.2f}"]


def colour(i: int) -> str:
    """The colour of row ``i`` (hex ``#rrggbb``)."""
    return PALETTE[i % len(PALETTE)]


def _title(result: dict) -> str:
    limit, filters = result.get("limit"), result.get("filters")
    return (f"evaluation on {result.get('data', '?')}" + (f" (first {limit} samples)" if limit else "")
            + (f", events filtered: {filters}" if filters else ""))


# ---------------------------------------------------------------------------------------------
# the figure (matplotlib, imported only here)


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("plots need matplotlib: pip install 'snnstudio[plots]' (or pip install matplotlib)") from None
    return matplotlib, Figure


def _scatter(ax, pts: list[Point], key: str) -> None:
    xs, ys = front_line(pts)
    if len(xs) > 1:
        ax.plot(xs, [100 * y for y in ys], color="0.35", lw=1.2, ls="--", zorder=1, label="Pareto front",
                gid=f"{key}-front")
    for p in pts:
        ax.scatter([p.cost], [p.accuracy * 100], s=70 if p.on_front else 45, color=colour(p.row),
                   edgecolors="black" if p.on_front else "none", linewidths=1.0, zorder=3, gid=f"{key}-point-{p.row}")
        ax.annotate(p.label, (p.cost, p.accuracy * 100), xytext=(5, 5), textcoords="offset points", fontsize=8,
                    zorder=2)  # under the markers: a label never hides a point
    ax.set_xlabel(COSTS[key])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-5, 108)
    lo = min(p.cost for p in pts)
    hi = max(p.cost for p in pts)
    pad = 0.12 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1.0)
    ax.set_xlim(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + 1.6 * pad)  # room for the labels
    ax.grid(True, alpha=0.3)
    if len(xs) > 1:
        ax.legend(loc="lower right", fontsize=8)


def draw(result: dict, table: bool = True):
    """The figure of ``result`` (a :class:`matplotlib.figure.Figure`, no pyplot, no GUI backend):
    top left accuracy vs energy, top right accuracy vs spike count (a point per row, labelled, the
    Pareto front dashed, its points ringed), below the per-layer firing rate of every row as
    grouped bars, and with ``table`` the rows' headline figures (:func:`format_cells`) at the
    bottom, each row's cells in its colour's tint (axes ``gid`` ``table``). ``gid``s (ids in an SVG): axes ``energy_uj``, ``spike_count``, ``layers``; the
    point of row ``i`` ``energy_uj-point-i`` / ``spike_count-point-i``, the fronts ``energy_uj-front``
    / ``spike_count-front``, row ``i``'s bars ``bars-i``."""
    rows = result.get("rows") or []
    if not rows:
        raise PlotError("nothing to plot: the evaluation has no rows")
    _, Figure = _matplotlib()
    names, rates = layer_rates(result)
    labels = row_labels(result)
    n = len(rows)
    table_h = 0.22 * (n + 1) + 0.1 if table else 0.0  # inches
    fig = Figure(figsize=(11, 8 + table_h), dpi=100, layout="constrained")
    grid = fig.add_gridspec(3 if table else 2, 2, height_ratios=(4.0, 3.6, table_h) if table else (1.1, 1))
    for col, key in enumerate(COSTS):
        ax = fig.add_subplot(grid[0, col])
        ax.set_gid(key)
        _scatter(ax, points(result, key), key)
    ax = fig.add_subplot(grid[1, :])
    ax.set_gid("layers")
    width = 0.8 / n
    for i, (label, row_rates) in enumerate(zip(labels, rates)):
        xs = [k + (i - (n - 1) / 2) * width for k in range(len(names))]
        ax.bar(xs, [100 * r for r in row_rates], width=width, color=colour(i), label=label, gid=f"bars-{i}")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("firing rate (%)")
    ax.set_title("per-layer firing rate (spikes / neuron-step)", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=min(n, 4))
    if table:
        ax = fig.add_subplot(grid[2, :])
        ax.set_gid("table")
        ax.axis("off")
        tint = [[colour(i) + "30"] * len(TABLE_COLUMNS) for i in range(n)]  # ~19 % alpha
        t = ax.table(cellText=[format_cells(r) for r in rows], colLabels=[c for c, _ in TABLE_COLUMNS],
                     cellColours=tint, loc="center", cellLoc="right")
        t.auto_set_font_size(False)
        t.set_fontsize(8)
        t.auto_set_column_width(list(range(len(TABLE_COLUMNS))))
        t.scale(1.0, 1.2)
    fig.suptitle(_title(result), fontsize=11)
    # lay out once (Agg's text metrics) and freeze: the PNG and the SVG then put every point at the
    # same place (the SVG renderer measures text a little differently and would shift the axes)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    fig.set_layout_engine("none")
    return fig


def check_plot_output(path: str | os.PathLike) -> Path:
    """Raise :class:`PlotError` unless :func:`write_plot` can write ``path`` (``.png`` / ``.svg``,
    matplotlib importable, a writable folder) — checked before a long evaluation."""
    from snnstudio.safe_files import check_output

    p = Path(path)
    if p.suffix.lower() not in PLOT_SUFFIXES:
        raise PlotError(f"{p}: write a plot as {' or '.join(PLOT_SUFFIXES)}")
    _matplotlib()
    return check_output(p, error=lambda q, problem: PlotError(f"{q}: {problem}"))


def render(result: dict, fmt: str, table: bool = True) -> bytes:
    """The plot of ``result`` as ``png`` or ``svg`` bytes (``table``: see :func:`draw`)."""
    fmt = fmt.lower().lstrip(".")
    if "." + fmt not in PLOT_SUFFIXES:
        raise PlotError(f"a plot is {' or '.join(PLOT_SUFFIXES)}, not {fmt!r}")
    fig = draw(result, table)
    buf = io.BytesIO()
    # metadata: no date, so the same result gives the same file
    meta = {"Software": "snnstudio"} if fmt == "png" else {"Date": None, "Creator": "snnstudio"}
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "snnstudio"}):  # SVG text stays text
        fig.savefig(buf, format=fmt, metadata=meta)
    return buf.getvalue()


def write_plot(result: dict, path: str | os.PathLike, table: bool = True) -> Path:
    """Write the plot of ``result`` to ``path`` (``.png`` at 100 dpi, 1100 px wide, or ``.svg``),
    with the rows' table under it (``table``); a temp file renamed into place (never half-written)."""
    from snnstudio.safe_files import atomic_write

    p = Path(path)
    if p.suffix.lower() not in PLOT_SUFFIXES:
        raise PlotError(f"{p}: write a plot as {' or '.join(PLOT_SUFFIXES)}")
    data = render(result, p.suffix, table)
    with atomic_write(p, "wb", error=lambda q, problem: PlotError(f"{q}: {problem}")) as (_, f):
        f.write(data)
    return p
