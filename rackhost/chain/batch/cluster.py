"""The same batch on a Ray cluster: an actor per worker holding the loaded chain, each file a task.

Ray is an optional extra (``pip install 'rackhost[cluster]'``), imported only
here and only when asked for. :class:`RayPool` has the interface of
:class:`rackhost.chain.batch.pool.Pool`, so the manifest, resume, the album's
two passes and the progress are the batch's own, whichever runs the files.

Each actor builds its session once from the recipe (plug-ins are not
picklable) and renders the files it is handed with the pool's own
:func:`render_one`; it writes each output itself (atomically) into OUTDIR,
which must be a path the cluster's nodes see (the local disk on one machine, a
shared one across several). An actor that dies (a plug-in's segfault) or runs
past a file's time limit costs that file only: it is marked failed with the
reason, the actor is replaced, and the batch goes on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import soundfile as sf

from rackhost.chain.batch.jobs import BatchError, FileRecord, Job, remove_partial
from rackhost.chain.batch.pool import (
    BUILD_TIMEOUT_SECONDS,
    CANCEL_POLL_SECONDS,
    TIMEOUT_BASE_SECONDS,
    TIMEOUT_PER_AUDIO_SECOND,
    Cancel,
    RenderOptions,
    SessionBuilder,
)

LOCAL = "local"  # --ray without an address: start a Ray of our own on this machine
# What the actors must see as the batch's process does: where plug-ins are found, and the same rackhost.
FORWARDED_ENVIRONMENT = ("PYTHONPATH",)
FORWARDED_PREFIX = "RACKHOST_"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BatchError("--ray needs Ray, which is not installed; pip install 'rackhost[cluster]' "
                         "(or run without --ray on this machine's cores)") from None
    return ray


@contextmanager
def connected(address: str, workers: int | None = None) -> Iterator[int]:
    """Join the Ray cluster at ``address`` (or start one here for :data:`LOCAL`, with ``workers`` CPUs, default
    one per core) for the block's length; yields the cluster's CPUs. A Ray this process already runs is used as
    it is, and left running."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address == LOCAL:
            options.update(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
        else:
            options["address"] = address
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = "start a local Ray" if address == LOCAL else f"reach the Ray cluster at {address!r}"
            raise BatchError(f"could not {where} ({_first_line(err)}); check it runs ('ray status'), "
                             f"or leave out --ray") from err
        started = True
    try:
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started:
            ray.shutdown()


class BatchActor:
    """One Ray worker: the session built once, then one file per call (the pool's ``worker_main`` on Ray)."""

    def __init__(self, build: SessionBuilder, options: RenderOptions):
        from rackhost.chain.batch.pool import _quiet_stderr, input_track, warm_up
        from rackhost.errors import RackhostError

        _quiet_stderr()  # plug-ins chatter on fd 2; what a file's render has to say goes back in its record
        self.options = options
        self.error: str | None = None
        try:
            self.session = build()
            self.track = input_track(self.session)
            warm_up()
        except RackhostError as err:
            self.error = str(err)
        except Exception as err:  # noqa: BLE001 - the driver must hear why, whatever it was
            self.error = f"the chain could not be built: {type(err).__name__}: {err}"

    def ready(self) -> str | None:
        """None once the chain is loaded, else why it could not be."""
        return self.error

    def render(self, index: int, job: Job) -> tuple[int, FileRecord]:
        from rackhost.chain.batch.pool import render_one

        return index, render_one(self.session, job, self.options, track=self.track)


@dataclass
class _Crew:
    actor: Any
    ready_ref: Any | None  # the ready() call until it answers
    job: int | None = None
    ref: Any | None = None  # the render() call in flight
    deadline: float = math.inf
    handed: float = 0.0


class RayPool:
    """Runs ``jobs`` on ``workers`` Ray actors; ``on_record(index, record)`` hears each file as it ends.

    ``address``: a running cluster's (``ray start --head`` prints it; ``auto``
    finds one on this machine), or :data:`LOCAL` to start a Ray here with
    ``workers`` CPUs and stop it afterwards. A Ray this process already runs is
    used as it is.
    """

    def __init__(self, build: SessionBuilder, options: RenderOptions, workers: int, timeout: float | None = None,
                 address: str = LOCAL):
        self.build = build
        self.options = options
        self.workers = max(1, workers)
        self.timeout = timeout
        self.address = address

    def run(self, jobs: list[tuple[int, Job]], on_record: Callable[[int, FileRecord], None],
            cancel: Cancel | None = None) -> None:
        with connected(self.address, self.workers):
            self._run(_ray(), jobs, on_record, cancel)

    def _run(self, ray: Any, jobs: list[tuple[int, Job]], on_record: Callable[[int, FileRecord], None],
             cancel: Cancel | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIX) or k in FORWARDED_ENVIRONMENT}
        # One CPU each, so a cluster of N CPUs runs N at once, and a plug-in that crashes its process costs
        # a restart of that one actor only (we replace it ourselves, to mark its file failed first).
        actor_class = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=1)(BatchActor).options(
            runtime_env={"env_vars": env} if env else None)
        pending = deque(jobs)
        by_index = dict(jobs)
        crew: list[_Crew] = []

        def hire() -> _Crew:
            actor = actor_class.remote(self.build, self.options)
            return _Crew(actor, actor.ready.remote(), deadline=time.monotonic() + BUILD_TIMEOUT_SECONDS)

        try:
            while pending or any(c.job is not None for c in crew):
                if cancel is not None and cancel.is_set():
                    break
                while len(crew) < min(self.workers, len(pending) + sum(c.job is not None for c in crew)):
                    crew.append(hire())
                for member in crew:
                    if member.ready_ref is None and member.job is None and pending:
                        index, job = pending.popleft()
                        member.job, member.handed = index, time.monotonic()
                        member.deadline = member.handed + self._limit(job)
                        # Absolute paths: an actor's working folder is not this process's on another node.
                        member.ref = member.actor.render.remote(index, dataclasses.replace(
                            job, input=job.input.absolute(), output=job.output.absolute()))
                refs = [c.ready_ref if c.ready_ref is not None else c.ref for c in crew]
                refs = [r for r in refs if r is not None]
                wake = min((c.deadline for c in crew), default=math.inf)
                if cancel is not None:
                    wake = min(wake, time.monotonic() + CANCEL_POLL_SECONDS)
                wait = None if wake == math.inf else max(0.0, wake - time.monotonic())
                done, _ = ray.wait(refs, num_returns=1, timeout=wait) if refs else ([], [])
                done_set = set(done)
                for member in list(crew):
                    if self._serve(ray, member, done_set, by_index, on_record):
                        crew.remove(member)
        finally:
            for member in crew:
                ray.kill(member.actor, no_restart=True)
                if member.job is not None:  # cancelled mid-file
                    remove_partial(by_index[member.job].output)

    def _limit(self, job: Job) -> float:
        if self.timeout is not None:
            return self.timeout
        try:  # the file's length is known from its header: its own time limit, as the pool gives it
            info = sf.info(str(job.input))
            return TIMEOUT_BASE_SECONDS + TIMEOUT_PER_AUDIO_SECOND * info.frames / info.samplerate
        except (OSError, RuntimeError, sf.LibsndfileError, ZeroDivisionError):
            return TIMEOUT_BASE_SECONDS

    def _serve(self, ray: Any, member: _Crew, done: set, by_index: dict[int, Job],
               on_record: Callable[[int, FileRecord], None]) -> bool:
        """Take what ``member`` answered, or bury it; True when it is gone (its file, if any, marked failed)."""
        from ray.exceptions import RayActorError, RayTaskError

        if member.ready_ref is not None and member.ready_ref in done:
            try:
                error = ray.get(member.ready_ref)
            except RayActorError as err:
                raise BatchError(f"a Ray batch worker died while loading the chain ({_first_line(err)}), so no "
                                 f"file can be rendered; check the chain with 'rackhost render' on one file") from err
            if error is not None:
                raise BatchError(error)
            member.ready_ref, member.deadline = None, math.inf
            return False
        if member.ref is not None and member.ref in done:
            index, job, ref = member.job, by_index[member.job], member.ref  # type: ignore[index]
            member.job, member.ref, member.deadline = None, None, math.inf
            try:
                _, record = ray.get(ref)
            except RayActorError as err:
                remove_partial(job.output)
                on_record(index, FileRecord(
                    str(job.input), str(job.output), "failed",
                    f"the Ray worker died while rendering it (a plug-in in the chain crashed on this file): "
                    f"{_first_line(err)}"))
                ray.kill(member.actor, no_restart=True)
                return True
            except RayTaskError as err:  # render_one returns failures; this is Ray failing to run it
                on_record(index, FileRecord(str(job.input), str(job.output), "failed",
                                            f"Ray could not run it: {_first_line(err)}"))
                return False
            record.input, record.output = str(job.input), str(job.output)  # as the job names them
            on_record(index, record)
            return False
        if time.monotonic() >= member.deadline:
            ray.kill(member.actor, no_restart=True)
            if member.job is None:
                raise BatchError(f"a Ray batch worker did not finish loading the chain within "
                                 f"{BUILD_TIMEOUT_SECONDS:g} s; a plug-in in it may hang while loading")
            job = by_index[member.job]
            remove_partial(job.output)
            waited = member.deadline - member.handed
            on_record(member.job, FileRecord(
                str(job.input), str(job.output), "failed",
                f"timeout: no result within {waited:.0f} s, so its Ray worker was stopped (a plug-in in the chain "
                f"may hang on this file); raise --timeout if it is only slow", seconds=waited))
            return True
        return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
