"""bench/gpu_check.py on a machine without CUDA: one line that says so, exit 0, nothing written."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_without_cuda_the_gpu_check_says_so_in_one_line_and_exits_0():
    report = ROOT / "docs" / "benchmarks.md"
    before = report.read_bytes()
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py")], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["no CUDA device: skipping the GPU check"] and not done.stderr
    assert report.read_bytes() == before
