"""Scheduling priorities for the engine's threads (Linux; elsewhere nothing is changed).

The audio callback must run the moment its period starts. Under JACK it
already does: libjack runs the client's process thread with SCHED_FIFO when
the server runs real-time (``jackd -R``), a few steps below the server's own.
Other host APIs may leave it at normal priority; then it is raised here if the
system allows (root, CAP_SYS_NICE or an rtprio limit), else left as it is.

The engine process's control thread (commands, meters, stats) shares the GIL
with the callback. If an ordinary process preempts it while it holds the GIL,
the callback waits for the GIL for as long as the control thread waits for a
core: an xrun. Giving it the lowest real-time priority, below the audio
thread's, keeps other processes from preempting it; it sleeps almost all the
time, so it costs them nothing.
"""

from __future__ import annotations

import os

AUDIO_PRIORITY = 10  # SCHED_FIFO priority given to an audio thread that has none (jackd's own default)
CONTROL_PRIORITY = 1  # the lowest real-time priority


def describe(tid: int) -> str:
    """``"SCHED_FIFO 5"``, ``"SCHED_OTHER nice 0"``... for a thread id (``"unknown"`` if it cannot be read)."""
    try:
        policy = os.sched_getscheduler(tid)
        if policy in (os.SCHED_FIFO, os.SCHED_RR):
            name = "SCHED_FIFO" if policy == os.SCHED_FIFO else "SCHED_RR"
            return f"{name} {os.sched_getparam(tid).sched_priority}"
        return f"SCHED_OTHER nice {os.getpriority(os.PRIO_PROCESS, tid)}"
    except (AttributeError, OSError):
        return "unknown"


def realtime_priority(tid: int) -> int:
    """The thread's real-time priority, 0 if it has none (or it cannot be read)."""
    try:
        if os.sched_getscheduler(tid) in (os.SCHED_FIFO, os.SCHED_RR):
            return os.sched_getparam(tid).sched_priority
    except (AttributeError, OSError):
        pass
    return 0


def make_realtime(tid: int, priority: int) -> bool:
    """SCHED_FIFO at ``priority`` for thread ``tid`` (0: the calling thread); False if not allowed."""
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (AttributeError, OSError):
        return False


def raise_audio_thread(tid: int) -> str:
    """Make the audio thread real-time if it is not already; returns what it runs at, for the user."""
    if realtime_priority(tid):
        return describe(tid)
    if not make_realtime(tid, AUDIO_PRIORITY):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, -10)
        except (AttributeError, OSError):
            return f"{describe(tid)} (real-time scheduling not allowed)"
    return describe(tid)


def raise_control_thread(audio_tid: int) -> str:
    """The calling thread to the lowest real-time priority, if the audio thread runs above it."""
    if realtime_priority(audio_tid) > CONTROL_PRIORITY and make_realtime(0, CONTROL_PRIORITY):
        return describe(0)
    return f"{describe(0)} (left as it was)"
