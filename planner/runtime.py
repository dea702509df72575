"""Process settings for the planner's front ends (the CLI, the dashboard, the benchmarks that time them).

A plan allocates and frees a few hundred numpy temporaries of 0.1-6 MB. glibc serves each one above its
mmap threshold with a fresh mapping, so every plan pays page faults for memory it just gave back; measured
on a 2-core VM (bench/plan_speed.py), that is 10-20 ms of a 40-60 ms plan, and the most variable part.
Keeping freed memory in the heap (a higher mmap and trim threshold, glibc's mallopt) removes them. The core
(`planner.plan`) never calls this: a library should not change its host process's allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc malloc.h
_KEEP_BYTES = 256 << 20  # blocks up to this size come from (and go back to) the heap


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where there is no glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
