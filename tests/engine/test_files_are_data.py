"""Every file goes through engine.fileio: pipes and devices are refused at once, a full disk is named as one and
loses nothing, and a mistake is one line naming its file or flag (issue 12, defects 1, 3, 9 and 11)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from layerloom.engine import fileio
from layerloom.engine.cli import main

from cli_runs import MOONS, cli, one_line_error, small_document

ROOT = Path(__file__).resolve().parents[2]
SPIRALS = ROOT / "templates" / "mlp_spirals.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished run folder of the small document."""
    folder = tmp_path_factory.mktemp("trained")
    code, _, err = cli("train", small_document(folder / "doc.json"), "--out", folder / "run")
    assert code == 0, err
    return folder / "run"


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    copy.mkdir()
    for file in run.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    return copy


FIFO_CASES = {  # name -> (the file of the run copy made a FIFO, arguments given the run copy and the document)
    "eval, model.pt": ("model.pt", lambda r, d: ["eval", r]),
    "sample, model.pt": ("model.pt", lambda r, d: ["sample", r]),
    "export --weights": ("model.pt", lambda r, d: ["export", d, "--format", "python", "-o", r.parent / "x.py",
                                                   "--weights", r / "model.pt"]),
    "train --resume, checkpoint.pt": ("checkpoint.pt", lambda r, d: ["train", d, "--out", r, "--resume"]),
    "train --resume, events.jsonl": ("events.jsonl", lambda r, d: ["train", d, "--out", r, "--resume"]),
    "train --events": ("stream", lambda r, d: ["train", d, "--out", r.parent / "new", "--events", r / "stream"]),
    "export -o": ("out.py", lambda r, d: ["export", d, "--format", "python", "-o", r / "out.py"]),
    "dataset csv": ("data.csv", lambda r, d: ["probe", small_document(r.parent / "csv.json", {
        "dataset": {"name": "csv", "params": {"path": str(r / "data.csv")}}, "loss": "cross_entropy"})]),
}


@pytest.mark.parametrize("case", FIFO_CASES)
def test_a_named_pipe_is_refused_at_once_and_named(run, tmp_path, case):
    name, make = FIFO_CASES[case]
    copy = _copy(run, tmp_path)
    (copy / name).unlink(missing_ok=True)
    os.mkfifo(copy / name)
    line = one_line_error(cli(*make(copy, small_document(tmp_path / "doc.json")), seconds=10))
    assert f"{copy / name}: it is a named pipe (FIFO), not a regular file" in line


def test_special_files_are_refused_for_writing_too(tmp_path):
    for target in (tmp_path, Path("/dev/full"), Path("/dev/null")):
        with pytest.raises(fileio.FileError, match="not a regular file"):
            fileio.write_text(target, "data")
    line = one_line_error(cli("train", small_document(tmp_path / "doc.json"), "--out", tmp_path / "run",
                              "--events", "/dev/full"))
    assert line == "cannot write /dev/full: it is a character device, not a regular file"
    line = one_line_error(cli("train", tmp_path / "doc.json", "--out", tmp_path / "run2", "--events", tmp_path))
    assert line == f"cannot write {tmp_path}: it is a folder, not a regular file"


# ---- a full disk: a real, small filesystem (tmpfs in a private mount namespace) ----

FULL_DISK = """
import json, os, sys, torch
from layerloom.engine.cli import main
disk, spirals = sys.argv[1], sys.argv[2]
def fill(leave):
    filler = os.open(os.path.join(disk, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(filler, bytes(4096)):
            pass
    except OSError:
        pass
    os.close(filler)
    os.truncate(os.path.join(disk, "filler"), max(os.path.getsize(os.path.join(disk, "filler")) - leave, 0))
run = os.path.join(disk, "run")
codes = [main(["train", spirals, "--out", run, "--max-steps", "10", "--epochs", "1"])]
saved = {name: open(os.path.join(run, name), "rb").read() for name in ("model.pt", "checkpoint.pt")}
fill(leave=16384)
print("---", file=sys.stderr)
codes.append(main(["train", spirals, "--out", run, "--resume", "--max-steps", "20", "--epochs", "3"]))
print("---", file=sys.stderr)
codes.append(main(["export", spirals, "--format", "torchscript", "-o", os.path.join(disk, "m.ts")]))
intact = all(open(os.path.join(run, name), "rb").read() == data for name, data in saved.items())
print(json.dumps({"codes": codes, "intact": intact, "files": sorted(os.listdir(disk)) + sorted(os.listdir(run))}))
"""


