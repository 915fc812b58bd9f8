"""Documents: JSON round trips, atomic saves, migrations, the JSON Schema, summaries, and clear errors."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from layerloom import engine
from layerloom.engine import DocumentError, migrations
from layerloom.engine.fileio import FileError
from layerloom.engine.files import MAX_FILE_BYTES

TEMPLATES = sorted(path for path in (Path(__file__).resolve().parents[2] / "templates").glob("*.json")
                   if "format_version" in json.loads(path.read_text()))  # documents, not the gallery index
SMALL = {"format_version": 2, "name": "Small", "nodes": [
    {"id": "x", "type": "input", "params": {"shape": [4]}},
    {"id": "fc", "type": "linear", "params": {"out_features": 64, "init": "orthogonal"}},
    {"id": "y", "type": "output"},
], "edges": [{"source": "x", "target": "fc"}, {"source": "fc", "target": "y"}], "layout": {"nodes": {"fc": [10.5, -3]}}}


def errors_of(text) -> list[str]:
    with pytest.raises(DocumentError) as error:
        engine.loads(text)
    return [str(p) for p in error.value.problems]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_templates_round_trip_and_are_valid(path):
    arch = engine.load(path)
    assert engine.loads(engine.dumps(arch)) == arch
    assert engine.check(arch)[0] == []


def test_to_dict_leaves_defaults_out():
    data = engine.from_dict(SMALL).to_dict()
    assert data["nodes"][1] == {"id": "fc", "type": "linear", "params": {"init": "orthogonal"}}
    assert data["nodes"][2] == {"id": "y", "type": "output"}
    assert data["edges"][0] == {"source": "x", "target": "fc"}
    assert data["layout"] == {"nodes": {"fc": [10.5, -3.0]}}


def test_frames_round_trip_in_the_layout_section():
    text = engine.dumps(engine.from_dict({**SMALL, "layout": {
        "nodes": {"fc": [0, 0]}, "frames": [{"title": "Head", "color": "blue", "rect": [-20, -32, 200, 150]}]}}))
    assert json.loads(text)["layout"]["frames"] == [{"title": "Head", "color": "blue", "rect": [-20.0, -32.0, 200.0, 150.0]}]
    assert engine.loads(text).layout.frames[0].title == "Head"


def test_save_writes_atomically(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    path.write_text("previous")

    def fail(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(FileError, match=f"^cannot write {path}: no space left on device$"):
        engine.save(engine.from_dict(SMALL), path)
    assert path.read_text() == "previous" and os.listdir(tmp_path) == ["model.json"]
    monkeypatch.undo()
    engine.save(engine.from_dict(SMALL), path)
    assert engine.load(path) == engine.from_dict(SMALL) and os.listdir(tmp_path) == ["model.json"]


@pytest.mark.parametrize("text, expected", [
    ("{nodes: []}", "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text (byte 0); is this a binary file?"),
    ("[1, 2]", "expected a JSON object at the top level, got list"),
    ("{}", "format_version: missing 'format_version' (this file is not a LayerLoom document)"),
    ('{"format_version": 7}', "format_version: is 7: the file was made by a newer LayerLoom (this one reads up to 2)"),
    ('{"format_version": "1"}', "format_version: must be a positive integer, got '1'"),
    ("[" * 100_000, "not valid JSON: nested too deeply"),
    ('{"format_version": ' + "9" * 5000 + "}", "not valid JSON: a number has too many digits"),
    ('{"format_version": 1, "name": "\\ud800"}', "not valid text: a \\u escape encodes half of a character (a lone surrogate)"),
    ('{"format_version": 1, "layout": {"x": [NaN, 0]}}', "layout.nodes.x.0: Input should be a finite number"),
    ('{"format_version": 2, "layout": {"frames": [{"rect": [0, 0, -5, 10]}]}}',
     "layout.frames.0.rect: Value error, width and height must be positive"),
    ('{"format_version": 1, "nodes": {"x": 1}}', "nodes: Input should be a valid array"),
])
def test_bad_text_gets_one_clear_problem(text, expected):
    assert errors_of(text) == [expected]


def test_a_byte_order_mark_is_accepted():
    assert engine.loads(b"\xef\xbb\xbf" + json.dumps(SMALL).encode()) == engine.from_dict(SMALL)


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing.json", "cannot read: no such file"),
    (lambda tmp: tmp, "cannot read: it is a folder, not a regular file"),
    (lambda tmp: (os.mkfifo(tmp / "pipe"), tmp / "pipe")[1], "cannot read: it is a named pipe (FIFO), not a regular file"),
])
def test_unreadable_paths_get_one_clear_problem(tmp_path, make, expected):
    with pytest.raises(DocumentError) as error:
        engine.load(make(tmp_path))
    assert [str(p) for p in error.value.problems] == [expected]


def test_oversized_files_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(SMALL))
    monkeypatch.setattr(engine.files, "MAX_FILE_BYTES", 10)
    with pytest.raises(DocumentError, match="over the 10 byte limit"):
        engine.load(path)
    assert MAX_FILE_BYTES == 64 * 1024 * 1024


def test_migrations_run_in_order_on_the_raw_data(monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", {})

    @migrations.migration(from_version=1)
    def rename_units(raw: dict) -> dict:  # the fake version 2 calls linear's out_features "units"
        nodes = [{**n, "params": {("units" if k == "out_features" else k): v for k, v in n.get("params", {}).items()}}
                 for n in raw["nodes"]]
        return {**raw, "nodes": nodes}

    @migrations.migration(from_version=2)
    def add_description(raw: dict) -> dict:
        return {**raw, "description": f"units: {raw['nodes'][1]['params']['units']}"}

    old = {**SMALL, "format_version": 1}
    migrated = migrations.migrate(old, current=3)
    assert migrated["format_version"] == 3
    assert migrated["nodes"][1]["params"] == {"units": 64, "init": "orthogonal"}
    assert migrated["description"] == "units: 64"
    assert old["nodes"][1]["params"]["out_features"] == 64  # the input is left alone
    assert migrations.migrate(migrated, current=3) == migrated  # already current


def test_format_1_positions_move_into_layout_nodes():
    current = migrations.migrate({**SMALL, "format_version": 1, "layout": {"fc": [10.5, -3]}})
    assert current == SMALL and migrations.migrate(SMALL) == SMALL
    assert "layout" not in migrations.migrate({"format_version": 1})


def test_from_dict_migrates_before_validating(monkeypatch):
    seen = []
    monkeypatch.setattr(engine.files, "migrate", lambda raw: seen.append(raw) or {**raw, "format_version": 2, "name": "migrated"})
    assert engine.from_dict(SMALL).name == "migrated" and seen == [SMALL]


def test_schema_describes_every_layer_type_and_forbids_unknown_fields():
    schema = engine.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    branches = [schema["$defs"][b["$ref"].split("/")[-1]] for b in schema["properties"]["nodes"]["items"]["oneOf"]]
    layers = {b["properties"]["type"]["const"]: b for b in branches if "const" in b["properties"]["type"]}
    assert sorted(layers) == sorted(engine.REGISTRY)
    [instance] = [b for b in branches if "const" not in b["properties"]["type"]]  # any other type: a block instance
    assert instance["properties"]["type"]["not"]["enum"] == sorted(engine.REGISTRY)
    block = schema["$defs"][schema["properties"]["blocks"]["additionalProperties"]["$ref"].split("/")[-1]]
    assert {"params", "nodes", "edges", "description"} <= set(block["properties"])
    linear = layers["linear"]
    params = schema["$defs"][linear["properties"]["params"]["$ref"].split("/")[-1]]
    assert params["additionalProperties"] is False
    assert params["properties"]["out_features"]["minimum"] == 1
    assert "in_features" not in params["properties"]
    assert all("description" in field for field in params["properties"].values())


def test_summary_lists_every_node_with_shape_parameters_and_costs():
    summary = engine.summarize(engine.from_dict(SMALL), batch_size=8)
    assert summary == {
        "total_params": 320, "trainable_params": 320, "total_macs": 256, "batch_size": 8, "optimizer": "adam",
        # weights 320 float32; Adam keeps two buffers per weight and a step count per tensor; the linear layer
        # keeps its input (8 samples of 4 float32) for its weight gradient
        "param_bytes": 1280, "grad_bytes": 1280, "optimizer_bytes": 2568, "activation_bytes": 128,
        "training_bytes": 5256, "nodes": [
            {"id": "x", "type": "input", "output_shape": [4], "params": 0, "macs": 0, "activation_bytes": 128},
            {"id": "fc", "type": "linear", "output_shape": [64], "params": 320, "macs": 256, "activation_bytes": 0},
            {"id": "y", "type": "output", "output_shape": [64], "params": 0, "macs": 0, "activation_bytes": 0},
        ]}
    lines = engine.format_summary(summary).splitlines()
    assert lines[3].split() == ["fc", "linear", "(64,)", "320", "256", "-"]
    assert lines[-2:] == ["MACs per sample: 256", "training memory at batch 8: 5.13 KiB (activations 0.125, "
                          "parameters 1.25, gradients 1.25, Adam state 2.51)"]


def test_save_gives_the_file_normal_permissions(tmp_path):
    path = tmp_path / "net.json"
    engine.save(engine.from_dict(SMALL), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
