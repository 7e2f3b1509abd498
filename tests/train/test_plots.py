"""``snnstudio.train.plots``: the Pareto front against brute force, the drawn points and bars read
back from the figure and from the written PNG / SVG files, and ``snnstudio eval --plot``."""

from __future__ import annotations

import itertools
import json
import random
import re
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("matplotlib")

from snnstudio.train.plots import (  # noqa: E402
    TABLE_COLUMNS,
    PlotError,
    _si,
    colour,
    format_cells,
    draw,
    front_line,
    layer_rates,
    pareto_front,
    points,
    render,
    row_labels,
    write_plot,
)

from .conftest import run_cli  # noqa: E402

LAYERS = ("conv1.neuron", "conv2.neuron", "fc1.neuron", "fc2.neuron")


def _result(rows: list[tuple[str, float, float, float]], model: str = "m") -> dict:
    """A result as ``ablation_table`` returns it: rows ``(variant, accuracy, energy_uj, spikes)``,
    per-layer rates derived from the row index."""
    out = []
    for i, (variant, acc, energy, spikes) in enumerate(rows):
        layers = [{"name": n, "neurons": 100, "firing_rate": 0.01 * (i + 1) * (k + 1), "spikes_per_sample": 1.0}
                  for k, n in enumerate(LAYERS)]
        out.append({"model": model, "variant": variant, "accuracy": acc, "energy_uj": energy, "spike_count": spikes,
                    "firing_rate": spikes / 1e6, "sops": 300.0 * spikes, "latency_ms_per_step": 0.5 + i,
                    "layers": layers})
    return {"data": "synthetic:test", "limit": 50, "rows": out, "cancelled": False}


RESULT = _result([("as trained", 0.94, 20.4, 27402.0), ("attention=off", 0.10, 41.8, 113962.0),
                  ("neuron=plif", 0.10, 13.8, 772.0), ("ta=off", 0.90, 18.0, 30000.0)])


def _dominated(i, costs, accs) -> bool:
    return any(costs[j] <= costs[i] and accs[j] >= accs[i] and (costs[j], accs[j]) != (costs[i], accs[i])
               for j in range(len(costs)))


def test_pareto_front_by_hand_and_against_brute_force():
    # by hand: cheapest 10 %, then 90 % at 18 µJ, then 94 % at 20.4; 41.8 µJ at 10 % is beaten
    assert pareto_front([20.4, 41.8, 13.8, 18.0], [0.94, 0.10, 0.10, 0.90]) == [2, 3, 0]
    assert pareto_front([1.0, 1.0], [0.5, 0.5]) == [0, 1]  # equal points are both kept
    assert pareto_front([1.0], [0.0]) == [0]
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 9)
        costs = [rng.choice((1.0, 2.0, 3.0, 4.0)) for _ in range(n)]
        accs = [rng.choice((0.1, 0.5, 0.9)) for _ in range(n)]
        front = pareto_front(costs, accs)
        assert set(front) == {i for i in range(n) if not _dominated(i, costs, accs)}
        assert [costs[i] for i in front] == sorted(costs[i] for i in front)
    with pytest.raises(PlotError):
        pareto_front([1.0], [])


def test_points_front_line_and_layer_rates_follow_the_rows():
    pts = points(RESULT, "energy_uj")
    assert [(p.label, p.cost, p.accuracy) for p in pts] == [(r["variant"], r["energy_uj"], r["accuracy"])
                                                           for r in RESULT["rows"]]
    assert [p.on_front for p in pts] == [True, False, True, True]
    # the staircase: across at the cheaper point's accuracy, then up
    assert front_line(pts) == ([13.8, 18.0, 18.0, 20.4, 20.4], [0.10, 0.10, 0.90, 0.90, 0.94])
    # by spikes "ta=off" (30000 spikes, 90 %) is beaten by "as trained" (27402, 94 %)
    assert [p.on_front for p in points(RESULT, "spike_count")] == [True, False, True, False]
    names, rates = layer_rates(RESULT)
    assert names == list(LAYERS) and rates[2] == pytest.approx([0.03, 0.06, 0.09, 0.12])
    two = {"rows": RESULT["rows"][:2] + [{**RESULT["rows"][0], "model": "other"}]}
    assert row_labels(two) == ["m: as trained", "m: attention=off", "other: as trained"]
    assert row_labels({"rows": [RESULT["rows"][0]] * 2}) == ["as trained", "as trained (2)"]
    with pytest.raises(PlotError):
        points(RESULT, "latency")


