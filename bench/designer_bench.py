"""Designer speed: opening a 500-node document, re-checking after one edit, repainting while a node is dragged,
and the canvas at 500 and 2,000 nodes.

Each measurement alternates with a baseline in the same process and prints the ratio:
  open       File > Open of a 502-node file in the main window (load, lay out, scene, panels, first check and
             cost pass, first paint), against the headless engine alone (load + check + cost pass), both with
             cold shape and cost caches;
  re-check   document.apply of one param edit until `costed` (check and cost pass done and shown, the 15 ms
             debounce included), against a full check and cost pass of the same document with cold caches;
             and the part of it until `checked` (shapes shown: what the designer waited for before costs);
  drag       frames per second moving one node and repainting the canvas, against repainting it unmoved.
Goals (issue 4): open < 1 s, re-check < 100 ms, drag at interactive rates (>= 30 frames per second).
Canvas at scale (issue 13), a 502- and a 2,002-node document laid out as the designer opens them, in a
1600x900 canvas, level of detail on, against the same with full cards at every zoom:
  fit        Fit to View from 100 % and the first repaint at the fitted zoom (no card cached yet);
  drag       frames per second dragging one node at the fitted zoom, the whole canvas repainted each frame.
Goal: >= 30 frames per second at 2,000 nodes.
Every time is this process's CPU time (all its threads), so that other work on a shared machine does not count
(the load average is printed); the wall-clock time of an idle machine is about the same, less the debounce.

    .venv/bin/python bench/designer_bench.py [--rounds 5] [--write-docs] [--only designer|canvas]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from report import write_section

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADING = "## Designer"
SCALE_HEADING = "## Canvas at scale"
BLOCKS = 100          # 5 nodes each, plus an input and an output: 502 nodes
SCALES = (100, 400)   # blocks of the canvas-at-scale documents: 502 and 2,002 nodes
FRAMES = 60


def big_document(blocks: int = BLOCKS):
    """A residual MLP of `blocks` blocks (linear, relu, linear, add, layer norm): 5 * blocks + 2 nodes."""
    from layerloom.engine import Architecture, Edge, make_node
    nodes, edges, previous = [make_node("x", "input", shape=[64])], [], "x"
    for b in range(blocks):
        ids = [f"fc{b}a", f"act{b}", f"fc{b}b", f"add{b}", f"norm{b}"]
        nodes += [make_node(ids[0], "linear", out_features=64), make_node(ids[1], "relu"),
                  make_node(ids[2], "linear", out_features=64), make_node(ids[3], "add"),
                  make_node(ids[4], "layernorm")]
        edges += [Edge(source=previous, target=ids[0]), Edge(source=ids[0], target=ids[1]),
                  Edge(source=ids[1], target=ids[2]), Edge(source=ids[2], target=ids[3]),
                  Edge(source=previous, target=ids[3]), Edge(source=ids[3], target=ids[4])]
        previous = ids[4]
    nodes.append(make_node("y", "output"))
    edges.append(Edge(source=previous, target="y"))
    return Architecture(name=f"{len(nodes)} nodes", nodes=nodes, edges=edges)


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def cold_cache() -> None:
    from layerloom.engine import shapes
    from layerloom.engine.costs import layer
    shapes._cache.clear()
    layer._cache.clear()


def check_and_count(arch) -> None:
    """What the designer's worker does after an edit: the check, then the cost pass."""
    from layerloom import engine
    engine.infer_costs(arch, engine.check(arch)[1])


