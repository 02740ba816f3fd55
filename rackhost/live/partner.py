"""A partner process that renders some of the live engine's tracks on the other core, with a GIL of its own.

Why a process and not the second audio thread of :mod:`.spread`: every
pedalboard call drops the GIL for its DSP and takes it back after, so two
threads of one interpreter hand the GIL to each other once per track, and on
a VM a thread woken on the other core runs 15 us or more later (a pipe round
trip between two real-time threads measured 33 us here). Measured at 64
tracks x 3 plug-ins, in one process: two threads ran a block in 0.9-1.4x the
time of one; two processes, each with half the tracks, in 0.59-0.61x.

How it works. The partner loads the same session with the same loader and
applies every command the engine applies that changes a chain (forwarded by
:meth:`PartnerLink.forward`), so it holds the same plug-ins with the same
settings. It renders the *file tracks* (the bulk of a mixing session; input,
instrument and MIDI-mapped tracks stay with the engine's callback, which owns
the device and the MIDI ports) into rows of a shared block, each block when
the callback wakes it, from the position the callback writes. The engine's
callback renders its own tracks meanwhile, waits for the partner's rows, and
mixes as usual: the mix is the code the offline render runs.

A structural change swaps in on the same block in both processes: the engine
builds its new audio state, the partner builds the matching one (revision R)
and says so, and only then does the engine install it; each block names the
revision the partner must render. A partner that dies, falls behind or fails
a command is dropped: its tracks return to the engine (their plug-ins reset,
since the engine's copies have not played meanwhile) and the user is told.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from typing import Any, Callable

import numpy as np

# The commands the partner applies too: every one that changes the session (so both hold the same one), none of
# the transport's, the meters', the spectrum view's or MIDI learn's, which are the engine's alone.
FORWARDED = frozenset({
    "SetGain", "SetPan", "SetMute", "SetSolo", "SetSendLevel", "SetSendMute", "SetParameter", "Bypass", "Mix",
    "BranchLevel", "AddSlot", "RemoveSlot", "MoveSlot", "Sync", "SetAudition", "SetSlotDelta", "SetAutomationMode",
    "Release",
})
PARTNER_MIN_TRACKS = 8  # below this, a block's hand-off costs more than the partner saves
# Tracks the partner takes under half, from 16 tracks up: its rows arrive only after it has been woken (a pipe
# write to a process on the other core) and the callback has been woken back, which together cost about three
# tracks' time (measured 2026-12-08, 64 tracks: wake-up 0.014 of the period, render 0.0071 a track on either side,
# and the callback waited 0.07 of the period for the partner's 34 tracks after its own 30). The mix, the master
# and the meters come after both halves, so they do not count here.
PARTNER_FEWER = 3
MAX_PARTNER_TRACKS = 512
# The shared header, int64: the block number the engine asks for, the revision to render, the transport position,
# playing (0/1), the block number the partner finished, and when (time.perf_counter_ns(), CLOCK_MONOTONIC in both
# processes) the partner started and finished rendering it: where the time goes (EngineStats.partner_wake_p50).
_SEQ, _REVISION, _POSITION, _PLAYING, _DONE, _STARTED, _FINISHED = range(7)
_HEADER = 8
READY_TIMEOUT = 120.0  # seconds for the partner to load the session or apply a batch (plug-ins load there too)


@dataclass(frozen=True)
class PartnerBlock:
    """One audio state's share of the partner: which lanes it renders, and where their rows arrive."""

    link: PartnerLink
    revision: int
    lanes: np.ndarray  # intp: the engine's lanes (rows of strips) the partner renders, in order
    rows: np.ndarray  # (len(lanes), 2, block) view of the shared block

    def run(self, position: int, playing: bool, strips: np.ndarray, own: Callable[[], None], started: float,
            phases: np.ndarray) -> bool:
        """From the callback: wake the partner, run ``own`` (the engine's tracks), then take the partner's rows.

        False when the partner was late: its tracks are silent for this block (a dropout, counted as an xrun).
        ``phases`` (the callback's row, see AudioCallback._phases) gets, in seconds: from ``started`` (the
        callback's start) until its own tracks were done, and the partner's wake-up (from the wake to its start)
        and render time.
        """
        link = self.link
        woken = time.perf_counter()  # before the wake: the partner cannot start earlier
        seq = link.begin(self.revision, position, playing)
        own()
        phases[0] = time.perf_counter() - started
        if link.finish(seq):
            strips[self.lanes] = self.rows
            header = link.header
            phases[2] = header[_STARTED] * 1e-9 - woken
            phases[3] = (header[_FINISHED] - header[_STARTED]) * 1e-9
            return True
        strips[self.lanes] = 0.0  # late or gone; the control thread drops it if gone
        return False


