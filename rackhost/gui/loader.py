"""One thread that loads every plug-in the GUI process holds.

JUCE (inside pedalboard) treats the first thread that loads a plug-in as its
"main thread" and refuses later loads from any other thread ("must be
reloaded on the main thread"). The window must not freeze while a slow
plug-in loads (ZamVerb takes ~90 s here), so the GUI thread never loads one:
every load (the session, a slot, a preset, an A/B copy) is a job for this
thread, and its result is handed back to the GUI thread by :meth:`finish`,
which the frame loop calls once a frame.

``inline=True`` runs jobs at once on the calling thread, for code that
already loaded plug-ins on its own thread (a test process).
"""

from __future__ import annotations

import collections
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Job:
    label: str
    work: Callable[[], Any]
    done: Callable[[Any], None]
    failed: Callable[[BaseException], None]
    result: Any = None
    error: BaseException | None = None
    report: bool = True  # False for the loader's own markers, which nobody waits on


class PluginLoader:
    def __init__(self, inline: bool = False):
        self.inline = inline
        self._todo: queue.Queue[Job | None] = queue.Queue()
        self._finished: collections.deque[Job] = collections.deque()
        self.busy: str | None = None  # what is loading now, for the spinner
        self.pending = 0
        self._thread: threading.Thread | None = None
        if not inline:
            self._thread = threading.Thread(target=self._run, name="rackhost-plugins", daemon=True)
            self._thread.start()

    def submit(self, label: str, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> None:
        """Run ``work()`` on the plug-in thread; then ``done(result)`` or ``failed(error)`` on the GUI thread."""
        job = Job(label, work, done, failed)
        self.pending += 1
        if self.inline:
            self._do(job)
            self.finish()
        else:
            self._todo.put(job)

    def finish(self) -> None:
        """Hand finished jobs back (call on the GUI thread, once a frame)."""
        while self._finished:
            job = self._finished.popleft()
            self.pending -= 1
            if job.error is not None:
                job.failed(job.error)
            else:
                job.done(job.result)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty and hand the results back (tests, screenshots)."""
        if self._thread is not None:
            done = threading.Event()
            self._todo.put(Job("wait", done.set, lambda _: None, lambda _: None, report=False))
            if not done.wait(timeout):
                return False
        self.finish()
        return True

    def close(self) -> None:
        if self._thread is not None:
            self._todo.put(None)

    def _run(self) -> None:
        while True:
            job = self._todo.get()
            if job is None:
                return
            self._do(job)

    def _do(self, job: Job) -> None:
        self.busy = job.label
        try:
            job.result = job.work()
        except Exception as err:  # noqa: BLE001 - shown to the user; a bad plug-in must not kill the window
            job.error = err
        finally:
            self.busy = None
            if job.report:
                self._finished.append(job)
