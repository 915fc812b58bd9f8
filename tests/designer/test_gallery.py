"""The template gallery lists every template by section, previews it, and each one opens as a valid document."""
from html import escape

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from layerloom import engine
from layerloom.designer.gallery import INFO_ROLE, TemplateGalleryDialog
from layerloom.engine.templates import gallery


@pytest.fixture
def dialog(qtbot):
    widget = TemplateGalleryDialog()
    qtbot.addWidget(widget)
    return widget


def _paths(dialog):
    paths = []
    for item in dialog.items():
        dialog.list.setCurrentItem(item)
        paths.append(dialog.selected_path())
    return paths


def test_gallery_lists_every_template_and_each_is_valid(dialog):
    paths = _paths(dialog)
    assert paths == [info.path for info in gallery()]
    for path in paths:
        arch = engine.load(path)
        problems, _ = engine.check(arch)
        assert problems == [], path.name


def test_sections_head_their_templates_and_cannot_be_chosen(dialog):
    headers = [item for item in map(dialog.list.item, range(dialog.list.count())) if not item.data(INFO_ROLE)]
    assert [h.text() for h in headers] == list(dict.fromkeys(info.section.upper() for info in gallery()))
    assert all(h.flags() == Qt.NoItemFlags for h in headers)


def test_preview_shows_the_current_template(dialog):
    info = gallery()[1]
    dialog.list.setCurrentItem(list(dialog.items())[1])
    arch = engine.load(dialog.selected_path())
    assert info.name in dialog.title.text() and dialog.description.text() == arch.description
    assert escape(info.targets[0].describe()) in dialog.outcome.text()
    assert dialog.network.text().startswith(f"{len(arch.nodes)} nodes")


def test_double_click_opens_the_template(dialog, qtbot):
    dialog.show()
    item = list(dialog.items())[2]
    rect = dialog.list.visualItemRect(item)
    qtbot.mousePress(dialog.list.viewport(), Qt.LeftButton, pos=rect.center())  # a double click follows a press
    qtbot.mouseDClick(dialog.list.viewport(), Qt.LeftButton, pos=rect.center())
    assert dialog.result() == QDialog.Accepted and dialog.selected_path() == gallery()[2].path