def wait_for(signal, app) -> None:
    from PySide6.QtCore import QEventLoop
    loop = QEventLoop()
    signal.connect(loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def measure_open(window, path: Path, rounds: int) -> tuple[list[float], list[float]]:
    from layerloom import engine
    designer, headless = [], []
    window.files.open_path(path)          # throwaway: warms torch's fake tensors and Qt's caches
    window.document.wait_for_check(60_000)
    for _ in range(rounds):
        window.files.new_document()
        window.document.wait_for_check()
        cold_cache()
        begin = time.process_time()
        window.files.open_path(path)
        window.document.wait_for_check(60_000)
        window.view.fit_to_contents()
        window.repaint()
        designer.append(time.process_time() - begin)
        cold_cache()
        begin = time.process_time()
        check_and_count(engine.load(path))
        headless.append(time.process_time() - begin)
    return designer, headless


def measure_recheck(document, app, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """(re-checks until the costs are shown, full checks and cost passes with cold caches, the same re-checks until
    the shapes are shown: what the designer did before the cost pass), alternating round by round."""
    from layerloom.designer import edits
    edited, full, shapes = [], [], []
    checked = []
    document.checked.connect(lambda: checked.append(time.process_time()))
    for round_ in range(rounds * 2):
        node = document.arch.node("fc50a")
        arch = edits.set_params(document.arch, "fc50a", {**node.params.model_dump(), "bias": round_ % 2 == 1})
        checked.clear()
        begin = time.process_time()
        document.apply(arch, "toggle bias")
        wait_for(document.costed, app)
        edited.append(time.process_time() - begin)
        shapes.append(checked[0] - begin)
        if round_ % 2:
            cold_cache()
            begin = time.process_time()
            check_and_count(document.arch)
            full.append(time.process_time() - begin)
    return edited, full, shapes


def bare_canvas(arch):
    """A document shown by the canvas alone (no side panels), to tell the canvas's share of a re-check."""
    from layerloom.designer.canvas import GraphScene, GraphView
    from layerloom.designer.document import DocumentModel
    document = DocumentModel(arch)
    view = GraphView(GraphScene(document))
    view.resize(1200, 800)
    view.show()
    document.wait_for_check(60_000)
    document.canvas_view = view   # kept alive for the measurement
    return document


def measure_drag(window, fit: bool) -> tuple[float, float]:
    """(frames per second dragging a node with the mouse, frames per second repainting while it is held still)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    view, item = window.view, window.scene.nodes["fc50b"]
    if fit:
        view.fit_to_contents()
    else:
        view.reset_zoom()
        view.centerOn(item)
    moving, still = [], []
    for _ in range(3):
        moving.append(drag_frames(view, item, True))
        still.append(drag_frames(view, item, False))
    return statistics.median(moving), statistics.median(still)


def drag_frames(view, item, move: bool) -> float:
    """Frames per CPU second pressing `item` and moving the mouse (or not), the whole canvas repainted each frame."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    viewport, grip = view.viewport(), view.mapFromScene(item.sceneBoundingRect().center())
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, grip)
    begin = time.process_time()
    for frame in range(FRAMES):
        if move:
            QTest.mouseMove(viewport, grip + QPoint(7 * (frame % 20), 5 * (frame % 10)))
        viewport.repaint()
    rate = FRAMES / (time.process_time() - begin)
    QTest.mouseMove(viewport, grip)   # back where it started: releasing makes no edit
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, grip)
    return rate


def measure_scale(app, blocks: int, rounds: int) -> dict[bool, tuple[float, float]]:
    """{level of detail on: (fit-to-view seconds, drag frames per second)} for a document of `blocks` blocks."""
    from PySide6.QtGui import QPixmapCache
    from layerloom.designer.canvas import GraphScene, GraphView, style
    from layerloom.designer.canvas.geometry import card_size
    from layerloom.designer.document import DocumentModel
    from layerloom.engine.layout import auto_layout
    document = DocumentModel(auto_layout(big_document(blocks), card_size))
    view = GraphView(GraphScene(document))
    view.resize(1600, 900)
    view.show()
    document.wait_for_check(120_000)
    app.processEvents()
    item, detail = view.graph_scene().nodes[f"fc{blocks // 2}b"], style.DETAIL_ZOOM
    fits: dict[bool, list[float]] = {True: [], False: []}
    drags: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for lod in (True, False):   # the baseline draws full cards at every zoom
            style.DETAIL_ZOOM = detail if lod else 0.0
            view.reset_zoom()
            view.viewport().repaint()
            QPixmapCache.clear()   # every card painted anew at the fitted zoom, as after opening the document
            begin = time.process_time()
            view.fit_to_contents()
            view.viewport().repaint()
            fits[lod].append(time.process_time() - begin)
            drags[lod].append(drag_frames(view, item, True))
    style.DETAIL_ZOOM = detail
    document.close()
    return {lod: (statistics.median(fits[lod]), statistics.median(drags[lod])) for lod in (True, False)}


