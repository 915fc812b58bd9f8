"""The template gallery lists every template, previews it, and each one opens as a valid document."""
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

import engine
from designer.gallery import TemplateGalleryDialog

TEMPLATES = sorted(Path("templates").resolve().glob("*.json"))


@pytest.fixture
def dialog(qtbot):
    widget = TemplateGalleryDialog()
    qtbot.addWidget(widget)
    return widget


def _paths(dialog):
    paths = []
    for row in range(dialog.list.count()):
        dialog.list.setCurrentRow(row)
        paths.append(dialog.selected_path())
    return paths


def test_gallery_lists_every_template_and_each_is_valid(dialog):
    paths = _paths(dialog)
    assert sorted(p.resolve() for p in paths) == TEMPLATES
    for path in paths:
        arch = engine.load(path)
        problems, _ = engine.check(arch)
        assert problems == [], path.name


def test_preview_shows_the_current_template(dialog):
    dialog.list.setCurrentRow(1)
    arch = engine.load(dialog.selected_path())
    assert arch.name in dialog.title.text() and dialog.description.text() == arch.description


def test_double_click_opens_the_template(dialog, qtbot):
    dialog.show()
    item = dialog.list.item(2)
    rect = dialog.list.visualItemRect(item)
    qtbot.mousePress(dialog.list.viewport(), Qt.LeftButton, pos=rect.center())  # a double click follows a press
    qtbot.mouseDClick(dialog.list.viewport(), Qt.LeftButton, pos=rect.center())
    assert dialog.result() == QDialog.Accepted
    assert dialog.selected_path() == Path(item.data(Qt.UserRole).path)
