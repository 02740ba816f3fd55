"""Memory settings for a process running the audio callback (Linux; elsewhere nothing is changed).

Transparent huge pages stall the callback. NumPy asks the kernel for huge
pages on every array of 4 MB or more (``madvise(MADV_HUGEPAGE)``), and a
session's decoded files are such arrays. Every 10 s (``khugepaged``'s
``scan_sleep_millisecs``) the kernel then collapses some of those pages.
While it does, it holds the process's memory map lock, and any thread that
page-faults or allocates in that time waits for it.

Measured on the 2-core VM under JACK (16 tracks, 40 s runs, the GUI load in
another process): late cycles came every 3840 periods (10.24 s), and each
late callback started a whole period late (or took two). With huge pages
off for the process: no collapses, and 0-1 late cycles per run instead of 2-7.

The C heap keeps what it frees. Every edit while playing builds a new audio
state and drops the old one; glibc's malloc keeps the freed memory for reuse
rather than give it back, and holes between live blocks are never reused in
full. Measured in the engine process over a 30-minute soak (an edit a
second): its resident memory grew about 1.1 MB a minute while what was in
use stayed flat (266-268 MB, ``mallinfo2``). ``malloc_trim`` gives the holes
back: 2-4 MB each 15-40 s, in 0.24-0.40 ms, far under a period, so the
engine processes call :func:`trim_heap` every :data:`TRIM_SECONDS`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_PR_SET_THP_DISABLE = 41  # linux/prctl.h, since Linux 3.15
_PR_GET_THP_DISABLE = 42


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def disable_huge_pages() -> str:
    """Turn transparent huge pages off for this process (inherited by its children); says what happened.

    The flag covers the whole address space, arrays made before the call included.
    """
    if not sys.platform.startswith("linux"):
        return "huge pages: left as they are (not Linux)"
    try:
        libc = _libc()
        if libc.prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0:
            return f"huge pages: could not turn them off (errno {ctypes.get_errno()})"
    except (OSError, AttributeError) as err:
        return f"huge pages: could not turn them off ({err})"
    return "huge pages off"


TRIM_SECONDS = 30.0


def trim_heap() -> bool:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``); True if some was.

    Call it from a control thread, right after a block: it holds each malloc arena's lock while it walks it
    (a fraction of a millisecond for an engine process), and the audio thread allocates from one of them.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(_libc().malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return False


def huge_pages_disabled() -> bool:
    """True once :func:`disable_huge_pages` took effect in this process."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _libc().prctl(_PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1
    except (OSError, AttributeError):
        return False
