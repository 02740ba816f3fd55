"""Keeping plug-ins' and C libraries' chatter off the user's terminal.

Every line a rackhost command prints is rackhost's own. Some C code writes to
fd 2 behind Python's back:

* a DPF plug-in prepared again for a larger block while active (as a flush of
  silence does after a render at smaller blocks) prints
  ``assertion failure: "! fIsActive"``; the plug-in carries on unharmed;
* as each is freed, a DPF plug-in prints two lines about the order in which
  JUCE's VST3 host releases it ("DPF warning: asked to delete component while
  audio processor still active"); a render of a few tracks would end with dozens;
* libjack and ALSA print when there is no server or sequencer to talk to.

They tell the user nothing. :func:`muted_stderr` silences fd 2 around such a
call. Use it only on the control thread, around calls that report their own
failures as Python exceptions (raised after the mute ends), and never around
the audio callback.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def muted_stderr() -> Iterator[None]:
    """fd 2 goes to /dev/null inside the block; Python's streams are flushed first, so nothing already
    written is lost. Without a usable fd 2 (a closed stderr) it mutes nothing."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no stderr to mute, or Python's stream is closed
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)  # os.open, not open(): this may run late in a teardown
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def free_plugins_quietly() -> None:
    """Collect garbage now with the process's stderr muted; call it once everything else is said.

    A session holds reference cycles, so its plug-ins are freed by a garbage
    collection. The caller drops its own references to the session first.
    """
    with muted_stderr():
        gc.collect()
