"""A real, clocked JACK server (dummy driver) and JACK clients for live-audio tests.

Import it from a test (``from jack_harness import ...``; conftest re-exports the fixtures).

- :class:`JackServer` starts a private ``jackd -d dummy`` and points this process (and PortAudio,
  hence sounddevice) at it; :meth:`JackServer.stop` tears down in the order that does not abort.
- :class:`Player` and :class:`Recorder` are two separate JACK clients (one client doing both adds
  a period of latency through the feedback loop).
- :func:`align` finds the latency between a reference and a capture and lines them up.

Measured pitfalls this module encodes (see /work/shared/RECIPES.md, section 1):

- PortAudio scans host APIs at ``Pa_Initialize`` (when sounddevice is imported): after the server is
  up, PortAudio is re-initialized (``sd._terminate(); sd._initialize()``).
- PortAudio's JACK host API holds a JACK client from initialization on. ``Pa_Terminate`` after that
  server has gone away asserts in ``pa_jack.c`` and aborts the process (exit 134, also at interpreter
  exit), and ``Stream.close()`` on a stream whose server was killed can hang for good. So
  :meth:`JackServer.stop` terminates PortAudio *before* stopping jackd, and :meth:`JackServer.kill`
  *abandons* PortAudio (:func:`abandon_portaudio`): sounddevice is then unusable in this process.
  Kill servers only in a child process (:func:`run_python`) unless the test process ends right after.
- PortAudio auto-connects its ports to ``system:*``: use :func:`disconnect_system` before wiring.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

try:
    import jack  # JACK-Client
except (ImportError, OSError) as _err:  # pragma: no cover - depends on the machine
    jack = None
    _JACK_IMPORT_ERROR: Exception | None = _err
else:
    _JACK_IMPORT_ERROR = None

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

_names = itertools.count()
# How long a closing client's process thread waits for JACK to end it (see _HarnessClient._guarded), and
# how long close() waits for it to get there: a period or two, unless the server stopped calling it.
PARK_SECONDS = 2.0
# jackd gets SIGTERM when the thread that started it dies (a crashed test process), so it does not
# keep running and holding one of JACK's 8 registry slots. Start servers from the main thread.
_PDEATHSIG = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []
_STALE_SLOT = re.compile(rb"jack-(\d+):([^:\x00]{1,200}):")
_servers: list[JackServer] = []  # started and not yet stopped, innermost last
_portaudio_abandoned = False


def jackd_available() -> bool:
    """True if ``jackd``, ``jack_lsp`` and the JACK-Client package are all there."""
    return jack is not None and shutil.which("jackd") is not None and shutil.which("jack_lsp") is not None


def current_server() -> JackServer:
    """The most recently started server that is still running (the one PortAudio sees)."""
    if not _servers:
        raise RuntimeError("no JackServer is running; use the jack_server fixture or JackServer().start()")
    return _servers[-1]


# -- PortAudio --------------------------------------------------------------------------------


def rescan_portaudio() -> None:
    """Re-initialize PortAudio so sounddevice sees the servers that are running now.

    Pa_Initialize/Pa_Terminate are reference-counted: terminate once, initialize once.
    Never call this after the server PortAudio was attached to died (it aborts); see module doc.
    """
    if _portaudio_abandoned:
        raise RuntimeError("PortAudio was abandoned after a JACK server was killed in this process; "
                           "run server-kill tests in a child process (run_python)")
    import sounddevice as sd

    _close_sounddevice_convenience_stream(sd)
    if sd._initialized:
        sd._terminate()
    sd._initialize()


def jack_device() -> int:
    """Index of the JACK host API's default device (``system``) in sounddevice's list.

    Pass it as ``device=`` to streams: PortAudio's default host API may be ALSA, whose ``jack`` PCM
    (from libasound2-plugins) sometimes shows up in a scan and then is the default device.
    """
    import sounddevice as sd

    for api in sd.query_hostapis():
        if api["name"].startswith("JACK") and api["devices"]:
            return api["default_output_device"] if api["default_output_device"] >= 0 else api["devices"][0]
    raise RuntimeError("PortAudio lists no JACK device: is a JackServer running and PortAudio rescanned?")


def _portaudio_initialized() -> bool:
    if _portaudio_abandoned or "sounddevice" not in sys.modules:
        return False
    return sys.modules["sounddevice"]._initialized > 0


def _detach_portaudio() -> None:
    """Terminate PortAudio (closes every open PortAudio stream) while the server is still alive."""
    if _portaudio_abandoned or "sounddevice" not in sys.modules:
        return
    import sounddevice as sd

    _close_sounddevice_convenience_stream(sd)
    while sd._initialized:
        sd._terminate()


def _close_sounddevice_convenience_stream(sd) -> None:
    # sd.play()/sd.rec() keep their stream in sd._last_callback; the exit handler stops it, which
    # would touch a stream already freed by Pa_Terminate.
    if sd._last_callback is not None:
        sd._last_callback.stream.stop(ignore_errors=True)
        sd._last_callback.stream.close(ignore_errors=True)
        sd._last_callback = None


def abandon_portaudio() -> None:
    """Make sure nothing calls Pa_Terminate in this process again (it would abort).

    For after a server PortAudio was attached to has died. Streams are left open on purpose
    (closing can hang); sounddevice cannot be used in this process afterwards.
    """
    global _portaudio_abandoned
    _portaudio_abandoned = True
    if "sounddevice" in sys.modules:
        import sounddevice as sd

        sd._last_callback = None
        sd._initialized = 0  # the atexit handler terminates only while this is positive


# -- JACK's server registry --------------------------------------------------------------------


class _RegistryFull(RuntimeError):
    pass


_alive: set[JackServer] = set()  # started and not yet stopped/reclaimed


def _reclaim(name: str, uid: int, timeout: float = 5.0) -> bool:
    """Free the registry slot of a dead server ``name``: start a server of that name, SIGTERM it."""
    proc = subprocess.Popen(_PDEATHSIG + ["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "1024",
                                          "-C", "0", "-P", "0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    up = False
    while proc.poll() is None and time.monotonic() < deadline:
        if subprocess.run(["jack_lsp", "-s", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            up = True
            break
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for leftover in Path("/dev/shm").glob(f"jack_sem.{uid}_{name}_*"):  # semaphores of killed clients
        leftover.unlink(missing_ok=True)
    return up


def reclaim_stale_servers() -> list[str]:
    """Free the JACK registry slots of this user's servers that died without unregistering.

    jack2 allows 8 servers per machine and reclaims a dead server's slot only when a server of the
    same name starts again, so SIGKILLed servers with unique names eventually make every jackd fail
    with "Too many servers already active". Returns the names reclaimed.
    """
    try:
        registry = Path("/dev/shm/jack-shm-registry").read_bytes()
    except OSError:
        return []
    uid = os.getuid()
    running = {s.name for s in _alive}
    reclaimed = []
    for owner, raw in dict.fromkeys(_STALE_SLOT.findall(registry)):
        name = raw.decode(errors="replace")
        if int(owner) != uid or name in running:
            continue
        if subprocess.run(["jack_lsp", "-s", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            continue  # alive (another session's server)
        if _reclaim(name, uid):
            reclaimed.append(name)
    return reclaimed


@atexit.register
def _stop_all_at_exit() -> None:
    for server in sorted(_alive, key=lambda s: -_servers.index(s) if s in _servers else 0):
        try:
            server.stop(timeout=2.0)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


# -- the server -------------------------------------------------------------------------------


class JackServer:
    """A private ``jackd -n NAME -R -d dummy`` for one test session (or one test).

    ``start()`` sets ``JACK_DEFAULT_SERVER`` and ``JACK_NO_START_SERVER=1`` in ``os.environ`` and
    re-initializes PortAudio (``portaudio=True``) so sounddevice lists the server's ``system``
    device. ``stop()`` restores the environment and PortAudio's view of the previous server.
    Servers nest like a stack: stop them in reverse order of starting.
    """

    def __init__(self, rate: int = 48000, period: int = 128, inputs: int = 2, outputs: int = 2,
                 *, name: str | None = None, realtime: bool = True, portaudio: bool = True,
                 start_timeout: float = 10.0):
        self.rate = int(rate)
        self.period = int(period)
        self.inputs = int(inputs)
        self.outputs = int(outputs)
        self.name = name or f"rackhost_test_{os.getpid()}_{next(_names)}"
        self.realtime = realtime
        self.portaudio = portaudio
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._log = None
        self._saved_env: dict[str, str | None] = {}
        self._patchbay: jack.Client | None = None
        self._clients: weakref.WeakSet[_HarnessClient] = weakref.WeakSet()
        # (log offsets from, to): while a harness client closed, late on purpose (xruns_since)
        self._closing: list[tuple[int, int]] = []
        self._attached = False  # PortAudio was initialized while this server was the current one
        self._reattach_on_stop = False  # PortAudio was detached from the previous server by start()
        self._slot_leaked = False  # killed: its JACK registry slot is still taken
        self.uid = os.getuid()

    # - life cycle -

    @property
    def command(self) -> list[str]:
        cmd = _PDEATHSIG + ["jackd", "-n", self.name]
        if self.realtime:
            cmd.append("-R")  # as root: real-time; otherwise jackd warns and runs without it
        cmd += ["-d", "dummy", "-r", str(self.rate), "-p", str(self.period),
                "-C", str(self.inputs), "-P", str(self.outputs)]
        return cmd

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def env(self) -> dict[str, str]:
        """The variables a child process needs to use this server."""
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def start(self) -> JackServer:
        if jack is None:
            raise RuntimeError(f"JACK-Client is not importable: {_JACK_IMPORT_ERROR}")
        if self.running:
            raise RuntimeError(f"JACK server {self.name!r} is already running")
        self._release_other_servers()
        try:
            self._launch()
        except _RegistryFull:
            reclaim_stale_servers()
            self._launch()
        _alive.add(self)
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        _servers.append(self)
        if self.portaudio:
            rescan_portaudio()
            self._attached = True
        return self

    def restart(self) -> JackServer:
        """Start again with the same name and settings (after :meth:`kill` or :meth:`stop`)."""
        if self.running:
            self.stop()
        self.process = None
        self._slot_leaked = False
        return self.start()

    def _launch(self) -> None:
        fd, log = tempfile.mkstemp(prefix=f"{self.name}_", suffix=".log")
        self.log_path = Path(log)
        self._log = os.fdopen(fd, "w")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:  # jack_wait -c reports too early: poll jack_lsp until it connects
            if self.process.poll() is not None:
                code, log = self.process.returncode, self.log_tail()
                self._cleanup_files()
                self.process = None
                if "Too many servers already active" in log:
                    raise _RegistryFull(log)
                raise RuntimeError(f"jackd {self.name!r} exited with {code} while starting: {log}")
            if subprocess.run(["jack_lsp", "-s", self.name], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            if time.monotonic() > deadline:
                self._terminate_process(timeout=2.0)
                raise RuntimeError(f"jackd {self.name!r} did not answer within {self.start_timeout} s: "
                                   f"{self.log_tail()}")
            time.sleep(0.02)

    def _release_other_servers(self) -> None:
        # libjack2 binds the whole process to the server of its first open client until every client
        # is closed: a client opened meanwhile "on" another server lands on the first one (and mixing
        # them segfaulted). So nothing of the running servers may stay open, PortAudio's client included.
        still_open = [c.name for other in _servers for c in other._clients if not c._closed]
        if still_open:
            raise RuntimeError(f"close the JACK clients {still_open} before starting another server in this "
                               f"process: libjack2 binds a process to one server while any client is open")
        for other in _servers:
            other._close_patchbay()
            other._attached = False
        if _servers and _portaudio_initialized():
            _detach_portaudio()
            self._reattach_on_stop = True

    def stop(self, timeout: float = 5.0) -> None:
        """Close PortAudio and the harness clients, then SIGTERM jackd and wait (SIGKILL after ``timeout``).

        After :meth:`kill` (or a crash of jackd) it reclaims the server's JACK registry slot instead.
        """
        if self.process is None:
            return
        died = self.process.poll() is not None
        if died and self.process.returncode != 0:
            self._slot_leaked = True  # crashed by itself: same registry leak as a kill
        if self in _servers:
            was_current = _servers[-1] is self
            attached = self._attached
            if attached and died:
                abandon_portaudio()  # too late for a clean Pa_Terminate
            elif attached:
                _detach_portaudio()  # BEFORE jackd goes away, or Pa_Terminate aborts later
            self._close_clients()
            self._terminate_process(timeout)
            self._leave(rescan=was_current and not died and (attached or self._reattach_on_stop))
        else:
            self._close_clients()
        if self._slot_leaked:  # give back JACK's registry slot by a clean start/stop of the same name
            self._slot_leaked = False
            _reclaim(self.name, self.uid)
        _alive.discard(self)

    def kill(self) -> None:
        """SIGKILL jackd (a crash, for fault tests). PortAudio is abandoned if it was attached.

        A killed server keeps its slot in JACK's registry (8 per machine, shared by every session):
        call :meth:`stop` afterwards (the fixtures and the context manager do) to reclaim it.
        """
        if self.process is None:
            return
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self._slot_leaked = True
        if self._attached:
            abandon_portaudio()
            self._attached = False
        # Harness clients stay open so tests can see their shutdown callbacks; close() copes.
        self._close_patchbay()
        self._leave(rescan=False)

    def _terminate_process(self, timeout: float) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()

    def _leave(self, rescan: bool) -> None:
        if self in _servers:
            _servers.remove(self)
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env.clear()
        self._attached = False
        if rescan and not _portaudio_abandoned and "sounddevice" in sys.modules:
            import sounddevice as sd

            sd._initialize()  # PortAudio now sees the previous server, if any
            if _servers and _servers[-1].portaudio:
                _servers[-1]._attached = True
        self._reattach_on_stop = False
        self._cleanup_files()

    def _cleanup_files(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path else 0
        except OSError:
            return 0

    def xruns_since(self, offset: int, end: int | None = None) -> int:
        """The late cycles the server reported in its log from byte ``offset`` (to ``end``), leaving out those
        while a harness client closed: it waits in its last period on purpose (see _HarnessClient._guarded),
        and the server then reports the clients after it in the graph late, not always the closing one."""
        try:
            with open(self.log_path, "rb") as log:  # type: ignore[arg-type]
                log.seek(offset)
                text = log.read(None if end is None else max(0, end - offset))
        except (OSError, TypeError):
            return 0
        count, late, position = 0, [], offset
        for line in text.splitlines(keepends=True):
            if line.startswith(b"JackEngine::XRun: client = "):
                late.append(position)
            else:  # a cycle's reports end with its "Process error" line (which also comes alone, not for xruns)
                if late and not any(self._while_closing(at) for at in late):
                    count += 1
                late = []
                if line.startswith(b"JackTimedDriver::Process XRun") and not self._while_closing(position):
                    count += 1  # the server's own thread woke late (its clients were told of it as an xrun)
            position += len(line)
        return count + (1 if late and not any(self._while_closing(at) for at in late) else 0)

    def _while_closing(self, at: int) -> bool:
        return any(start <= at < stop for start, stop in self._closing)

    def log_tail(self, chars: int = 2000) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""
        except OSError:
            return ""

    def __enter__(self) -> JackServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"JackServer({self.name!r}, rate={self.rate}, period={self.period}, "
                f"inputs={self.inputs}, outputs={self.outputs}, {state})")

    # - clients and wiring -

    def client(self, name: str) -> jack.Client:
        """A new JACK client on this server (never starts a server)."""
        return jack.Client(name, no_start_server=True, servername=self.name)

    @property
    def patchbay(self) -> jack.Client:
        """An active helper client used to list, connect and disconnect ports."""
        if self._patchbay is None:
            self._patchbay = self.client("rackhost_patchbay")
            self._patchbay.activate()
        return self._patchbay

    def ports(self, prefix: str = "", *, is_input: bool = False, is_output: bool = False,
              is_audio: bool = True) -> list[str]:
        """Full names of ports whose name starts with ``prefix`` (e.g. ``"PortAudio:"``).

        ``is_input``/``is_output`` are from the port's side: a client's *input* ports receive audio.
        """
        found = self.patchbay.get_ports(is_input=is_input, is_output=is_output, is_audio=is_audio)
        return [p.name for p in found if p.name.startswith(prefix)]

    def client_ports(self, client_prefix: str, *, is_input: bool = False, is_output: bool = False) -> list[str]:
        """Audio ports of the first client whose name starts with ``client_prefix`` (e.g. ``"PortAudio"``)."""
        names = self.ports(is_input=is_input, is_output=is_output)
        clients = sorted({n.split(":", 1)[0] for n in names if n.startswith(client_prefix)},
                         key=lambda c: (len(c), c))  # "PortAudio" before "PortAudio-01"
        if not clients:
            return []
        return [n for n in names if n.split(":", 1)[0] == clients[0]]

    def connect(self, source: str, destination: str) -> None:
        self.patchbay.connect(source, destination)

    def disconnect(self, source: str, destination: str) -> None:
        self.patchbay.disconnect(source, destination)

    def connections(self, port: str) -> list[str]:
        return [p.name for p in self.patchbay.get_all_connections(port)]

    def disconnect_system(self, client_prefix: str) -> int:
        """Cut every link between ``system:*`` and the ports of ``client_prefix``; returns how many."""
        cut = 0
        inputs = set(self.client_ports(client_prefix, is_input=True))
        for port in self.client_ports(client_prefix):
            for other in self.connections(port):
                if other.startswith("system:"):
                    src, dst = (other, port) if port in inputs else (port, other)
                    self.patchbay.disconnect(src, dst)
                    cut += 1
        return cut

    def _close_clients(self) -> None:
        for client in list(self._clients):
            client.close()
        self._close_patchbay()

    def _close_patchbay(self) -> None:
        if self._patchbay is not None:
            patchbay, self._patchbay = self._patchbay, None
            if self.running:
                patchbay.deactivate(ignore_errors=True)
            patchbay.close(ignore_errors=True)


# Module-level wiring helpers on the current server.

def connect(source: str, destination: str) -> None:
    current_server().connect(source, destination)


def disconnect(source: str, destination: str) -> None:
    current_server().disconnect(source, destination)


def disconnect_system(client_prefix: str) -> int:
    return current_server().disconnect_system(client_prefix)


def find_ports(client_prefix: str, *, is_input: bool = False, is_output: bool = False) -> list[str]:
    return current_server().client_ports(client_prefix, is_input=is_input, is_output=is_output)


# -- the clients ------------------------------------------------------------------------------


class _HarnessClient:
    """A JACK client with a real-time-safe process callback and a shutdown flag."""

    def __init__(self, name: str, server: JackServer | None):
        self.server = server or current_server()
        self.client = self.server.client(name)
        self.name = self.client.name  # JACK may rename it if the name is taken
        self.shutdown_reason: str | None = None
        # No xrun callback: JACK ends a client's notification thread with pthread_cancel when it closes, and
        # one cancelled while waiting for the GIL hangs the process (see _guarded). Xruns come from the log.
        self._log_from = self.server.log_size()
        self._xruns_final: int | None = None
        self.client.set_shutdown_callback(self._on_shutdown)  # called only when the server goes away
        self.server._clients.add(self)
        self._closed = False

    def _on_shutdown(self, status, reason) -> None:
        self.shutdown_reason = reason  # called on a JACK thread when the server goes away

    @property
    def xruns(self) -> int:
        """The server's xruns while this client was open (any client late, or the server itself)."""
        if self._xruns_final is not None:
            return self._xruns_final
        return self.server.xruns_since(self._log_from)

    @property
    def server_lost(self) -> bool:
        return self.shutdown_reason is not None

    def _activate(self) -> None:
        self._closing = False
        self._parked = threading.Event()
        self._released = threading.Event()
        self.client.set_process_callback(self._guarded)
        self.client.activate()

    def _guarded(self, frames: int) -> None:
        if self._closing:
            # Wait here, the GIL released, until JACK ends this thread. jack_deactivate ends a real-time
            # client's thread with pthread_cancel; a thread cancelled while it waits for the GIL (another
            # Python thread of this process holds it: an engine's audio callback, say) dies holding the
            # GIL's mutex, and every thread of the process then hangs for good (seen in CI: the whole
            # test run stopped inside a take). A thread cancelled here holds nothing.
            self._parked.set()
            self._released.wait(PARK_SECONDS)
            return
        self._process(frames)

    def _process(self, frames: int) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.server_lost:
                raise RuntimeError(f"{self.name}: JACK server went away while waiting to {what}: {self.shutdown_reason}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: timed out after {timeout} s waiting to {what}")
            time.sleep(0.002)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._xruns_final = self.xruns
        if not self.server_lost and self.server.running and hasattr(self, "_parked"):
            start = self.server.log_size()
            self._closing = True
            self._parked.wait(PARK_SECONDS)  # the next period parks the process thread (see _guarded)
            self.client.deactivate(ignore_errors=True)
            time.sleep(0.02)  # the server's last report of this client's lateness reaches the log
            self.server._closing.append((start, self.server.log_size()))
        self.client.close(ignore_errors=True)
        if hasattr(self, "_released"):
            self._released.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Player(_HarnessClient):
    """Plays ``signal`` (channels, frames) once from its start when :meth:`play` is called, then silence.

    Output ports ``NAME:out_1`` ...; :attr:`start_frame` is the JACK frame time of the first played sample.
    """

    def __init__(self, name: str, signal: np.ndarray, *, server: JackServer | None = None):
        sig = np.asarray(signal, dtype=np.float32)
        if sig.ndim == 1:
            sig = sig[np.newaxis, :]
        if sig.ndim != 2 or sig.shape[0] < 1:
            raise ValueError(f"signal must be (channels, frames), got shape {np.shape(signal)}")
        super().__init__(name, server)
        self.signal = np.ascontiguousarray(sig)
        self._ports = tuple(self.client.outports.register(f"out_{i + 1}") for i in range(sig.shape[0]))
        self.outputs = [p.name for p in self._ports]
        self._requested = False
        self._playing = False
        self._pos = 0
        self.start_frame: int | None = None
        self.finished = False
        self._activate()

    def play(self, wait: bool = False, timeout: float = 5.0) -> None:
        """Start playing at the next period; with ``wait``, return once the whole signal was played."""
        if self._requested:
            raise RuntimeError(f"{self.name} plays its signal once; make a new Player to play again")
        self._requested = True
        self._wait(lambda: self.start_frame is not None, 2.0, "start playing")
        if wait:
            self.wait(timeout)

    start = play

    def wait(self, timeout: float = 5.0) -> None:
        """Wait until the last sample has been handed to JACK."""
        self._wait(lambda: self.finished, timeout, "finish playing")

    def _process(self, frames: int) -> None:
        # Real-time: no allocation beyond port arrays and numpy views into the preallocated signal.
        if self._requested and not self._playing and not self.finished:
            self._playing = True
            self._pos = 0
            self.start_frame = self.client.last_frame_time
        if self._playing:
            pos = self._pos
            end = min(pos + frames, self.signal.shape[1])
            count = end - pos
            for ch, port in enumerate(self._ports):
                buf = port.get_array()
                buf[:count] = self.signal[ch, pos:end]
                buf[count:] = 0.0
            self._pos = end
            if end >= self.signal.shape[1]:
                self._playing = False
                self.finished = True
        else:
            for port in self._ports:
                port.get_array().fill(0.0)


