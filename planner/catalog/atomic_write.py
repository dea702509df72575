"""Write a file whole or not at all: the text goes to a temporary file in the same folder, is flushed to
disk, and replaces the target with `os.replace` (atomic on POSIX and Windows within one file system). A
reader sees the old file or the new one, never a truncated one; a failure leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace `path` with `text` in one step; raises OSError (or UnicodeEncodeError) with `path` unchanged."""
    path = Path(path)
    data = text.encode(encoding)  # an unencodable character fails here, before anything is touched
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)  # keep the file's permissions, not mkstemp's 0600
        else:
            os.chmod(temp, 0o644)  # what open() makes under the usual umask (reading os.umask would change it)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path

