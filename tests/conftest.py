"""Shared fixtures: real plug-ins from Debian's zam-plugins and the project's own DPF builds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from background_scan import BackgroundScan
from jack_harness import jack_server, jack_server_factory  # noqa: F401 - fixtures for every test file

SR = 48000


def pytest_configure(config: pytest.Config) -> None:
    """Keep the user's own caches, presets and settings out of the tests (subprocesses inherit this)."""
    import os
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="rackhost-test-"))
    # Each pytest-xdist worker gets folders of its own: they inherit the first process's environment.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    for variable, folder in (("RACKHOST_CACHE_DIR", "cache"), ("RACKHOST_CONFIG_DIR", "config"),
                             ("RACKHOST_DATA_DIR", "data")):
        if worker:
            os.environ[variable] = str(home / worker / folder)
        else:
            os.environ.setdefault(variable, str(home / folder))


# `make test` runs the suite in two passes: what only computes, on every core (pytest-xdist), then what keeps
# time or needs the machine to itself, one test at a time (`-m serial`). A test is serial when it uses a JACK
# server or the full plug-in scan, or its file drives a window, an engine process, Ray or a soak: beside
# another test, a JACK take gets xruns and a window's wait runs out.
SERIAL_FIXTURES = {"jack_server", "jack_server_factory", "full_scan"}
SERIAL_FILE_WORDS = ("xvfb", "Xvfb", "xdotool", "dearpygui", "EngineProcess", "import ray", "ray.init", "soak",
                     "jackd", "clean_take", "live_takes", "jack_harness import")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the serial tests: by the fixtures they use, or the words in their own code or in the helpers of
    their file (a word only inside other tests of the file does not count)."""
    import inspect

    helpers_serial: dict[Path, bool] = {}
    for item in items:
        function = getattr(item, "function", None)
        own = inspect.getsource(function) if function is not None else ""
        path = Path(str(item.fspath))
        if path not in helpers_serial:
            text = path.read_text(errors="replace")
            module = getattr(item, "module", None)
            for name, member in vars(module).items() if module is not None else ():
                if name.startswith("test_") and inspect.isfunction(member):
                    text = text.replace(inspect.getsource(member), "")
            helpers_serial[path] = _has_serial_word(text)
        if helpers_serial[path] or _has_serial_word(own) or SERIAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.serial)


def _has_serial_word(text: str) -> bool:
    return any(word in text for word in SERIAL_FILE_WORDS)


_FULL_SCAN = BackgroundScan()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the full zam-plugins scan (ZamVerb: ~90 s) now, in the background, if a selected test needs it."""
    if any("full_scan" in getattr(item, "fixturenames", ()) for item in session.items):
        _FULL_SCAN.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _FULL_SCAN.stop()


@pytest.fixture(scope="session")
def full_scan() -> BackgroundScan:
    """The scan of /usr/lib/vst3 begun when collection ended; ``.result()`` waits for its JSON summary."""
    return _FULL_SCAN


VST3_DIR = Path("/usr/lib/vst3")
PROJECT_VST3_DIR = Path(__file__).resolve().parents[1] / "build" / "vst3"

# From Debian's zam-plugins 4.1: which accept only mono, which only stereo.
ZAM_MONO_ONLY = [
    "ZamComp", "ZamEQ2", "ZamDelay", "ZamGate", "ZamTube", "ZamPhono", "ZamAutoSat",
    "ZamDynamicEQ", "ZamGEQ31", "ZamGrains", "ZaMultiComp",
]
ZAM_STEREO_ONLY = ["ZamCompX2", "ZaMultiCompX2", "ZamGateX2", "ZaMaximX2", "ZamHeadX2"]
ZAM_SLOW = ["ZamVerb"]  # stereo only; takes ~90 s to load
ZAM_ALL = ZAM_MONO_ONLY + ZAM_STEREO_ONLY + ZAM_SLOW


def program_signal(channels: int = 2, seconds: float = 1.0, sr: int = SR, seed: int = 1) -> np.ndarray:
    """Deterministic program-like audio: tones plus noise bursts, peaks around -6 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = []
    for ch in range(channels):
        tone = 0.25 * np.sin(2 * np.pi * (110 + 55 * ch) * t) + 0.1 * np.sin(2 * np.pi * 1870 * t)
        bursts = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t) > 0.6) * 0.15
        out.append(tone + bursts)
    return np.asarray(out, dtype=np.float32)


@pytest.fixture
def wav_file(tmp_path: Path):
    """Write ``audio`` (channels, frames) as a 24-bit WAV and return its path."""

    def write(audio: np.ndarray, name: str = "in.wav", sr: int = SR) -> Path:
        path = tmp_path / name
        sf.write(path, np.asarray(audio).T, sr, subtype="PCM_24" if name.endswith(".wav") else None)
        return path

    return write


@pytest.fixture
def app(session_file: Path):
    """The rack window (no engine) of the test file's own ``session_file`` fixture: a window test's usual start."""
    from gui_driver import built_window  # here: most test files never build a window

    with built_window(session_file) as rack:
        yield rack


def file_loader(path: str | Path) -> object:
    """The engine process's loader for a session file: what a CLI or GUI hands it (live may not import presets)."""
    from rackhost.live.process import SessionLoader
    from rackhost.presets import load_session

    return SessionLoader(str(path), load=load_session)
