"""True bugs: one line for the user, the whole traceback in a log file that the line names."""
from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

from . import fileio
from .errors import shown


def crash_folder() -> Path:
    """Where crash logs go: $XDG_STATE_HOME/layerloom/crashes (~/.local/state/layerloom/crashes)."""
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "layerloom" / "crashes"


def save_traceback(error: BaseException) -> Path | None:
    """Write `error`'s traceback to a new log file (in the temporary folder when the crash folder cannot be
    written); None when no log could be written at all."""
    text = "".join(traceback.format_exception(error))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (crash_folder(), Path(tempfile.gettempdir())):
        try:
            path = fileio.make_folder(folder) / name
            fileio.write_text(path, text)
            return path
        except fileio.FileError:
            continue
    return None


def internal_error(error: BaseException, where: str = "") -> str:
    """The one line for a bug: what failed and the log file holding the traceback (the traceback itself follows
    the line only when no log file could be written)."""
    lines = str(error).strip().splitlines()
    summary = f"{type(error).__name__}: {shown(lines[0], 200)}" if lines else type(error).__name__
    log = save_traceback(error)
    line = f"layerloom: internal error{where} ({summary}); please report it"
    if log is None:
        return line + "\n" + "".join(traceback.format_exception(error)).rstrip()
    return f"{line} with the traceback in {log}"