def test_the_figure_holds_one_point_per_row_the_front_and_the_bars():
    fig = draw(RESULT)
    axes = {ax.get_gid(): ax for ax in fig.axes}
    for key in ("energy_uj", "spike_count"):
        ax = axes[key]
        scatters = {c.get_gid(): c for c in ax.collections}
        for i, r in enumerate(RESULT["rows"]):
            (x, y), = scatters[f"{key}-point-{i}"].get_offsets()
            assert (x, y) == pytest.approx((r[key], 100 * r["accuracy"]))
        texts = {t.get_text(): t.xy for t in ax.texts}
        assert texts == {r["variant"]: pytest.approx((r[key], 100 * r["accuracy"])) for r in RESULT["rows"]}
        (front,) = [ln for ln in ax.lines if ln.get_gid() == f"{key}-front"]
        xs, ys = front_line(points(RESULT, key))
        assert front.get_xdata().tolist() == pytest.approx(xs)
        assert front.get_ydata().tolist() == pytest.approx([100 * y for y in ys])
    bars = axes["layers"]
    for i, r in enumerate(RESULT["rows"]):
        heights = [p.get_height() for p in bars.patches if p.get_gid() == f"bars-{i}"]
        assert heights == pytest.approx([100 * lay["firing_rate"] for lay in r["layers"]])
    assert [t.get_text() for t in bars.get_xticklabels()] == list(LAYERS)
    (table,) = axes["table"].tables
    cells = table.get_celld()
    assert [cells[0, c].get_text().get_text() for c in range(len(TABLE_COLUMNS))] == [c for c, _ in TABLE_COLUMNS]
    for i, r in enumerate(RESULT["rows"]):
        assert [cells[i + 1, c].get_text().get_text() for c in range(len(TABLE_COLUMNS))] == format_cells(r)
    assert "table" not in {ax.get_gid() for ax in draw(RESULT, table=False).axes}
    with pytest.raises(PlotError, match="no rows"):
        draw({"rows": []})


