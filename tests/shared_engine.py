"""One engine process shared by the tests of a module that only command it.

Starting an :class:`~rackhost.live.process.EngineProcess` spawns a Python, imports the host, loads every plug-in of
the session and opens a JACK client (a partner process loads the session again): seconds each time, which a test
that plays and commands the same session need not pay again. A test file makes one :class:`SharedEngine` in a
module-scoped fixture and hands each test ``shared.ready()`` from a function-scoped one that calls
:meth:`SharedEngine.after` when the test ends.

Each test gets the engine stopped at frame 0 with the session as it was loaded: the document it was started with is
synced back (slots, values, gains, the loop), and the reset has landed before the test reads a meter or a stat. An
engine that died (a test killed it) is started anew, and so is one whose test failed: a failure never hands its
half-done state to the next test, which would then fail with a confusing error of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from rackhost.live import commands as c
from rackhost.live.process import EngineProcess

# A transport position no test stops at: seen in the stats, it says every command sent before it has been applied.
_MARK = 12_345


@dataclass
class SharedEngine:
    """``make()`` builds the (unstarted) engine; ``document`` is the session it loads, synced back before each test."""

    make: Callable[[], EngineProcess]
    document: dict
    engine: EngineProcess | None = None
    starts: int = 0  # engine processes started: a module's tests share one unless one dies or fails

    def ready(self) -> EngineProcess:
        """The running engine, stopped at frame 0 with the session as loaded."""
        if self.engine is not None and not self.engine.alive:
            self.close()
        if self.engine is None:
            self.engine = self.make()
            self.engine.start()
            self.starts += 1
            return self.engine
        engine = self.engine
        for command in (c.Stop(), c.Sync(self.document), c.Locate(_MARK)):
            engine.send(command)
        _wait_position(engine, _MARK)  # applied in order: the Stop and the Sync have landed too
        engine.send(c.Locate(0))
        _wait_position(engine, 0)
        failures = [e for e in engine.poll() if "failed" in e]  # the last test's events are not this one's
        if failures:
            raise RuntimeError(f"resetting the shared engine failed: {failures}")
        return engine

    def after(self, request: pytest.FixtureRequest, failed_before: int) -> None:
        """Stop the engine if the test that used it failed (the next test starts a new one)."""
        if request.session.testsfailed != failed_before:
            self.close()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()  # a dead one is only reaped
            self.engine = None


def _wait_position(engine: EngineProcess, frame: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while engine.stats().get("position") != frame:
        if not engine.alive or time.monotonic() > deadline:
            raise RuntimeError(f"the shared engine did not reach frame {frame} within {timeout:g} s "
                               f"(alive: {engine.alive}; events: {engine.poll()})")
        time.sleep(0.02)
