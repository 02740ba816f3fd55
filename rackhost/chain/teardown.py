"""Freeing plug-ins at the end of a command, without their parting words.

A session holds reference cycles, so its plug-ins are freed by a garbage
collection. As each goes, a DPF plug-in prints two lines about the order in
which JUCE's VST3 host releases it ("DPF warning: asked to delete component
while audio processor still active"). They tell the user nothing, and a
render of a few tracks would end with dozens.
"""

from __future__ import annotations

import gc
import os
import sys


def free_plugins_quietly() -> None:
    """Collect garbage now with the process's stderr muted; call it once everything else is said.

    The caller drops its own references to the session first. Python's
    streams are flushed before the mute, so nothing already written is lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to mute
        gc.collect()
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            gc.collect()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
