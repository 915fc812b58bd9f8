"""Hypothesis as a hostile user: generated documents, training flags, dataset files and damaged run folders. The
only outcomes allowed are success, or exit 1 with lines that name the problem: never a hang, a traceback or an
"internal error" (issue 12). About 370 cases, 15 seconds on an idle 2-core machine."""
from __future__ import annotations

import io
import json
import os
import shutil
from itertools import count
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerloom.engine.layers import REGISTRY

from cli_runs import MOONS, cli, small_document

def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
TINY = dict(MOONS, epochs=1, batch_size=8, dataset={"name": "moons", "params": {"n_samples": 24}})
IDS = st.sampled_from(["x", "fc", "y", "\uff21", "\ufb01", "x\u0307", "input", "self", "forward", "class", "\u03b2",
                       "_", "a" * 201, "", "0x", "a b", "fc_out"]) | st.text(max_size=6)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70) | st.sampled_from([2**70, -(2**63)])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2), max_leaves=5)
names = count()


def _allowed(result: tuple[int | None, str, str]) -> int:
    """Success, or exit 1 with short lines and no sign of a bug; the exit status."""
    code, out, err = result
    assert code in (0, 1), f"exit status {code} (None: it hung); stderr {err[-2000:]!r}"
    text = out + err
    assert "internal error" not in text and "Traceback" not in text, err[-3000:]
    assert not text.strip() or max(map(len, text.splitlines())) < 2000
    if code == 1:
        assert text.strip(), "a failure must say why"  # on stderr; `check` lists its problems on stdout
    return code


def _base() -> dict:
    return {
        "format_version": 1, "name": "fuzz",
        "nodes": [{"id": "x", "type": "input", "params": {"shape": [2]}},
                  {"id": "fc", "type": "linear", "params": {"out_features": 8}},
                  {"id": "act", "type": "relu"},
                  {"id": "scores", "type": "linear", "params": {"out_features": 2}},
                  {"id": "y", "type": "output"}],
        "edges": [{"source": a, "target": b} for a, b in (("x", "fc"), ("fc", "act"), ("act", "scores"),
                                                          ("scores", "y"))],
        "training": dict(TINY)}


@st.composite
def documents(draw) -> dict:
    """The base document with one to three mutations: ids, types, params, edges, nodes or training fields."""
    doc = _base()
    nodes, edges = doc["nodes"], doc["edges"]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["id", "type", "param", "edge", "node", "training"]))
        node = draw(st.sampled_from(nodes))
        if kind == "id":
            old, node["id"] = node["id"], draw(IDS)
            for edge in edges:
                for end in ("source", "target"):
                    if edge[end] == old and draw(st.booleans()):
                        edge[end] = node["id"]
        elif kind == "type":
            node["type"] = draw(st.sampled_from([*REGISTRY, "dense", ""]))
            node["params"] = {}
        elif kind == "param":
            fields = list(REGISTRY[node["type"]].params.model_fields) if node["type"] in REGISTRY else []
            field = draw(st.sampled_from(fields + ["unknown"]))
            node.setdefault("params", {})[field] = draw(VALUES | st.integers(0, 9) | st.lists(st.integers(0, 9),
                                                                                             max_size=3))
        elif kind == "edge":
            ids = [n["id"] for n in nodes]
            edges.append({"source": draw(st.sampled_from(ids)), "target": draw(st.sampled_from(ids)),
                          "source_port": draw(st.sampled_from(["out", "state", "x"])),
                          "target_port": draw(st.sampled_from(["in", "state", "y"]))})
        elif kind == "node":
            new = {"id": f"n{draw(st.integers(0, 9))}", "type": draw(st.sampled_from(list(REGISTRY)))}
            position = draw(st.integers(1, len(nodes) - 1))
            before, after = nodes[position - 1]["id"], nodes[position]["id"]
            nodes.insert(position, new)
            edges[:] = [e for e in edges if (e["source"], e["target"]) != (before, after)]
            edges += [{"source": before, "target": new["id"]}, {"source": new["id"], "target": after}]
        else:
            field = draw(st.sampled_from(["epochs", "batch_size", "loss", "optimizer", "dataset", "seed",
                                          "val_fraction", "grad_clip", "device"]))
            doc["training"][field] = draw(VALUES)
    return doc


