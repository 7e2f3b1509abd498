"""Help → the guide: what each panel shows and how to read it, the keyboard shortcuts (read from
the window's own actions, so the list cannot go stale), and the "what am I looking at" tooltips
of every plot (:func:`attach_plot_tips`; the texts live here, beside the guide)."""

from __future__ import annotations

import html

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

#: one short paragraph per dock (title as in the View menu) and for the central Events view
PANEL_GUIDE: dict[str, str] = {
    "Events": "The stream as the model sees it: each step's events (ON bright, OFF dark), the box the "
              "model's input is cut from, and optionally the spikes of one layer over them. Drag the box to "
              "move the region of interest on a video or camera.",
    "Source": "What plays: a recording, a video (turned into events by the emulator), a camera, the "
              "synthetic gestures. Region of interest, mirror, flicker filter, emulator settings and event "
              "filters (denoise, refractory, hot pixels…) apply live.",
    "Model": "The network that runs and its modules. Swap the neuron type, switch attention blocks off or "
             "on — a variant the weights were not trained as is said so once it has run a moment.",
    "Metrics": "Firing rate, spikes, synaptic operations (SOPs) and energy per step, over time, with the "
               "step's latency and how far playback keeps up with real time.",
    "Output": "The prediction: one bar per class (its probability), and the winning class's confidence over "
              "time. With labelled data, the right class is marked and a running accuracy is kept.",
    "Attention": "What the attention does at each block: MA-SNN's (and SynA's gates') temporal weights (one "
                 "per time step), channel weights (one per channel) and the spatial map — only the parts the "
                 "block has — and a transformer's token attention (Spikformer's SSA, Spikeformer's STA) as a "
                 "token × token map. A part whose weights are constant is said so.",
    "Layers": "One row per spiking layer: a spike raster of a fixed subset of its neurons over time, the "
              "firing rate per channel over time, and its feature maps. Click a neuron to follow its membrane.",
    "Membrane": "The membrane potential of the neurons you follow (click one in Layers), with the threshold "
                "line and a mark where it fired.",
    "Compare": "Two to four models or variants side by side on the same stream, in lock-step: each "
               "column's prediction, class bars, rasters, firing rate and running figures; differences are "
               "highlighted. Add a column with “Add column”.",
    "Evaluate": "Accuracy, spikes, SOPs and energy of several variants on a data set, as a table and as "
                "plots of accuracy against cost with the Pareto front (hover a point for its row). Export "
                "PNG, SVG, CSV or JSON.",
    "Teach": "Teach the model your gestures: record a few examples per class from the live source (or take "
             "labelled videos), fine-tune in the background, and the taught model plays at once.",
}

#: the tooltip of each plot: (where, which) → text
PLOT_TIPS: dict[tuple[str, str], str] = {
    ("Events", "view"): "Events of the newest step (ON bright, OFF dark) on the sensor; the rectangle is "
                        "what the model sees (its region of interest).",
    ("Output", "bars_plot"): "Probability of each class at the newest step; the highlighted bar is the "
                             "prediction, a marked one the label when the data has labels.",
    ("Output", "conf_plot"): "Confidence of the predicted class over the last steps (0–1).",
    ("Attention", "view"): "Attention weights of the chosen block: TA per time step, CA per channel, SA per "
                           "pixel (bright = the input there is kept, dark = scaled down).",
    ("Attention", "tokens_view"): "Token attention of the chosen block: row = query token, column = key token "
                                  "(tokens in the tokenizer's grid order, row by row), the mean over heads and "
                                  "time steps; SSA: Q·Kᵀ counts of coinciding spikes (no softmax), STA: softmax "
                                  "weights. Colours run from 0 to the map's largest value.",
    ("Layers", "view"): "Per spiking layer, left to right: spike raster (neurons × time, a fixed subset), "
                        "firing rate per channel over time, feature maps of the newest step. Click a raster "
                        "row to follow that neuron's membrane.",
    ("Membrane", "plot"): "Membrane potential of the followed neurons over time; the dashed line is the "
                          "threshold, dots mark spikes.",
    ("Compare", "view"): "This column's firing rate per layer over time and its class probabilities, on the "
                         "same stream as the other columns.",
    ("Evaluate", "energy_uj"): "Accuracy against energy per sample, one point per variant; the dashed line is "
                            "the Pareto front. Hover a point for its row of the table.",
    ("Evaluate", "spike_count"): "Accuracy against spikes per sample, one point per variant; the dashed line is "
                            "the Pareto front. Hover a point for its row of the table.",
    ("Evaluate", "layers"): "Firing rate of each layer, one bar per variant.",
}


def _set(widget, key: tuple[str, str]) -> None:
    if widget is not None:
        widget.setToolTip(PLOT_TIPS[key])


def attach_plot_tips(window) -> None:
    """Give every plot of the main window its "what am I looking at" tooltip."""
    _set(getattr(window.events, "view", None), ("Events", "view"))
    _set(getattr(window.output, "bars_plot", None), ("Output", "bars_plot"))
    _set(getattr(window.output, "conf_plot", None), ("Output", "conf_plot"))
    _set(getattr(window.attention, "view", None), ("Attention", "view"))
    _set(getattr(window.attention, "tokens_view", None), ("Attention", "tokens_view"))
    _set(getattr(window.layers, "view", None), ("Layers", "view"))
    _set(getattr(window.membrane, "plot", None), ("Membrane", "plot"))
    plots = getattr(getattr(window.evaluate, "plots", None), "plots", {})
    for key, widget in plots.items():
        _set(widget, ("Evaluate", key))


def shortcuts(window) -> list[tuple[str, str]]:
    """``(action, keys)`` of every action of ``window`` that has a shortcut, in menu text order."""
    rows = {}
    for action in window.findChildren(QAction):
        keys = [k.toString(QKeySequence.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if keys:
            rows[action.text().replace("&", "")] = " or ".join(keys)
    return sorted(rows.items(), key=lambda r: r[0].lower())


def guide_html(window) -> str:
    """The guide as HTML: the panels of ``window`` (the central view first) and its shortcuts."""
    parts = ["<h3>Panels</h3><dl>"]
    for title in ["Events", *getattr(window, "docks", {}).keys()]:
        text = PANEL_GUIDE.get(title, "")
        parts.append(f"<dt><b>{html.escape(title)}</b></dt><dd>{html.escape(text)}</dd>")
    parts.append("</dl><h3>Keyboard shortcuts</h3><table cellspacing='4'>")
    for name, keys in shortcuts(window):
        parts.append(f"<tr><td>{html.escape(keys)}</td><td>{html.escape(name)}</td></tr>")
    parts.append("</table><p>Hover any plot to see what it shows.</p>")
    return "".join(parts)


class HelpDialog(QDialog):
    """Help → Guide: :func:`guide_html` in a scrollable browser."""

    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("snnstudio — guide")
        self.resize(620, 640)
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setHtml(guide_html(window))
        lay.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