def run_scale(rounds: int) -> str:
    from layerloom.designer.app import application
    app = application()
    rows = []
    for blocks in SCALES:
        results = measure_scale(app, blocks, rounds)
        (fit, drag), (full_fit, full_drag) = results[True], results[False]
        nodes = 5 * blocks + 2
        rows += [
            f"| {nodes:,} nodes: Fit to View and its first repaint | {fit * 1000:.0f} ms | {full_fit * 1000:.0f} ms | "
            f"{fit / full_fit:.2f} | |",
            f"| {nodes:,} nodes: drag one node, all in view | {drag:.0f} frames/s | {full_drag:.0f} frames/s | "
            f"{drag / full_drag:.2f} | ≥ 30 frames/s |",
        ]
    return "\n".join([
        SCALE_HEADING, "",
        f"`bench/designer_bench.py` (offscreen Qt, {os.cpu_count()} CPU cores shared with other work, load average "
        f"{_load()}; medians of {rounds} alternating rounds; this process's CPU time). Residual MLPs laid out by Auto "
        "Layout in a 1600x900 canvas; level of detail on (simplified cards below 50 % zoom) against full cards at "
        "every zoom.", "",
        "| measurement | level of detail | full cards | ratio | goal |",
        "|---|---|---|---|---|",
        *rows, "",
    ])


def run(rounds: int) -> str:
    from layerloom.designer.app import application
    from layerloom.designer.main_window import MainWindow
    from layerloom import engine
    app = application()
    with tempfile.TemporaryDirectory() as folder:
        from PySide6.QtCore import QSettings
        path = Path(folder) / "big.json"
        engine.save(big_document(), path)
        window = MainWindow(settings=QSettings(str(Path(folder) / "s.ini"), QSettings.IniFormat),
                            recovery_dir=Path(folder) / "recovery")
        window.files.ask_save_changes = lambda: 0x00800000   # QMessageBox.Discard
        window.resize(1600, 1000)
        window.show()
        app.processEvents()
        opened, headless = measure_open(window, path, rounds)
        edited, full, shapes_only = measure_recheck(window.document, app, rounds)
        canvas_only, full_again, _ = measure_recheck(bare_canvas(window.document.arch), app, rounds)
        drag_100, still_100 = measure_drag(window, fit=False)
        drag_fit, still_fit = measure_drag(window, fit=True)
        window.document.undo_stack.setClean()
        window.close()
    o, h, e, f, c, g, u = (statistics.median(v)
                           for v in (opened, headless, edited, full, canvas_only, full_again, shapes_only))
    lines = [
        HEADING, "",
        f"`bench/designer_bench.py` (offscreen Qt, {os.cpu_count()} CPU cores shared with other work, load average "
        f"{_load()}; medians of {rounds} alternating rounds; this process's CPU time; "
        f"a {len(big_document().nodes)}-node residual MLP).", "",
        "| measurement | designer | baseline | ratio | goal |",
        "|---|---|---|---|---|",
        f"| open the document (window, scene, panels, first check and costs, first paint) | {o * 1000:.0f} ms | "
        f"{h * 1000:.0f} ms engine load + check + costs | {o / h:.2f} | < 1000 ms |",
        f"| re-check after one param edit, costs on (apply → costed) | {e * 1000:.0f} ms | "
        f"{f * 1000:.0f} ms full check + costs, cold caches | {e / f:.2f} | < 100 ms |",
        f"| of which: apply → checked (shapes shown; the costs follow) | {u * 1000:.0f} ms | "
        f"{e * 1000:.0f} ms to costed | {u / e:.2f} | |",
        f"| the same re-check with the canvas alone (no side panels) | {c * 1000:.0f} ms | "
        f"{g * 1000:.0f} ms full check + costs, cold caches | {c / g:.2f} | < 100 ms |",
        f"| drag one node with the mouse, canvas at 100 % | {drag_100:.0f} frames/s | {still_100:.0f} frames/s held still | "
        f"{drag_100 / still_100:.2f} | ≥ 30 frames/s |",
        f"| drag one node with the mouse, all 502 nodes in view | {drag_fit:.0f} frames/s | {still_fit:.0f} frames/s held still | "
        f"{drag_fit / still_fit:.2f} | ≥ 30 frames/s |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per measurement")
    parser.add_argument("--write-docs", action="store_true", help="write this benchmark's sections of docs/benchmarks.md")
    parser.add_argument("--only", choices=("designer", "canvas"), help="run one of the two sections")
    args = parser.parse_args()
    runs = {"designer": run, "canvas": run_scale}
    for name in [args.only] if args.only else runs:
        section = runs[name](args.rounds)
        if args.write_docs:
            write_section(section)
        print(section)
