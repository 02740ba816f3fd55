"""Work off the GUI thread: a task runs on a worker thread, the frame loop polls it.

The worker never touches a widget. It reports progress into two plain
attributes (one assignment each, read once a frame by the GUI thread) and
leaves its result or error on the task; the view that started it polls the
task on the GUI thread (see :func:`poll_while_visible`) and shows the outcome.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import dearpygui.dearpygui as dpg


class Cancelled(Exception):
    """Raised inside the worker (from :meth:`Task.progress`) once the user asked to cancel."""


Submit = Callable[[str, Callable[[], None]], None]


class Task:
    """``work(task)`` on a daemon thread of its own, or handed to ``submit(name, run)``.

    Inside the work, ``task.progress(done, total, message)`` reports and is where a cancel lands.
    """

    def __init__(self, work: Callable[[Task], Any], name: str = "rackhost-task", submit: Submit | None = None):
        self.fraction = 0.0
        self.message = ""
        self.result: Any = None
        self.error: BaseException | None = None
        self._work = work
        self._cancel = threading.Event()
        self._done = threading.Event()
        if submit is None:
            threading.Thread(target=self._run, name=name, daemon=True).start()
        else:
            submit(name, self._run)

    def _run(self) -> None:
        try:
            self.result = self._work(self)
        except BaseException as err:  # noqa: BLE001 - every failure is shown to the user, none kills the GUI
            self.error = err
        finally:
            self._done.set()

    # -- from the worker ----------------------------------------------------------------

    def progress(self, done: float, total: float, message: str | None = None) -> None:
        """Report progress; raises :class:`Cancelled` if the user asked to stop."""
        if self._cancel.is_set():
            raise Cancelled()
        self.fraction = min(1.0, max(0.0, done / total)) if total > 0 else 0.0
        if message is not None:
            self.message = message

    # -- from the GUI thread --------------------------------------------------------------

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, Cancelled)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work ends (tests, and a screenshot that shows a finished state)."""
        return self._done.wait(timeout)


def plugin_thread(app: object) -> Submit:
    """Where work that loads plug-ins runs: JUCE (inside pedalboard) accepts plug-in loads from one thread only.

    That is the app's plug-in loader thread when it has one (``app.loader``,
    :class:`rackhost.gui.loader.PluginLoader`); otherwise the plug-ins were
    loaded on the calling thread, so the work runs there, at once.
    """
    loader = getattr(app, "loader", None)
    if loader is None:
        return lambda name, run: run()
    return lambda name, run: loader.submit(name, run, lambda _: None, lambda _: None)


def poll_while_visible(item: int, poll: Callable[[], None]) -> int:
    """Call ``poll()`` on the GUI thread once each frame ``item`` is shown; returns the handler registry.

    Dear PyGui queues the visible handler's callback every rendered frame, and
    with manual callback management the frame loop runs it on its own thread.
    """
    with dpg.item_handler_registry() as registry:
        dpg.add_item_visible_handler(callback=lambda *_: poll())
    dpg.bind_item_handler_registry(item, registry)
    return registry

