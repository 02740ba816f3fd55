"""The partner process itself (see :mod:`rackhost.live.partner` for why and how): load, follow, render.

Started by :class:`rackhost.live.partner.PartnerLink` as ``python -m rackhost.live.partner_process SHM CONN WAKE
DONE BLOCK``; the engine sends the session loader and the function that applies a command down CONN first.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from rackhost.live import priority
from rackhost.live.engine import SWITCH_INTERVAL, LiveEngine
from rackhost.live.memory import TRIM_SECONDS, trim_heap
from rackhost.live.partner import (_DONE, _FINISHED, _HEADER, _PLAYING, _POSITION, _REVISION, _SEQ, _STARTED,
                                   MAX_PARTNER_TRACKS, slot_address)


def _partner_main(conn: Any, wake: int, done: int, shm_name: str, block_size: int) -> None:
    import gc

    loader, apply_command = conn.recv()  # handed in: the live engine's modules do not import the engine process
    shm = shared_memory.SharedMemory(name=shm_name)
    header = np.ndarray((_HEADER,), np.int64, shm.buf)
    rows = np.ndarray((MAX_PARTNER_TRACKS, 2, block_size), np.float32, shm.buf, offset=8 * _HEADER)
    try:
        session = loader.session()
        session.block_size = block_size
        engine = LiveEngine(session, spread=False, input_channels=0)
        engine.partner_side = True
        session.reset()
        del session  # as in the engine process: the engine holds it, and a Sync replaces it
    except Exception as err:  # noqa: BLE001 - the engine is told and renders every track itself
        conn.send(("error", f"the partner could not load the session: {err}"))
        return
    # As in the engine process: the render thread gets the GIL back from this one within 0.1 ms, and this
    # thread starts its work right after a block (engine.after_block(), the render thread writes the byte).
    sys.setswitchinterval(SWITCH_INTERVAL)
    engine._wake_read, engine._wake_write = os.pipe()
    os.set_blocking(engine._wake_read, False)
    os.set_blocking(engine._wake_write, False)
    os.set_blocking(done, False)
    renderer = _Renderer(engine, header, rows, wake, done)
    thread = threading.Thread(target=renderer.run, name="rackhost-partner-audio", daemon=True)
    thread.start()
    while not renderer.native_id:
        time.sleep(0.001)
    gc.freeze()  # the session and plug-ins: never walked by a collection
    gc.disable()  # no collection starts in the render thread: this thread collects, between messages
    trim_at = time.monotonic() + TRIM_SECONDS
    try:
        while True:
            if not conn.poll(0.05):
                engine.after_block()
                _report_failures(engine, conn)
                gc.collect(1)
                if time.monotonic() >= trim_at:  # as the engine process does (see memory.py)
                    engine.after_block()
                    trim_heap()
                    trim_at = time.monotonic() + TRIM_SECONDS
                continue
            message = conn.recv()
            engine.after_block()
            if message[0] == "quit":
                break
            if message[0] == "priority":
                # As in the engine process: the render thread at the audio thread's priority, and this thread just
                # above everything else, so no other process preempts it while it holds the GIL the render needs.
                priority.make_realtime(renderer.native_id, message[1])
                priority.raise_control_thread(renderer.native_id)
                continue
            if message[0] == "commands":
                try:
                    for command in message[1]:
                        apply_command(engine, command, loader)
                except Exception as err:  # noqa: BLE001 - out of step: the engine drops the partner
                    conn.send(("error", f"{type(err).__name__}: {err}"))
                continue
            _, revision, commands, tracks = message
            try:
                for command in commands:
                    apply_command(engine, command, loader)
                renderer.build(revision, tracks)
            except Exception as err:  # noqa: BLE001 - out of step: the engine drops the partner
                conn.send(("error", f"{type(err).__name__}: {err}"))
                continue
            conn.send(("built", revision))
            gc.collect()
            gc.freeze()
    except (EOFError, OSError):
        pass
    finally:
        renderer.stopping = True
        del header, rows
        shm.close()


def _report_failures(engine: Any, conn: Any) -> None:
    """A slot that raised in the partner: bypassed here and reported. The engine bypasses its own copy and
    rebuilds; the partner's state for that revision is built from this session, the slot bypassed (until then
    the track is silent: its render catches the error each block)."""
    while engine._failed:
        name, err = engine._failed.popleft()
        index = next((i for i, t in enumerate(engine.session.tracks) if t.name == name), None)
        if index is None:
            continue
        for slot in err.slots:
            address = slot_address(engine.session.tracks[index].chain, slot)
            if address is not None and not slot.bypass:
                slot.bypass = True
                conn.send(("failed", index, address, f"{type(err.error).__name__} ({err.error})"))


class _Renderer:
    """The partner's audio thread: wakes for each block, renders its lanes into the shared rows."""

    def __init__(self, engine: Any, header: np.ndarray, rows: np.ndarray, wake: int, done: int):
        self.engine = engine
        self.header = header
        self.rows = rows
        self.wake = wake
        self.done = done
        self.states: dict[int, tuple[Any, tuple[int, ...], np.ndarray]] = {}
        self.native_id = 0
        self.stopping = False
        self.tracks: set[int] = set()  # the session tracks of the latest revision

    def build(self, revision: int, tracks: tuple[int, ...]) -> None:
        """The audio state for ``revision``, rendering the session tracks ``tracks`` (control thread)."""
        engine = self.engine
        for index in set(tracks) - self.tracks:  # arriving here: this copy of its plug-ins has not played meanwhile
            engine.session.tracks[index].chain.reset()
        self.tracks = set(tracks)
        engine.update()
        state = engine._state
        lanes = tuple(state.lane_of[t] for t in tracks)
        if engine._stream is None:  # a few silent blocks first: plug-ins allocate on their first calls
            now = state.now
            now.position, now.playing, now.indata = 0, False, None
            for _ in range(4):
                for k in lanes:
                    state.render(k)
            engine._stream = _NO_STREAM  # from here on, rebuilds do not prime envelopes on running plug-ins
        old = [r for r in self.states if r < revision - 1]
        self.states[revision] = (state, lanes, np.array(lanes, np.intp))
        for r in old:  # the engine has moved past them: it asks for a revision only once it is built
            del self.states[r]

    def run(self) -> None:
        self.native_id = threading.get_native_id()
        header, rows, engine = self.header, self.rows, self.engine
        params = engine._params
        last = 0
        while not self.stopping:
            try:
                os.read(self.wake, 64)  # without the GIL; takes any wake-ups that piled up
            except OSError:
                return
            seq = int(header[_SEQ])
            if seq == last:
                continue
            last = seq
            header[_STARTED] = time.perf_counter_ns()
            while params:  # parameter changes, as the engine's callback takes them
                instances, name, value = params.popleft()
                for instance in instances:
                    setattr(instance, name, value)
            entry = self.states.get(int(header[_REVISION]))
            if entry is not None:
                state, lanes, index = entry
                now = state.now
                now.position = int(header[_POSITION])
                now.playing = bool(header[_PLAYING])
                render = state.render
                try:
                    for k in lanes:
                        render(k)
                    np.take(state.strips, index, axis=0, out=rows[: len(lanes)])
                except Exception:  # noqa: BLE001 - render catches a chain's errors; anything else: silence
                    rows[: len(lanes)] = 0.0
            header[_FINISHED] = time.perf_counter_ns()
            header[_DONE] = seq  # last: the engine reads the times once it sees its block done
            try:
                os.write(self.done, b"1")
            except OSError:
                pass
            if engine._wake_wanted:  # the control thread waits for the end of a block (after_block)
                engine._wake_wanted = False
                try:
                    os.write(engine._wake_write, b"1")
                except OSError:
                    pass


class _NoStream:
    """Stands for a running stream in the partner's engine (which has none): only its presence is asked."""

    active = True


_NO_STREAM = _NoStream()


def main() -> None:
    """The partner process's entry point (``PartnerLink`` starts it with the shared block's name and its fds)."""
    from multiprocessing import resource_tracker

    # The engine made the shared block and unlinks it; this process must not (nor warn that it did not).
    resource_tracker.register = lambda *args, **kwargs: None  # type: ignore[assignment]
    _partner_main(Connection(int(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4]), sys.argv[1], int(sys.argv[5]))


if __name__ == "__main__":
    main()
