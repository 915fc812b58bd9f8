"""Dataset files are sized from their headers before they are read, against a limit that --data-limit raises, and
read into a small multiple of their data (issue 12, defects 8 and 11)."""
from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from layerloom.engine.data import DatasetError, load_dataset

from cli_runs import MOONS, cli, one_line_error, small_document


def _bomb(path: Path, rows: int) -> Path:
    """An npz whose x is `rows` x 64 zeros in float64, deflated to a few kilobytes per 100 MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, shape in (("x", (rows, 64)), ("y", (rows,))):
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                member.write(header.getvalue())
                chunk = bytes(1 << 20)
                left = int(np.prod(shape)) * 8
                while left:
                    member.write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
    return path


def test_a_zip_bomb_is_refused_from_its_headers_before_any_data_is_read(tmp_path):
    bomb = _bomb(tmp_path / "bomb.npz", 200_000)  # 104 MB of data in about 100 kB
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DatasetError) as error:
            load_dataset("npz", {"path": str(bomb)}, max_bytes=50_000_000)
        seconds, (_, peak) = time.perf_counter() - started, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "the data of x and y is 104,000,000 bytes, over the 50,000,000 byte limit" in str(error.value)
    assert "raise the limit with --data-limit" in str(error.value)
    assert seconds < 2 and peak < 10_000_000


def test_the_limit_is_a_flag(tmp_path):
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros((1000, 2), np.float32), y=np.zeros(1000, np.int64))
    doc = small_document(tmp_path / "doc.json", dict(MOONS, dataset={"name": "npz", "params": {"path": str(data)}}))
    line = one_line_error(cli("probe", doc, "--data-limit", "4kB"))
    assert "is 16,000 bytes, over the 4,000 byte limit; raise the limit with --data-limit SIZE" in line
    assert cli("probe", doc, "--data-limit", "1MiB")[0] == 0


def test_an_npz_header_that_lies_about_its_shape_is_named_as_such(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(10, np.float32))
    lying = buffer.getvalue().replace(b"(10,)", b"(99,)")
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", lying)
        archive.writestr("y.npy", buffer.getvalue())
    with pytest.raises(DatasetError) as error:
        load_dataset("npz", {"path": str(path)})
    assert "array 'x'" in str(error.value) and "is damaged: its header says shape (99,) of float32 (396 bytes), " \
        "but the archive holds 40 bytes of data" in str(error.value)


def test_a_csv_file_is_streamed_into_a_small_multiple_of_its_size(tmp_path):
    rng = np.random.default_rng(0)
    rows = 20_000
    features = rng.normal(size=(rows, 8)).round(4)
    text = "a,b,c,d,e,f,g,h,label\n" + "".join(
        ",".join(map(str, row)) + f",c{i % 3}\n" for i, row in enumerate(features.tolist()))
    path = tmp_path / "big.csv"
    path.write_text(text)
    tracemalloc.start()
    try:
        data = load_dataset("csv", {"path": str(path)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tuple(data.inputs[0].shape) == (rows, 8) and data.num_classes == 3
    np.testing.assert_allclose(data.inputs[0].numpy(), features.astype(np.float32))
    assert data.info["class_names"] == ["c0", "c1", "c2"] and data.target[:4].tolist() == [0, 1, 2, 0]
    assert peak < 2 * path.stat().st_size, f"{peak:,} bytes to read {path.stat().st_size:,}"


def test_a_csv_file_over_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,label\n" + "1.0,x\n" * 1000)
    with pytest.raises(DatasetError, match="the file is 6,008 bytes, over the 1,000 byte limit"):
        load_dataset("csv", {"path": str(path)}, max_bytes=1000)