@fuzz(150)
@given(doc=documents())
def test_documents(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("doc") / "doc.json"
    path.write_text(json.dumps(doc))
    if _allowed(cli("check", path)) == 0:  # what check accepts compiles: training may still refuse the data
        assert _allowed(cli("summary", path)) == 0
        _allowed(cli("train", path, "--out", path.parent / "run", "--max-steps", "2"))


FLAGS = {"--epochs": st.integers(-2, 3), "--batch-size": st.integers(-1, 40), "--seed": st.integers(-1, 2**70),
         "--max-steps": st.integers(-1, 3), "--log-every": st.integers(-1, 3), "--profile-every": st.integers(-1, 3),
         "--device": st.sampled_from(["cpu", "gpu", "auto", ""]),
         "--data-limit": st.sampled_from(["1", "1kB", "10MB", "lots", "-5", "0"])}


@fuzz(60)
@given(flags=st.dictionaries(st.sampled_from(list(FLAGS)), st.integers(0, 0), max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({flag: FLAGS[flag] for flag in chosen})))
def test_training_flags(tmp_path_factory, flags):
    folder = tmp_path_factory.mktemp("flags")
    argv = [str(a) for pair in flags.items() for a in pair]
    _allowed(cli("train", small_document(folder / "doc.json", TINY), "--out", folder / "run",
                 *(["--max-steps", "3"] if "--max-steps" not in flags else []), *argv))


ARRAYS = st.tuples(
    st.sampled_from(["float32", "float64", "int64", "uint8", "bool", "complex64", "uint64", "<U1", "float16"]),
    st.lists(st.integers(0, 5), min_size=0, max_size=3), st.sampled_from([0.0, 1.0, -1.0, 3.0, 2**64 - 1, np.nan]))


def _array(spec) -> np.ndarray:
    dtype, shape, fill = spec
    try:
        with np.errstate(all="ignore"):
            return np.full(shape, fill, dtype=dtype)
    except (OverflowError, ValueError):
        return np.zeros(shape, dtype=dtype)


@fuzz(80)
@given(kind=st.sampled_from(["npz", "csv", "damaged npz"]), x=ARRAYS, y=ARRAYS, flip=st.integers(0, 10_000),
       text=st.text(alphabet=",;\n\"ab1.5-eE\t x", max_size=80))
def test_dataset_files(tmp_path_factory, kind, x, y, flip, text):
    folder = tmp_path_factory.mktemp("data")
    data = folder / f"data.{kind.split()[-1]}"
    if kind == "csv":
        data.write_text("a,b,label\n" + text)
    else:
        buffer = io.BytesIO()
        np.savez(buffer, x=_array(x), y=_array(y))
        raw = bytearray(buffer.getvalue())
        if kind == "damaged npz":
            raw[flip % len(raw)] ^= 0x5A
        data.write_bytes(bytes(raw))
    doc = small_document(folder / "doc.json", dict(TINY, dataset={"name": kind.split()[-1],
                                                                  "params": {"path": str(data)}}))
    _allowed(cli("train", doc, "--out", folder / "run", "--max-steps", "1"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("trained")
    doc = small_document(folder / "doc.json", TINY)
    assert cli("train", doc, "--out", folder / "run")[0] == 0
    return doc, folder / "run"


def _damage(path: Path, how: str, cut: int, blob: bytes) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[:cut % (len(data) + 1)])
    elif how == "bytes":
        path.write_bytes(blob)
    elif how == "folder":
        path.unlink()
        path.mkdir()
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "junk lines":
        with open(path, "ab") as handle:
            handle.write(blob + b"\n{\"event\": \"step\"}\n")
    else:  # another object saved by torch
        torch.save({"step": cut, "model": {"w": torch.zeros(2)}} if how == "torch dict" else [cut, "x"], path)


@fuzz(80)
@given(name=st.sampled_from(["architecture.json", "events.jsonl", "model.pt", "checkpoint.pt"]),
       how=st.sampled_from(["delete", "truncate", "bytes", "folder", "fifo", "junk lines", "torch dict", "torch list"]),
       cut=st.integers(0, 5000), blob=st.binary(max_size=64),
       command=st.sampled_from(["eval", "sample", "resume", "export"]))
def test_run_folders(trained, tmp_path_factory, name, how, cut, blob, command):
    doc, run = trained
    copy = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(run, copy)
    _damage(copy / name, how, cut, blob)
    argv = {"eval": ["eval", copy], "sample": ["sample", copy],
            "resume": ["train", doc, "--out", copy, "--resume", "--epochs", "2"],
            "export": ["export", doc, "--format", "python", "-o", copy.parent / "x.py", "--weights", copy]}[command]
    _allowed(cli(*argv, seconds=20))
