"""Teach panel: record a few examples per class from the live source and fine-tune the loaded
model on them in the background.

The loaded model's classes are listed with their example counts; a new class name can be added.
**Record** on a class counts down (``countdown_s``, 3-2-1), shows "now!", then takes the next
``T × dt`` of the stream (the model's window, e.g. 10 × 150 ms) as one example: the snapshots'
count frames summed per model frame over the model's input box and pooled to its input size
(:class:`snnstudio.engine.teach.ExampleRecorder`) — the frames the model itself sees.
**Fine-tune** runs :func:`snnstudio.train.finetune.finetune` (adapt auto) through
:class:`~snnstudio.engine.teach.FinetuneJob` — in a process of its own when the studio's engine
runs in one, so the window never loads torch; the job's callbacks only queue items that a timer
on the GUI thread drains. When it is done the taught checkpoint (saved in the user's models
folder) is loaded at once and the held-out accuracy before → after is said; **Cancel** keeps the
old model running.

The examples are saved with the taught checkpoint (``examples/NAME-examples.aedat4`` in the
models folder, with its labels and teaching sidecars, :mod:`snnstudio.engine.teach_store`, named
in the checkpoint's metadata), or at any time with **Save examples…**; **Reopen examples…** adds a
saved session's examples back (from its ``.aedat4``, its ``.json`` or the taught checkpoint) when
the loaded model takes the same framing, so a session can be extended and fine-tuned again.
"""

from __future__ import annotations

import os
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from snnstudio.engine.teach import NOT_CHECKPOINTS, ExampleRecorder, FinetuneJob, FinetuneRequest
from snnstudio.engine.teach_store import ExampleSet, ExamplesFileError, TaughtExample, load_examples, save_examples
from snnstudio.engine.types import ModelInfo
from snnstudio.gui.job_inbox import JobInbox