class PartnerLink:
    """The engine's side: start the partner, forward commands, join rebuilds, and the per-block hand-off."""

    def __init__(self, loader: Any, apply: Callable[..., Any], entry: str, block_size: int, sample_rate: float):
        """Start the partner: ``python -m ENTRY`` (rackhost.live.partner_process), which gets ``loader`` (the
        session) and ``apply`` (apply_command(engine, command, loader), as the engine process applies one)."""
        self._period = block_size / sample_rate
        self._shm = shared_memory.SharedMemory(create=True, size=8 * _HEADER + 4 * MAX_PARTNER_TRACKS * 2 * block_size)
        self.header = np.ndarray((_HEADER,), np.int64, self._shm.buf)
        self.header[:] = 0
        self._rows = np.ndarray((MAX_PARTNER_TRACKS, 2, block_size), np.float32, self._shm.buf, offset=8 * _HEADER)
        ours, theirs = socket.socketpair()
        wake_read, self._wake = os.pipe()
        self._done, done_write = os.pipe()
        # A plain child process: the engine process is a daemon of multiprocessing, which may not have children.
        self._process = subprocess.Popen(
            [sys.executable, "-m", entry, self._shm.name, str(theirs.fileno()), str(wake_read), str(done_write),
             str(block_size)],
            pass_fds=(theirs.fileno(), wake_read, done_write),
        )
        theirs.close()
        os.close(wake_read)
        os.close(done_write)
        self._conn = Connection(ours.detach())
        self._conn.send((loader, apply))
        os.set_blocking(self._wake, False)
        self._poller = select.poll()
        self._poller.register(self._done, select.POLLIN)
        self._seq = 0
        self._revision = 0
        self._outbox: list[Any] = []
        self.lost: str | None = None  # why the partner was dropped, once it is
        self.failures: list[tuple[int, tuple[int, ...], str]] = []  # slots that raised there, not yet polled
        self.late = 0  # blocks the partner did not finish in time (callback side)

    # -- the callback's side (no locks, no allocation beyond poll()'s list) ----------------

    def begin(self, revision: int, position: int, playing: bool) -> int:
        header = self.header
        self._seq = seq = self._seq + 1
        header[_REVISION] = revision
        header[_POSITION] = position
        header[_PLAYING] = 1 if playing else 0
        header[_SEQ] = seq  # last: the partner reads the block's fields only once it sees the new number
        try:
            os.write(self._wake, b"1")
        except OSError:  # the pipe is full (the partner is stuck) or gone: finish() times out
            pass
        return seq

    def finish(self, seq: int) -> bool:
        """Wait (without the GIL) until the partner has finished block ``seq``; False after a period."""
        header = self.header
        deadline = 0.0
        while header[_DONE] != seq:
            now = time.perf_counter()
            if not deadline:
                deadline = now + self._period
            elif now >= deadline:
                self.late += 1
                return False
            if self._poller.poll(max(1, int((deadline - now) * 1000))):
                try:
                    os.read(self._done, 64)
                except OSError:
                    self.late += 1
                    return False
        return True

    # -- the control thread's side -------------------------------------------------------

    @property
    def alive(self) -> bool:
        """False once the partner is dropped or its process has ended (then :attr:`lost` says why)."""
        if self.lost is None:
            code = self._process.poll()
            if code is not None:
                self.lost = (f"it was killed by signal {-code}" if code < 0 else f"it exited with status {code}")
        return self.lost is None

    def set_priority(self, level: int) -> None:
        """Run the partner's audio thread at the engine's audio thread's real-time priority (0: as it is)."""
        if level and self.alive:
            self._send(("priority", level))

    def forward(self, command: Any) -> None:
        """A command the engine applied: the partner applies it at the next :meth:`flush` or :meth:`join`."""
        self._outbox.append(command)

    def flush(self) -> None:
        """Send the forwarded commands now (parameter changes, which need no rebuild)."""
        if self._outbox and self.alive:
            commands, self._outbox = self._outbox, []
            self._send(("commands", commands))

    def join(self, tracks: tuple[int, ...], lanes: tuple[int, ...]) -> PartnerBlock | None:
        """Have the partner build the audio state matching the engine's new one; its block, or None if dropped.

        ``tracks``: the session indices of the tracks the partner renders; ``lanes``: their lanes in the
        engine's new state (the same order).
        """
        if not self.alive:
            self.drop(self.lost or "the partner process died")
            return None
        self._revision += 1
        commands, self._outbox = self._outbox, []
        self._send(("rebuild", self._revision, commands, tracks))
        if not self._conn.poll(READY_TIMEOUT):
            self.drop(f"the partner did not build the new state within {READY_TIMEOUT:g} s")
            return None
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self.drop("the partner process died")
            return None
        while reply[0] == "failed":  # a failure reported while it was building: kept for poll()
            self.failures.append(reply[1:])
            reply = self._conn.recv()
        if reply[0] != "built" or reply[1] != self._revision:
            self.drop(f"the partner fell out of step: {reply[-1]}")
            return None
        return PartnerBlock(self, self._revision, np.array(lanes, np.intp), self._rows[: len(lanes)])

    def poll(self) -> list[tuple[int, tuple[int, ...], str]]:
        """Slots that raised in the partner since the last call: (track index, slot address, message)."""
        found, self.failures = self.failures, []
        try:
            while self.alive and self._conn.poll(0):
                reply = self._conn.recv()
                if reply[0] == "failed":
                    found.append(reply[1:])
                elif reply[0] == "error":  # it could not apply a command the engine applied: out of step
                    self.drop(f"it fell out of step: {reply[1]}")
        except (EOFError, OSError):
            self.drop("the partner process died")
        return found

    def _send(self, message: Any) -> None:
        try:
            self._conn.send(message)
        except (OSError, BrokenPipeError):
            self.drop("the partner process died")

    def drop(self, why: str) -> None:
        if self.lost is None:
            self.lost = why

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._conn.send(("quit",))
            except (OSError, BrokenPipeError):
                pass
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._conn.close()
        for fd in (self._wake, self._done):
            os.close(fd)
        del self.header, self._rows
        self._shm.close()
        self._shm.unlink()


def slot_address(chain: Any, slot: Any) -> tuple[int, ...] | None:
    """Where ``slot`` sits in ``chain``: (index,) at the top, (index, n) for the n-th plug-in inside a split."""
    for i, item in enumerate(chain.slots):
        if item is slot:
            return (i,)
        inner = getattr(item, "slots", None)
        if callable(inner):
            for n, s in enumerate(inner()):
                if s is slot:
                    return (i, n)
    return None


def slot_at(chain: Any, address: tuple[int, ...]) -> Any:
    item = chain.slots[address[0]]
    if len(address) == 1:
        return item
    return list(item.slots())[address[1]]
