"""The inspector: the selected node's id and params form, its shapes and problems; the document itself otherwise."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QScrollArea, QStackedWidget, QVBoxLayout,
    QWidget,
)

from layerloom.engine import NodeBase, format_meta
from layerloom.engine.document import params_model
from layerloom.engine.document import is_instance
from layerloom.engine.costs import batch_size_of, explain

from . import edits
from .document import DocumentModel
from .palette import display_name
from . import theme
from .panel_style import category_icon, mute, section
from .model_form import ModelForm, error_label, show_error


def _column(widget: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(10, 8, 10, 10)
    layout.setSpacing(6)
    return layout


def _title(text: str, detail: str = "") -> str:
    detail = f"&nbsp;&nbsp;<span style='color:gray'>{detail}</span>" if detail else ""
    return f"<b style='font-size:15px'>{text}</b>{detail}"


class _PlainTextEdit(QPlainTextEdit):
    """A plain text edit that says when the user is done with it (focus left), like QLineEdit does."""

    editingFinished = Signal()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.editingFinished.emit()


class NodeView(QWidget):
    """Everything about one node: header, id, params form, output shapes, parameter count and problems."""

    def __init__(self, document: DocumentModel, node: NodeBase, parent: QWidget | None = None):
        super().__init__(parent)
        self._document, self.node_id, self.node_type = document, node.id, node.type
        spec = document.view.spec(node)
        self.instance = is_instance(node)
        icon = QLabel(pixmap=category_icon(spec.category, 14).pixmap(14, 14))
        doc = mute(QLabel(spec.doc, wordWrap=True))
        self.title = QLabel(wordWrap=True)
        self.id_edit = QLineEdit(node.id, toolTip="The node's id: unique, used by edges and as the submodule name.")
        self.id_error = error_label()
        model = params_model(node.type, document.view.blocks[node.type]) if self.instance else spec.params
        self.form = ModelForm(model, empty="This layer has no parameters.")
        self.shape = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.params = QLabel()
        self.cost = mute(QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse))
        self.problems = theme.set_role(QLabel(wordWrap=True, textFormat=Qt.RichText), "error")
        self._problems_title = section("Problems")

        header = QHBoxLayout()
        header.addWidget(icon)
        header.addWidget(self.title, 1)
        id_box = QVBoxLayout()
        id_box.setSpacing(2)
        id_box.addWidget(self.id_edit)
        id_box.addWidget(self.id_error)
        grid = self.form.layout()  # one grid for every row, so that labels and editors line up
        grid.insertRow(0, section("Node"))
        grid.insertRow(1, "Id", id_box)
        grid.insertRow(2, section("Block params and repeat" if self.instance else "Parameters"))
        grid.addRow(section("Output"))
        grid.addRow("Shape", self.shape)
        grid.addRow("Parameters", self.params)
        grid.addRow(section("Cost"))
        grid.addRow(self.cost)
        grid.addRow(self._problems_title)
        grid.addRow(self.problems)
        layout = _column(self)
        layout.addLayout(header)
        layout.addWidget(doc)
        layout.addWidget(self.form)
        layout.addStretch(1)
        self.id_edit.editingFinished.connect(self._on_id_edited)
        self.form.committed.connect(self._on_param_committed)
        self.refresh()

    def node(self) -> NodeBase | None:
        return next((n for n in self._document.view.nodes if n.id == self.node_id), None)

    def _values(self, node) -> dict:
        """The form's values: a layer's params, or an instance's block params (defaults filled in) and repeat."""
        if not self.instance:
            return node.params.model_dump()
        return {**self._document.view.blocks[node.type].params, **node.params, "repeat": node.repeat}

    def refresh(self) -> None:
        """Follow the document: values in place, shapes and problems from the last check."""
        node = self.node()
        if node is None:
            return
        spec = self._document.view.spec(node)
        self.title.setText(_title(display_name(node), f"{node.type} · {spec.category if spec else 'undefined block'}"))
        self.form.set_values(self._values(node))
        info = self._document.view_shapes.nodes.get(node.id)
        if info is None:
            self.shape.setText("unknown until the graph above is valid")
            self.params.setText("—")
        else:
            ports = info.outputs.items()
            self.shape.setText("\n".join(f"{port}  {format_meta(meta)}" if len(ports) > 1 else format_meta(meta)
                                         for port, meta in ports))
            frozen = info.params - info.trainable
            self.params.setText(f"{info.params:,}" + (f"  ({frozen:,} frozen)" if frozen else ""))
        self.refresh_cost()
        problems = self._document.problems_for(node.id)
        self.problems.setText("<br>".join(f"● {escape(p.message)}" for p in problems))
        self._problems_title.setVisible(bool(problems))
        self.problems.setVisible(bool(problems))

    def refresh_cost(self) -> None:
        """Where the node's MACs and activation memory come from (engine.costs.explain)."""
        cost = self._document.view_costs.nodes.get(self.node_id)
        self.cost.setText("\n".join(explain(self.node_id, cost, batch_size_of(self._document.arch))) if cost else
                          "known once the graph above is valid")

    def _on_id_edited(self) -> None:
        new = self.id_edit.text().strip()
        try:
            arch = edits.rename(self._document.view, self.node_id, new)
        except edits.EditError as error:
            show_error(self.id_edit, self.id_error, str(error))
            return
        show_error(self.id_edit, self.id_error, None)
        if new != self.node_id:
            self._document.apply_view(arch, f"rename {self.node_id} to {new}")
            self._document.select([new])

    def _on_param_committed(self, name: str, value) -> None:
        node = self.node()
        values = {**self._values(node), name: value}
        try:
            if self.instance:
                repeat = values.pop("repeat")
                arch = edits.set_instance(self._document.view, node.id, values, repeat)
            else:
                arch = edits.set_params(self._document.view, node.id, values)
        except edits.EditError as error:
            self.form.show_error(name, next((p.message for p in error.problems if p.field == name), str(error)))
            return
        self.form.show_error(name, None)
        self._document.apply_view(arch, f"set {node.id} {name.replace('_', ' ')}")