class TeachPanel(QWidget):
    """See the module docstring. ``examples``: class name → list of ``[T, 2, h, w]`` uint16;
    ``origins``: class name → per example ``(source_t_start_us, rate_factor)`` (kept in step)."""

    #: a fine-tuning run ended: its result dict, or ``None`` (cancelled / failed)
    finished = Signal(object)
    #: an example was recorded (class name)
    recorded = Signal(str)

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        #: seconds of 3-2-1 before an example is taken (tests: 0)
        self.countdown_s = 3
        #: fine-tuning epochs (``None``: finetune's default for the adapt mode)
        self.epochs: int | None = None
        self.copies = 8
        self.examples: dict[str, list[np.ndarray]] = {}
        self.origins: dict[str, list[tuple[int | None, float]]] = {}
        self.added: list[str] = []  # class names the user added (not in the model yet)
        self._info: ModelInfo | None = None
        self._framing: tuple | None = None  # (T, dt_us, input_hw) the examples were cut for
        self._recorder: ExampleRecorder | None = None
        self._recording: str | None = None
        self._rate = 1.0  # the event-rate gain of the example being recorded
        self._count = 0
        self.job: FinetuneJob | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        self.header = QLabel("no model")
        self.header.setObjectName("muted")
        self.header.setWordWrap(True)
        lay.addWidget(self.header)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(("class", "examples", ""))
        self.tree.setMinimumHeight(60)
        lay.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("new class name")
        self.new_name.returnPressed.connect(self._add_from_field)
        self.add_button = QPushButton("Add class")
        self.add_button.clicked.connect(self._add_from_field)
        self.delete_button = QPushButton("Delete example")
        self.delete_button.setToolTip("delete the selected example (or a class you added, with its examples)")
        self.delete_button.clicked.connect(self.delete_selected)
        row.addWidget(self.new_name, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.delete_button)
        lay.addLayout(row)
        self.cue = QLabel("")
        self.cue.setAlignment(Qt.AlignCenter)
        font = self.cue.font()
        font.setPointSize(max(14, font.pointSize() * 2))
        font.setBold(True)
        self.cue.setFont(font)
        lay.addWidget(self.cue)
        frow = QHBoxLayout()
        self.save_button = QPushButton("Save examples…")
        self.save_button.setToolTip("save the recorded examples (AEDAT4 with a labels sidecar) to reopen later")
        self.save_button.clicked.connect(self._save_dialog)
        self.reopen_button = QPushButton("Reopen examples…")
        self.reopen_button.setToolTip("add saved examples back (their .aedat4, or a taught checkpoint)")
        self.reopen_button.clicked.connect(self._reopen_dialog)
        frow.addWidget(self.save_button)
        frow.addWidget(self.reopen_button)
        frow.addStretch(1)
        lay.addLayout(frow)
        brow = QHBoxLayout()
        self.stop_button = QPushButton("Stop recording")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_recording)
        self.tune_button = QPushButton("Fine-tune")
        self.tune_button.clicked.connect(self.fine_tune)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        brow.addWidget(self.stop_button)
        brow.addStretch(1)
        brow.addWidget(self.tune_button)
        brow.addWidget(self.cancel_button)
        lay.addLayout(brow)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        lay.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)

        self._tick = QTimer(self)  # the countdown
        self._tick.setSingleShot(True)
        self._tick.timeout.connect(self._count_down)
        # the job's callbacks, run here on the GUI thread
        self._inbox = JobInbox(self, lambda: self.job is not None and self.job.running)
        model.model_changed.connect(self.show_model)
        model.snapshots.connect(self._on_snapshots)

    # ------------------------------------------------------------------ classes and examples
    @property
    def classes(self) -> list[str]:
        """The model's classes, then the ones added here."""
        names = list(self._info.class_names) if self._info is not None else []
        return names + [n for n in self.added if n not in names]

    def framing(self, info: ModelInfo | None = None) -> tuple[int, int, tuple[int, int]] | None:
        """``(T, dt_us, (h, w))`` of the model's input, or ``None`` when not known."""
        info = info or self._info
        if info is None:
            return None
        dt = info.trained_frame_us or info.frame_us or info.step_us
        hw = tuple(info.input_hw) if info.input_hw else None
        if not dt or hw is None:
            return None
        return int(info.window_T), int(dt), hw

    def show_model(self, info: ModelInfo | None) -> None:
        """A new model: its classes; examples framed differently are dropped (said)."""
        self._info = info
        fr = self.framing(info)
        if self._framing is not None and fr != self._framing and any(self.examples.values()):
            self._say(f"the model's input changed ({self._framing} → {fr}): the recorded examples were dropped")
            self.examples.clear()
            self.origins.clear()
        if fr is not None:
            self._framing = fr
        for n in list(self.added):
            if info is not None and n in info.class_names:
                self.added.remove(n)
        if info is None:
            self.header.setText("no model")
        else:
            spec = self.model_spec()
            note = "" if self.teachable() is None else " — not a trained checkpoint: load a gesture model to teach"
            t = f"{fr[0]} × {fr[1] / 1000:g} ms, input {fr[2][0]}×{fr[2][1]}" if fr else "input unknown"
            self.header.setText(f"teaching <b>{spec}</b> ({t}){note}")
        self.refresh()

    def add_class(self, name: str) -> bool:
        """Add a new class ``name`` (no ``=``, not listed yet); False (and said) otherwise."""
        name = name.strip()
        if not name or "=" in name or "," in name:
            self._say("a class name must not be empty or contain '=' or ','")
            return False
        if name in self.classes:
            self._say(f"class {name!r} is already listed")
            return False
        self.added.append(name)
        self.refresh()
        return True

    def _add_from_field(self) -> None:
        if self.add_class(self.new_name.text()):
            self.new_name.clear()

    def count(self, name: str) -> int:
        return len(self.examples.get(name, []))

    def refresh(self) -> None:
        """Rebuild the class list (counts, examples, Record buttons)."""
        self.tree.clear()
        for name in self.classes:
            top = QTreeWidgetItem([name + ("  (new)" if name in self.added else ""), str(self.count(name)), ""])
            top.setData(0, Qt.UserRole, (name, None))
            self.tree.addTopLevelItem(top)
            for k, ex in enumerate(self.examples.get(name, [])):
                child = QTreeWidgetItem([f"example {k + 1}", f"{int(ex.sum()):,} events", ""])
                child.setData(0, Qt.UserRole, (name, k))
                top.addChild(child)
            button = QPushButton("Record")
            button.setObjectName(f"record_{name}")
            button.setEnabled(self._recording is None)
            button.clicked.connect(lambda _=False, n=name: self.record(n))
            self.tree.setItemWidget(top, 2, button)
        self.tree.resizeColumnToContents(0)

    def record_button(self, name: str) -> QPushButton:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.UserRole)[0] == name:
                return self.tree.itemWidget(item, 2)
        raise KeyError(name)

    def delete_example(self, name: str, index: int) -> None:
        del self.examples[name][index]
        if index < len(self.origins.get(name, [])):
            del self.origins[name][index]
        self.refresh()

    def delete_selected(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            self._say("select an example to delete")
            return
        name, k = item.data(0, Qt.UserRole)
        if k is not None:
            self.delete_example(name, k)
        elif name in self.added:
            self.added.remove(name)
            self.examples.pop(name, None)
            self.origins.pop(name, None)
            self.refresh()
        else:
            self._say(f"{name!r} is a class of the model: delete its examples one by one")

    # ------------------------------------------------------------------ recording
    def record(self, name: str) -> None:
        """Count down, then take the next ``T × dt`` of the stream as an example of ``name``."""
        if self._recording is not None:
            return
        if self.framing() is None:
            self._say("no model loaded: nothing to record for")
            return
        self._recording = name
        self._count = int(self.countdown_s)
        self.stop_button.setEnabled(True)
        self.refresh()
        self._count_down()

    def _count_down(self) -> None:
        if self._recording is None:
            return
        if self._count > 0:
            self.cue.setText(f"{self._recording}: {self._count}")
            self._count -= 1
            self._tick.start(1000)
            return
        T, dt, hw = self.framing()
        state = self.model.state
        self._recorder = ExampleRecorder(T, dt, state.input_box, hw)
        pre, size = state.preprocess, state.sensor_size
        self._rate = float(pre.input_map(tuple(size))[1]) if pre is not None and size else 1.0
        self.cue.setText(f"{self._recording}: now!")
        paused = "" if state.playing else " — the source is paused: play it to record"
        self.status.setText(f"recording {T * dt / 1e6:g} s of {self._recording} …{paused}")

    def _on_snapshots(self, snaps) -> None:
        rec = self._recorder
        if rec is None:
            return
        for s in snaps:
            if rec.feed(s.t_start_us, s.t_end_us, s.frame):
                break
        if rec.done:
            name = self._recording
            self.add_example(name, rec.example, rec.t0, self._rate)
            self._end_recording()
            self.cue.setText("")
            lost = f" ({rec.gap_us / 1000:.0f} ms of it dropped by a busy window)" if rec.gap_us else ""
            self.status.setText(f"recorded example {self.count(name)} of {name}{lost}")
            self.recorded.emit(name)

    def stop_recording(self) -> None:
        if self._recording is not None:
            self._end_recording()
            self.cue.setText("")
            self.status.setText("recording stopped: nothing kept")

    def _end_recording(self) -> None:
        self._tick.stop()
        self._recorder = None
        self._recording = None
        self.stop_button.setEnabled(False)
        self.refresh()

    def add_example(self, name: str, frames: np.ndarray, source_t_start_us: int | None = None,
                    rate_factor: float = 1.0) -> None:
        """Keep one example ``[T, 2, h, w]`` of ``name`` (a class not listed yet is added)."""
        if name not in self.classes:
            self.added.append(name)
        self.examples.setdefault(name, []).append(frames)
        origins = self.origins.setdefault(name, [])
        origins.extend([(None, 1.0)] * (len(self.examples[name]) - 1 - len(origins)))
        origins.append((source_t_start_us, float(rate_factor)))

    def _origins(self, name: str) -> list[tuple[int | None, float]]:
        got = list(self.origins.get(name, []))
        return got + [(None, 1.0)] * (len(self.examples.get(name, [])) - len(got))

    # ------------------------------------------------------------------ saved examples
    def example_set(self) -> ExampleSet | None:
        """The examples recorded here, in class order (``None`` without a model)."""
        fr = self.framing()
        if fr is None:
            return None
        T, dt, hw = fr
        items = [TaughtExample(n, ex, t0, rate) for n in self.classes
                 for ex, (t0, rate) in zip(self.examples.get(n, []), self._origins(n))]
        return ExampleSet(T, dt, hw, items, self.model_spec(), self.classes)

    def save_examples(self, path) -> str | None:
        """Save the examples as ``path`` (``.aedat4`` + sidecars); the ``.aedat4`` path, or ``None`` (said)."""
        data = self.example_set()
        if data is None or not data.examples:
            self._say("no examples to save: record some first")
            return None
        try:
            out = save_examples(path, data)
        except (ExamplesFileError, OSError) as exc:
            self._say(f"cannot save the examples: {exc}")
            return None
        self._say(f"saved {len(data.examples)} examples ({self._count_text(data.counts())}) as {out}")
        return str(out)

    def reopen_examples(self, path) -> bool:
        """Add the examples saved at ``path`` (their ``.aedat4``, ``.json`` or the taught checkpoint);
        they must be framed as the loaded model frames its input. False (said) otherwise."""
        fr = self.framing()
        if fr is None:
            self._say("load a model before reopening examples")
            return False
        try:
            data = load_examples(path)
        except (ExamplesFileError, OSError) as exc:
            self._say(f"cannot reopen the examples: {exc}")
            return False
        if (data.T, data.dt_us, tuple(data.input_hw)) != (fr[0], fr[1], tuple(fr[2])):
            self._say(f"cannot reopen the examples: they were cut as {data.T} × {data.dt_us / 1000:g} ms, input "
                      f"{data.input_hw[0]}×{data.input_hw[1]} (for {data.model or 'another model'}); the loaded model "
                      f"takes {fr[0]} × {fr[1] / 1000:g} ms, input {fr[2][0]}×{fr[2][1]}")
            return False
        for ex in data.examples:
            self.add_example(ex.name, ex.frames, ex.source_t_start_us, ex.rate_factor)
        self.refresh()
        self._say(f"reopened {len(data.examples)} examples ({self._count_text(data.counts())}) from {path}")
        return True

    @staticmethod
    def _count_text(counts: dict[str, int]) -> str:
        return ", ".join(f"{n}: {k}" for n, k in counts.items())

    def _default_folder(self) -> str:
        """The models folder's ``examples`` subfolder (where fine-tuning saves them too)."""
        from snnstudio.engine.teach_store import SUBFOLDER
        from snnstudio.snn.checkpoints import user_models_dir

        return str(user_models_dir() / SUBFOLDER)

    def _save_dialog(self) -> None:
        stem = self.model_spec().replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".json")
        default = f"{self._default_folder()}/{stem.split('-taught-')[0]}-examples-{time.strftime('%Y%m%d-%H%M%S')}.aedat4"
        path, _ = QFileDialog.getSaveFileName(self, "Save examples", default, "Teaching examples (*.aedat4)")
        if path:
            self.save_examples(path)

    def _reopen_dialog(self) -> None:
        folder = self._default_folder()
        path, _ = QFileDialog.getOpenFileName(self, "Reopen examples", folder if os.path.isdir(folder) else
                                              str(os.path.dirname(folder)),
                                              "Teaching examples or taught model (*.aedat4 *.json)")
        if path:
            self.reopen_examples(path)

    @property
    def recording(self) -> bool:
        return self._recording is not None

    # ------------------------------------------------------------------ fine-tuning
    def model_spec(self) -> str:
        spec = getattr(self.model, "model_spec", None)
        return "default" if spec is None else str(spec)

    def teachable(self) -> str | None:
        """Why the loaded model cannot be fine-tuned, or ``None`` (checked for sure in the job)."""
        spec = self.model_spec()
        try:
            from snnstudio.snn.zoo import PRESETS  # torch-free at import
        except ImportError:
            PRESETS = {}
        if spec in NOT_CHECKPOINTS or spec in PRESETS:
            return (f"the loaded model ({spec}) is not a fine-tunable checkpoint: load a gesture model "
                    "(e.g. default) to teach it")
        from snnstudio.engine.spec import parse_spec

        kind = parse_spec(getattr(self.model, "model_spec", None)).kind
        if kind in ("nir", "python"):
            return (f"the loaded model ({spec}) is your own network ({'a NIR graph' if kind == 'nir' else 'Python code'}); "
                    "teaching fine-tunes snnstudio checkpoints: load a gesture model (e.g. default) to teach it")
        return None

    def check(self) -> str | None:
        """Why fine-tuning cannot start now (a one-line message), or ``None``."""
        if self._info is None or self.framing() is None:
            return "no model loaded"
        why = self.teachable()
        if why:
            return why
        empty = [n for n in self.added if not self.count(n)]
        if empty:
            return (f"class {', '.join(empty)} has no examples: record at least one (or delete the class)")
        with_ex = [n for n in self.classes if self.count(n)]
        if len(with_ex) < 2:
            return (f"record examples of at least 2 classes (now: {', '.join(with_ex) or 'none'}) — "
                    "the model learns to tell classes apart")
        return None

    def request(self) -> FinetuneRequest:
        T, dt, _ = self.framing()
        labels, frames, starts, rates = [], [], [], []
        for n in self.classes:
            for ex, (t0, rate) in zip(self.examples.get(n, []), self._origins(n)):
                labels.append(n)
                frames.append(ex)
                starts.append(t0)
                rates.append(rate)
        base = self.model_spec()
        stem = base.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".json").removesuffix(".safetensors")
        out = f"{stem.split('-taught-')[0]}-taught-{time.strftime('%Y%m%d-%H%M%S')}"
        return FinetuneRequest(model=base, frames=np.stack(frames), labels=labels, classes=self.classes, dt_us=dt,
                               out=out, epochs=self.epochs, copies=self.copies, source_t_start_us=starts,
                               rate_factors=rates)

    def fine_tune(self) -> None:
        """Start fine-tuning on the examples (or say why not)."""
        if self.running:
            return
        why = self.check()
        if why:
            self._say(why)
            return
        req = self.request()
        later = self._inbox.later

        aside = getattr(self.model, "engine", "thread") == "process"
        self.job = FinetuneJob(req, on_progress=later(self._on_progress), on_done=later(self._on_done),
                               on_error=later(self._on_error), on_cancelled=later(self._on_cancelled),
                               process=aside).start()
        self.tune_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.status.setText(f"fine-tuning {req.model} on {len(req.labels)} examples of "
                            f"{len(set(req.labels))} classes …")
        self._inbox.start()

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("cancelling…")


    def _on_progress(self, p: dict) -> None:
        self.progress.setRange(0, max(1, p["epochs"]))
        self.progress.setValue(p["epoch"])
        self.progress.setFormat(f"{p['stage']}: epoch {p['epoch']}/{p['epochs']}, accuracy {100 * p['accuracy']:.0f} %")

    def _finish(self, text: str) -> None:
        self.tune_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self.progress.setFormat(text)

    def _on_done(self, res: dict) -> None:
        self._finish("done")
        self.progress.setValue(self.progress.maximum())
        self.model.set_model(res["json"])
        if res.get("before") is not None:
            measured = (f"held-out accuracy {100 * res['before']:.0f} % → {100 * res['after']:.0f} % "
                        f"({res['method']}, {res['held_out']} examples)")
        else:
            measured = "nothing measured (too few examples to hold any out: record 2 or more per class)"
        if res.get("examples"):
            kept = f"; the examples saved as {res['examples']}"
        elif res.get("examples_error"):
            kept = f"; the examples were not saved ({res['examples_error']})"
        else:
            kept = ""
        self._say(f"taught {res['name']} ({res['adapt']}, {res['epochs']} epochs, {res['seconds']:.0f} s): "
                  f"{measured}; loaded now, saved as {res['json']}{kept}")
        self.finished.emit(res)

    def _on_error(self, text: str) -> None:
        self._finish("failed")
        self._say(f"fine-tuning failed: {text} — the old model keeps running")
        self.finished.emit(None)

    def _on_cancelled(self) -> None:
        self._finish("cancelled")
        self._say("fine-tuning cancelled: nothing saved, the old model keeps running")
        self.finished.emit(None)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.model.message.emit(f"teach: {text}")