class Recorder(_HarnessClient):
    """Captures its input ports ``NAME:in_1`` ... into a preallocated buffer from :meth:`start`
    until :meth:`stop` or until ``frames`` (default 10 s) are captured.

    :attr:`first_frame` is the JACK frame time of ``captured[:, 0]``.
    """

    def __init__(self, name: str, channels: int = 2, *, frames: int | None = None,
                 server: JackServer | None = None):
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels!r}")
        super().__init__(name, server)
        capacity = int(frames if frames is not None else 10 * self.server.rate)
        self.buffer = np.zeros((channels, capacity), dtype=np.float32)
        self._ports = tuple(self.client.inports.register(f"in_{i + 1}") for i in range(channels))
        self.inputs = [p.name for p in self._ports]
        self._requested = False
        self._stop_requested = False
        self._recording = False
        self.done = False
        self.frames = 0
        self.first_frame: int | None = None
        self._activate()

    def start(self, timeout: float = 2.0) -> None:
        """Start capturing at the next period; returns once the first period was captured."""
        if self._requested:
            raise RuntimeError(f"{self.name} records once; make a new Recorder to record again")
        self._requested = True
        self._wait(lambda: self.first_frame is not None, timeout, "start recording")

    def stop(self, timeout: float = 2.0) -> None:
        """Stop at the end of the current period; returns once the callback has stopped writing."""
        self._stop_requested = True
        if self._requested and not self.server_lost:
            self._wait(lambda: self.done, timeout, "stop recording")

    def wait(self, timeout: float = 15.0) -> None:
        """Wait until the buffer is full."""
        self._wait(lambda: self.done, timeout, "fill the buffer")

    @property
    def captured(self) -> np.ndarray:
        """A copy of what was captured so far, (channels, frames)."""
        return self.buffer[:, : self.frames].copy()

    def _process(self, frames: int) -> None:
        # Real-time: copies port arrays into slices of the preallocated buffer; nothing else.
        if self.done:
            return
        if self._requested and not self._recording:
            self._recording = True
            self.first_frame = self.client.last_frame_time
        if not self._recording:
            return
        if self._stop_requested:
            self._recording = False
            self.done = True
            return
        pos = self.frames
        end = min(pos + frames, self.buffer.shape[1])
        count = end - pos
        for ch, port in enumerate(self._ports):
            self.buffer[ch, pos:end] = port.get_array()[:count]
        self.frames = end
        if end >= self.buffer.shape[1]:
            self._recording = False
            self.done = True