class DocumentView(QWidget):
    """The document's name and description (editable) and its totals, shown when nothing is selected."""

    def __init__(self, document: DocumentModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._document = document
        self.name_edit = QLineEdit(placeholderText="Untitled network")
        self.description_edit = _PlainTextEdit(placeholderText="What this network does and why…")
        self.description_edit.setMaximumHeight(160)
        names = ("Nodes", "Edges", "Parameters", "Trainable", "MACs", "Training", "Status")
        self.totals = {name: QLabel(textFormat=Qt.RichText, wordWrap=name == "Training") for name in names}
        self._description_timer = QTimer(self, singleShot=True, interval=800)
        form = QFormLayout()
        form.addRow(section("Document"))
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow(section("Totals"))
        for name, label in self.totals.items():
            form.addRow(name, label)
        layout = _column(self)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(mute(QLabel("Select a node to edit its parameters.", wordWrap=True)))
        self.name_edit.editingFinished.connect(self._on_name_edited)
        self.description_edit.textChanged.connect(self._description_timer.start)
        self._description_timer.timeout.connect(self._on_description_edited)
        self.description_edit.editingFinished.connect(self._on_description_edited)
        self.refresh()

    def refresh(self) -> None:
        arch, shapes, problems = self._document.arch, self._document.shapes, self._document.problems
        if not self.name_edit.hasFocus() and self.name_edit.text() != arch.name:
            self.name_edit.setText(arch.name)
        if self.description_edit.toPlainText() != arch.description and not self.description_edit.hasFocus():
            self.description_edit.blockSignals(True)
            self.description_edit.setPlainText(arch.description)
            self.description_edit.blockSignals(False)
        status = f"{len(problems)} problem{'s' * (len(problems) != 1)}" if problems else "valid"
        values = (len(arch.nodes), len(arch.edges), shapes.total_params, shapes.trainable_params)
        for label, value in zip(self.totals.values(), values):
            label.setText(f"{value:,}")
        self.refresh_costs()
        self.totals["Status"].setText(status)
        theme.set_role(self.totals["Status"], "error" if problems else "ok")

    def refresh_costs(self) -> None:
        memory = self._document.memory
        self.totals["MACs"].setText(f"{self._document.costs.total_macs:,} per sample" if memory else "—")
        self.totals["Training"].setText(escape(f"batch {memory.batch_size:,}: {memory.amount()}") if memory else "—")

    def _on_name_edited(self) -> None:
        arch = self._document.arch
        self._document.apply(arch.model_copy(update={"name": self.name_edit.text().strip()}), "rename document")

    def _on_description_edited(self) -> None:
        self._description_timer.stop()
        arch = self._document.arch
        text = self.description_edit.toPlainText()
        self._document.apply(arch.model_copy(update={"description": text}), "edit description")


class InspectorWidget(QWidget):
    """Shows the selected node (or the document, or a count for several); follows every document change."""

    def __init__(self, document: DocumentModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._document = document
        self.node_view: NodeView | None = None
        self.document_view = DocumentView(document)
        self.multi = QLabel(alignment=Qt.AlignCenter, wordWrap=True, textFormat=Qt.RichText)
        self._node_scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        self.stack = QStackedWidget()
        for page in (self.document_view, self._node_scroll, self.multi):
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        document.changed.connect(self._on_document_changed)
        document.checked.connect(self._on_document_changed)
        document.costed.connect(self._on_costs_changed)
        document.selection_changed.connect(self._on_document_changed)
        self._on_document_changed()

    def _on_document_changed(self) -> None:
        nodes = {n.id: n for n in self._document.view.nodes}
        selected = [nodes[i] for i in sorted(self._document.selection) if i in nodes]
        if len(selected) != 1:
            self._drop_node_view()  # coming back to a node starts from a clean form
        if len(selected) > 1:
            infos = self._document.view_shapes.nodes
            params = sum(infos[n.id].params for n in selected if n.id in infos)
            self.multi.setText(_title(f"{len(selected)} nodes selected") + "<br>"
                               f"<span style='color:gray'>{', '.join(n.id for n in selected)}</span><br><br>"
                               f"{params:,} parameters together")
            self.stack.setCurrentWidget(self.multi)
        elif selected:
            self._show_node(selected[0])
        else:
            self.document_view.refresh()
            self.stack.setCurrentWidget(self.document_view)

    def _on_costs_changed(self) -> None:
        """Only the cost lines: the costs arrive just after the check that already refreshed the rest."""
        if self.stack.currentWidget() is self.document_view:
            self.document_view.refresh_costs()
        elif self.node_view is not None:
            self.node_view.refresh_cost()

    def _show_node(self, node: NodeBase) -> None:
        view = self.node_view
        if view is not None and (view.node_id, view.node_type) == (node.id, node.type):
            view.refresh()
        else:
            self._drop_node_view()
            self.node_view = NodeView(self._document, node)
            self._node_scroll.setWidget(self.node_view)
        self.stack.setCurrentWidget(self._node_scroll)

    def _drop_node_view(self) -> None:
        if self.node_view is not None:
            self._node_scroll.takeWidget()
            self.node_view.deleteLater()  # later: it may be the sender of the edit that led here (a rename)
            self.node_view = None
