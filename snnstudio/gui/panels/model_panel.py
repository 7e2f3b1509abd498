"""Model panel: which model runs and with which neuron type, how it streams (stateful / window of
T), and its module tree with a switch for every block that can be turned off (attention blocks).

The lists are the engine's (``SessionState.models`` / ``neurons``, in every state it sends once its
worker has started); until the first the model list is :func:`snnstudio.engine.catalog.model_choices` (torch-free)
and the neuron list is empty."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from snnstudio.engine.catalog import model_choices
from snnstudio.engine.types import ModelInfo, SessionState


def refill(box: QComboBox, names) -> None:
    """Make ``names`` the items of ``box`` (when they differ), keeping the current choice."""
    names = list(names)
    if [box.itemText(i) for i in range(box.count())] == names:
        return
    cur = box.currentText()
    box.blockSignals(True)
    box.clear()
    box.addItems(names)
    if cur in names:
        box.setCurrentIndex(names.index(cur))
    box.blockSignals(False)


class ModelPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        row = QHBoxLayout()
        self.choice = QComboBox()
        self.choice.addItems(model_choices())
        # an item with data is a model opened with File → Open model… (its spec)
        self.choice.activated.connect(lambda i: model.set_model(self.choice.itemData(i) or self.choice.itemText(i)))
        row.addWidget(QLabel("model"))
        row.addWidget(self.choice, 1)
        lay.addLayout(row)
        nrow = QHBoxLayout()
        self.neuron = QComboBox()
        self.neuron.setToolTip("rebuild the model with another neuron type (zoo models; other weights kept)")
        self.neuron.activated.connect(lambda i: model.set_neuron(self.neuron.itemText(i)))
        nrow.addWidget(QLabel("neuron"))
        nrow.addWidget(self.neuron, 1)
        lay.addLayout(nrow)
        self.summary = QLabel("")
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["module", "type"])
        self.tree.setColumnWidth(0, 170)
        self.tree.itemChanged.connect(self._changed)
        lay.addWidget(self.tree, 1)
        self.items: dict[str, QTreeWidgetItem] = {}
        self._info: ModelInfo | None = None
        model.state_changed.connect(self.show_lists)
        model.model_changed.connect(self.show_model)

    def show_lists(self, state: SessionState) -> None:
        """Offer the models and neurons the engine says it can load."""
        if state.models:
            refill(self.choice, state.models)
            self._show_choice()
        if state.neurons and [self.neuron.itemText(i) for i in range(self.neuron.count())] != list(state.neurons):
            refill(self.neuron, state.neurons)
            self._show_neuron()

    def _show_neuron(self) -> None:
        """Select the model's neuron type (when all its spiking layers have the same); the list is
        off for a network of another library (its neurons cannot be swapped)."""
        kinds = {k for _, k, _ in self._info.layers} if self._info is not None else set()
        foreign = sorted({k.rpartition(".")[0] for k in kinds if "." in k})
        self.neuron.setEnabled(not foreign)
        if foreign:  # say whose neurons they are instead of showing one of ours
            self.neuron.setPlaceholderText(f"{', '.join(foreign)} (fixed)")
            self.neuron.setCurrentIndex(-1)
            return
        if len(kinds) == 1:
            i = self.neuron.findText(next(iter(kinds)))
            if i >= 0:
                self.neuron.setCurrentIndex(i)

    def _show_choice(self) -> None:
        """Select the model that was asked for; one not in the list (a checkpoint path, a .nir
        graph, your own Python network) is added as one more item, named by its label."""
        from snnstudio.engine.spec import ModelSpec, parse_spec

        spec = getattr(self.model, "model_spec", None)
        key = "default" if spec is None else spec
        box = self.choice
        for i in range(box.count()):
            if box.itemData(i) is not None and box.itemData(i) != key:
                box.removeItem(i)  # an earlier opened model: the list offers the one loaded
                break
        i = box.findText(key) if isinstance(key, str) else -1
        if i < 0:
            for j in range(box.count()):
                if box.itemData(j) == key:
                    i = j
            if i < 0:
                box.addItem(f"{parse_spec(key).label} (opened)", key if isinstance(key, ModelSpec) else str(key))
                i = box.count() - 1
        box.blockSignals(True)
        box.setCurrentIndex(i)
        box.blockSignals(False)

    def show_model(self, info: ModelInfo | None) -> None:
        self._info = info
        if info is not None:
            self._show_choice()
        self.tree.blockSignals(True)
        self.tree.clear()
        self.items = {}
        if info is None:
            self.summary.setText("no model")
            self.tree.blockSignals(False)
            return
        self._show_neuron()
        mode = f"window of T={info.window_T} re-run each step" if info.mode == "window" else f"stateful, read-out over T={info.window_T}"
        hw = f"{info.input_hw[1]}×{info.input_hw[0]}" if info.input_hw else "?"
        odd = getattr(info, "unprobed", ())
        odd = f"<br>not shown (layers the probes cannot read): {', '.join(odd)}" if odd else ""
        self.summary.setText(f"<b>{info.name}</b>  ·  {info.n_parameters:,} parameters  ·  input {hw}<br>{mode}  ·  "
                             f"{len(info.layers)} spiking layers{odd}")
        for m in info.modules:
            parent_name = m.name.rsplit(".", 1)[0] if "." in m.name else None
            parent = self.items.get(parent_name) if parent_name else None
            item = QTreeWidgetItem([m.name.rsplit(".", 1)[-1], m.type])
            if m.switchable:
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(0, Qt.Checked if m.enabled else Qt.Unchecked)
            item.setData(0, Qt.UserRole, m.name)
            (parent.addChild(item) if parent is not None else self.tree.addTopLevelItem(item))
            self.items[m.name] = item
        self.tree.expandToDepth(0)
        self.tree.blockSignals(False)

    def _changed(self, item: QTreeWidgetItem, col: int) -> None:
        if col == 0 and item.flags() & Qt.ItemIsUserCheckable:
            self.model.set_enabled(item.data(0, Qt.UserRole), item.checkState(0) == Qt.Checked)