# -- analysis ---------------------------------------------------------------------------------


def align(reference: np.ndarray, captured: np.ndarray, *, method: str = "xcorr",
          threshold: float = 0.0) -> tuple[int, np.ndarray]:
    """Find where ``reference`` starts in ``captured`` and return ``(lag, aligned)``.

    ``lag`` is the index in ``captured`` of ``reference[..., 0]`` (negative if the capture started
    after the reference did). ``aligned`` has the shape of ``reference``: ``captured`` shifted by
    ``lag``, zero-padded where the capture does not cover it. Both arrays are (channels, frames)
    or 1-D.

    ``method="xcorr"`` cross-correlates (all channels summed), for noise-like signals;
    ``method="onset"`` matches the first sample whose magnitude exceeds ``threshold``, for impulses.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cap = np.asarray(captured, dtype=np.float64)
    one_d = ref.ndim == 1
    ref2 = np.atleast_2d(ref)
    cap2 = np.atleast_2d(cap)
    if ref2.shape[0] != cap2.shape[0]:
        raise ValueError(f"channel counts differ: reference {ref2.shape[0]}, captured {cap2.shape[0]}")
    n_ref, n_cap = ref2.shape[1], cap2.shape[1]
    if n_ref == 0 or n_cap == 0:
        raise ValueError("cannot align empty signals")
    if method == "onset":
        ref_on = np.flatnonzero(np.any(np.abs(ref2) > threshold, axis=0))
        cap_on = np.flatnonzero(np.any(np.abs(cap2) > threshold, axis=0))
        if ref_on.size == 0 or cap_on.size == 0:
            raise ValueError(f"no sample above {threshold} in the {'reference' if ref_on.size == 0 else 'capture'}")
        lag = int(cap_on[0] - ref_on[0])
    elif method == "xcorr":
        size = 1 << int(np.ceil(np.log2(n_ref + n_cap - 1)))
        spectrum = np.zeros(size // 2 + 1, dtype=np.complex128)
        for r, c in zip(ref2, cap2):
            spectrum += np.fft.rfft(c, size) * np.conj(np.fft.rfft(r, size))
        corr = np.fft.irfft(spectrum, size)
        # lag k >= 0 at corr[k]; k < 0 at corr[size + k]
        lags = np.concatenate([np.arange(0, n_cap), np.arange(-(n_ref - 1), 0)])
        values = np.concatenate([corr[:n_cap], corr[size - (n_ref - 1):]])
        if not np.any(values):
            raise ValueError("the capture is silent or does not correlate with the reference")
        lag = int(lags[np.argmax(np.abs(values))])
    else:
        raise ValueError(f"method must be 'xcorr' or 'onset', got {method!r}")
    aligned = np.zeros_like(np.atleast_2d(np.asarray(reference)), dtype=np.asarray(captured).dtype)
    src_start, dst_start = max(lag, 0), max(-lag, 0)
    count = max(0, min(n_cap - src_start, n_ref - dst_start))
    aligned[:, dst_start:dst_start + count] = np.atleast_2d(np.asarray(captured))[:, src_start:src_start + count]
    return lag, (aligned[0] if one_d else aligned)


# -- child processes --------------------------------------------------------------------------


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 60.0,
               server: JackServer | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the repo and ``tests/`` importable.

    ``server``'s variables are added to the environment (so the child uses it); ``env`` overrides.
    Use it for anything that must not touch this process's PortAudio (killing a server, no server).
    """
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS_DIR), str(REPO_ROOT)] + ([child_env["PYTHONPATH"]] if child_env.get("PYTHONPATH") else []))
    if server is not None:
        child_env.update(server.env)
    if env:
        child_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=child_env, capture_output=True,
                          text=True, timeout=timeout, cwd=str(REPO_ROOT))


# -- fixtures (re-exported from conftest) -----------------------------------------------------


def _require_jack() -> None:
    if not jackd_available():
        pytest.fail("needs jackd, jack_lsp and JACK-Client: 'make setup' installs them (jackd2, JACK-Client)")


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """A private JACK server for the whole session: 48 kHz, period 128, 2 in / 2 out, PortAudio attached."""
    _require_jack()
    server = JackServer(rate=48000, period=128, inputs=2, outputs=2)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def jack_server_factory():
    """``make(rate=..., period=..., inputs=..., outputs=..., portaudio=True) -> JackServer`` (started).

    Each new server becomes the current one (environment and PortAudio) until the test ends; they
    are stopped in reverse order and the previous server (e.g. the session's) is current again.
    """
    _require_jack()
    made: list[JackServer] = []
    lock = threading.Lock()

    def make(**kwargs) -> JackServer:
        server = JackServer(**kwargs)
        with lock:
            made.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in reversed(made):
            server.stop()