def _on_a_small_filesystem(script: str, *args) -> subprocess.CompletedProcess:
    """Run `script` with a fresh 2 MiB tmpfs as its first argument: mounted in a private mount namespace (as root,
    or as a user where user namespaces are allowed), so it disappears with the process."""
    mount = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    probe = subprocess.run([*mount, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no mount namespace here (needs root or user namespaces); the injected-ENOSPC tests still run")
    shell = 'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec "$@"'
    disk = Path(os.environ.get("TMPDIR", "/tmp")) / f"layerloom-disk-{os.getpid()}"
    disk.mkdir(exist_ok=True)
    try:
        return subprocess.run([*mount, "sh", "-c", shell, "sh", str(disk), sys.executable, "-c", script, str(disk),
                               *map(str, args)], capture_output=True, text=True, timeout=240, cwd=ROOT)
    finally:
        disk.rmdir()


def test_a_full_disk_is_one_line_naming_the_file_and_loses_nothing():
    done = _on_a_small_filesystem(FULL_DISK, SPIRALS)
    assert done.returncode == 0, done.stderr[-3000:]  # a native abort (exit 134) ends here
    result = json.loads(done.stdout.splitlines()[-1])
    first, resumed, exported = done.stderr.split("---\n")
    assert result["codes"] == [0, 1, 1]
    assert resumed.strip().endswith(": no space left on device") and "cannot write " in resumed, resumed
    assert len(resumed.strip().splitlines()) == 1 and "enforce fail" not in resumed
    disk = resumed.split("cannot write ")[1].split(":")[0]
    assert Path(disk).name in ("checkpoint.pt", "model.pt", "events.jsonl")
    assert exported.strip().splitlines() == [f"cannot write {Path(disk).parent.parent / 'm.ts'}: "
                                             "no space left on device"]
    assert result["intact"]  # the earlier snapshot and weights are as they were
    assert not [f for f in result["files"] if f.endswith(".tmp")]  # and no temporary file is left


def test_an_injected_enospc_comes_out_as_the_same_line(tmp_path, monkeypatch):
    """Where no small filesystem can be mounted, the same path is exercised with ENOSPC from fsync."""
    target = tmp_path / "m.pt"
    target.write_bytes(b"earlier")

    def full(_fd):
        raise OSError(28, os.strerror(28))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(fileio.FileError) as error:
        fileio.save_torch({"w": torch.zeros(3)}, target)
    assert str(error.value) == f"cannot write {target}: no space left on device"
    assert target.read_bytes() == b"earlier" and os.listdir(tmp_path) == ["m.pt"]


# ---- every mistake is one line naming its file or flag: never "internal error" ----

def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _damaged_npz(path: Path) -> Path:
    data = bytearray(_npz_bytes(x=np.zeros((8, 2), np.float32), y=np.zeros(8, np.int64)))
    data[data.index(b"\x93NUMPY") + 130] ^= 0xFF  # a byte of x's data: the CRC no longer matches
    path.write_bytes(bytes(data))
    return path


def _not_an_array_npz(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"this is text, not an array")
        archive.writestr("y.npy", b"nor is this")
    return path


def _npz_doc(tmp_path: Path, make) -> Path:
    data = make(tmp_path / "data.npz")
    return small_document(tmp_path / "npz.json", dict(MOONS, dataset={"name": "npz", "params": {"path": str(data)}}))


MISTAKES = {  # name -> (arguments, given tmp_path, the run and the document; words the line must hold)
    "truncated model.pt": (lambda t, r, d: ["eval", _with(r, t, "model.pt", (r / "model.pt").read_bytes()[:100])],
                           "model.pt: it is not a weights file that loads safely"),
    "model.pt is a folder": (lambda t, r, d: ["eval", _with(r, t, "model.pt", None)],
                             "model.pt: it is a folder, not a regular file"),
    "model.pt of a list": (lambda t, r, d: ["eval", _with(r, t, "model.pt", _saved([1, 2]))],
                           "model.pt: it does not hold a model's weights"),
    "checkpoint of another model": (lambda t, r, d: ["train", d, "--out", _with(r, t, "checkpoint.pt", _saved(
        dict(torch.load(r / "checkpoint.pt", weights_only=True), model={"fc.weight": torch.zeros(1)}))), "--resume"],
        "checkpoint.pt: parameter 'hidden.weight' is missing"),
    "empty checkpoint": (lambda t, r, d: ["train", d, "--out", _with(r, t, "checkpoint.pt", _saved({})), "--resume"],
                         "checkpoint.pt is not a checkpoint this LayerLoom can resume: 'step' is missing"),
    "npz with a bad CRC": (lambda t, r, d: ["probe", _npz_doc(t, _damaged_npz)], "array 'x' in"),
    "npz of text members": (lambda t, r, d: ["probe", _npz_doc(t, _not_an_array_npz)], "is not a NumPy array"),
    "over-long path": (lambda t, r, d: ["summary", t / ("x" * 300)], "characters): cannot read: file name too long"),
    "--out under a file": (lambda t, r, d: ["train", d, "--out", t / "doc.json" / "run"], "doc.json"),
    "--seed 2**70": (lambda t, r, d: ["train", d, "--seed", 2**70], f"--seed {2**70}: input should be less than"),
    "--temperature nan": (lambda t, r, d: ["sample", r, "--temperature", "nan"],
                          "--temperature nan: input should be a finite number"),
    "--args nested 30,000 deep": (lambda t, r, d: ["import", "import_models:MLP", "--args", "[" * 30_000, "-o",
                                                   t / "x.json"], "--args is not valid JSON"),
    "usage": (lambda t, r, d: ["train", d, "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
}


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _with(run: Path, tmp_path: Path, name: str, data: bytes | None) -> Path:
    """A copy of the run folder whose file `name` holds `data` (None: a folder)."""
    copy = _copy(run, tmp_path)
    (copy / name).unlink()
    (copy / name).mkdir() if data is None else (copy / name).write_bytes(data)
    return copy


@pytest.mark.parametrize("case", MISTAKES)
def test_a_mistake_is_one_line_naming_its_cause(run, tmp_path, monkeypatch, case):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    make, words = MISTAKES[case]
    result = cli(*make(tmp_path, run, small_document(tmp_path / "doc.json")))
    err = result[2]
    if case == "usage":  # argparse's usage line comes first: still exit 1, as for any other bad input
        assert result[0] == 1 and words in err.splitlines()[-1]
        return
    assert words in one_line_error(result)


def test_a_long_value_is_shortened_in_the_message(tmp_path):
    doc = json.loads(small_document(tmp_path / "d.json").read_text())
    doc["nodes"][1]["id"] = "a" * 1_000_000
    (tmp_path / "long.json").write_text(json.dumps(doc))
    code, out, err = cli("check", tmp_path / "long.json")
    assert code == 1 and max(map(len, (out + err).splitlines())) < 1000


def test_a_module_raising_a_base_exception_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "hostile.py").write_text("class Quit(BaseException):\n    pass\n\nraise Quit('bye')\n")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("import", "hostile.py:Net", "-o", tmp_path / "x.json"))
    assert line == "hostile.py:Net: importing module 'hostile.py' failed: Quit: bye"


def test_usage_errors_exit_1_as_the_readme_says(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["train"])
    assert exit.value.code == 1 and "the following arguments are required: FILE" in capsys.readouterr().err
    readme = (ROOT / "README.md").read_text()
    assert "exit code 1: never a traceback" in " ".join(readme.split()) and "exit code 2" not in readme