def _pixel_centres(result: dict) -> dict[str, list[tuple[float, float]]]:
    """Where each point's centre falls in the PNG (pixels, origin top-left), from a fresh figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = draw(result)
    FigureCanvasAgg(fig).draw()
    height = fig.bbox.height
    out = {}
    for ax in fig.axes:
        if ax.get_gid() in ("energy_uj", "spike_count"):
            xy = ax.transData.transform([(r[ax.get_gid()], 100 * r["accuracy"]) for r in result["rows"]])
            out[ax.get_gid()] = [(x, height - y) for x, y in xy]
    return out


def test_png_has_each_rows_colour_where_its_point_is(tmp_path):
    from PIL import Image

    write_plot(RESULT, tmp_path / "p.png")
    img = Image.open(tmp_path / "p.png").convert("RGB")
    assert img.size == (1100, 800 + 100 * (0.22 * 5 + 0.1))  # 100 dpi: 8 in of plots, the table below
    for key, centres in _pixel_centres(RESULT).items():
        for i, (x, y) in enumerate(centres):
            want = tuple(int(colour(i)[k:k + 2], 16) for k in (1, 3, 5))
            got = img.getpixel((round(x), round(y)))
            assert max(abs(a - b) for a, b in zip(got, want)) < 12, (key, i, got, want)
    assert render(RESULT, "png") == render(RESULT, ".png")  # no date: the same result, the same bytes


def _svg_centre(group: ET.Element) -> tuple[float, float]:
    """The centre of a scatter marker in an SVG group: a ``<use x y>`` or a closed ``<path d>``."""
    ns = "{http://www.w3.org/2000/svg}"
    use = group.find(f".//{ns}use")
    if use is not None:
        return float(use.get("x")), float(use.get("y"))
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", group.find(f".//{ns}path").get("d"))]
    xs, ys = nums[0::2], nums[1::2]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _svg_points(svg: bytes, result: dict) -> dict[str, list[tuple[float, float]]]:
    """Each point of the SVG mapped back to data coordinates (cost, accuracy %) through the axes of
    a fresh figure (SVG units are points: 72 per inch, the figure 100 dpi)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    root = ET.fromstring(svg)
    groups = {g.get("id"): g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id")}
    fig = draw(result)
    FigureCanvasAgg(fig).draw()
    scale, height = fig.dpi / 72, fig.bbox.height
    out = {}
    for ax in fig.axes:
        key = ax.get_gid()
        if key in ("energy_uj", "spike_count"):
            back = ax.transData.inverted()
            out[key] = [tuple(back.transform((x * scale, height - y * scale)))
                        for x, y in (_svg_centre(groups[f"{key}-point-{i}"]) for i in range(len(result["rows"])))]
    return out


def test_svg_points_map_back_to_the_rows_and_labels_are_text(tmp_path):
    write_plot(RESULT, tmp_path / "p.svg")
    svg = (tmp_path / "p.svg").read_bytes()
    for key, pts in _svg_points(svg, RESULT).items():
        for (cost, acc), r in zip(pts, RESULT["rows"]):
            assert cost == pytest.approx(r[key], rel=1e-4)
            assert acc == pytest.approx(100 * r["accuracy"], abs=0.01)
    text = svg.decode()
    for r in RESULT["rows"]:
        assert f">{r['variant']}<" in text  # labels stay text (editable, searchable)
    for bad in ("p.pdf", "p"):
        with pytest.raises(PlotError, match="png or .svg"):
            write_plot(RESULT, tmp_path / bad)


def test_eval_plot_writes_the_rows_it_printed(tmp_path):
    """The command of the issue, end to end: the JSON rows it prints are the points in its files."""
    png, svg = tmp_path / "p.png", tmp_path / "p.svg"
    r = run_cli("eval", "--model", "default", "--set", "attention=off", "--neuron", "plif", "--data", "synthetic:test",
                "--limit", "50", "--plot", str(png), "--plot", str(svg), "--json", "--cache-dir", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert [row["variant"] for row in result["rows"]] == ["as trained", "attention=off", "neuron=plif"]
    for key, pts in _svg_points(svg.read_bytes(), result).items():
        for (cost, acc), row in zip(pts, result["rows"]):
            assert cost == pytest.approx(row[key], rel=1e-4)
            assert acc == pytest.approx(100 * row["accuracy"], abs=0.01)
    from PIL import Image

    img = Image.open(png).convert("RGB")
    for centres in _pixel_centres(result).values():
        for i, (x, y) in enumerate(centres):
            want = tuple(int(colour(i)[k:k + 2], 16) for k in (1, 3, 5))
            assert max(abs(a - b) for a, b in zip(img.getpixel((round(x), round(y))), want)) < 12
    # a bad plot path fails before the evaluation, in one line
    r = run_cli("eval", "--model", "default", "--plot", str(tmp_path / "p.pdf"))
    assert r.returncode == 1 and r.stderr.strip().endswith("write a plot as .png or .svg")
    r = run_cli("eval", "--model", "default", "--plot", str(tmp_path / "missing" / "p.png"))
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_cells_are_short_and_keep_three_significant_digits():
    assert [_si(x) for x in (772, 27402, 113962, 7.44e6, 181_000, 0.5, 1_234_567_890, 999_999)] == \
        ["772", "27.4 k", "114 k", "7.44 M", "181 k", "0.5", "1.23 G", "1 M"]
    row = {"model": "m", "variant": "v", "accuracy": 0.94, "spike_count": 27401.56, "firing_rate": 0.10204,
           "sops": 7.44e6, "energy_uj": 20.3777, "latency_ms_per_step": 1.094}
    assert format_cells(row) == ["m", "v", "94.0", "27.4 k", "10.20", "7.44 M", "20.378", "1.09"]


def test_same_label_twice_and_many_rows_keep_their_colours():
    rows = [(f"v{i}", 0.1 * (i % 10), float(i + 1), float(10 * (i + 1))) for i in range(12)]
    res = _result(rows)
    fig = draw(res)
    ax = next(a for a in fig.axes if a.get_gid() == "energy_uj")
    for i, c in itertools.product(range(12), ["energy_uj"]):
        (sc,) = [s for s in ax.collections if s.get_gid() == f"{c}-point-{i}"]
        rgba = sc.get_facecolor()[0]
        assert "#%02x%02x%02x" % tuple(round(255 * v) for v in rgba[:3]) == colour(i)
