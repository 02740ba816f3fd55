"""Shared fixtures: real plug-ins from Debian's zam-plugins and the project's own DPF builds."""

from __future__ import annotations

from dataclasses import dataclass, field
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
# time, one test at a time (`-m serial`). A test is serial when it uses a JACK server or the full plug-in scan,
# or the code it reaches runs an engine process or a JACK take, or clicks and types into a real window (xdotool):
# beside another test, a take gets xruns and a double-click's two clicks land frames apart. "The code it reaches"
# is its own, its fixtures', the helper scripts of tests/ it runs, and the helpers, constants and imported names
# of tests/ those name, followed on: a word only in another test's helper of the same file does not make it
# serial, so a file's widget or command tests run beside others while its JACK test waits (Dear PyGui without a
# display only computes). A test marked `beside_others` stays in the parallel pass whatever it reaches.
SERIAL_FIXTURES = {"jack_server", "jack_server_factory", "full_scan"}
SERIAL_WORDS = ("xdotool", "EngineProcess", "soak", "jackd", "clean_take", "live_takes", "jack_harness import")
# Real windows that only render (an Xvfb display each, screenshots) and Ray clusters run beside the computing
# tests, each kind on one worker, one at a time (`--dist loadgroup`): two `xvfb-run -a` at once can pick the same
# display number, and a local Ray cluster starts 2 CPUs of workers.
GROUP_WORDS = {"window": ("xvfb", "Xvfb", "show_viewport"), "ray": ("import ray", "ray.init", '"--ray"')}
TESTS_DIR = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the serial tests, and group the window and Ray ones, by the code each test reaches."""
    modules: dict[Path, _Module] = {}
    for item in items:
        text = _reached_code(item, modules)
        beside = item.get_closest_marker("beside_others") is not None
        if not beside and (_has(text, SERIAL_WORDS) or SERIAL_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.serial)
            continue
        for group, words in GROUP_WORDS.items():
            if _has(text, words):
                item.add_marker(pytest.mark.xdist_group(group))
                break
    # A long test started last would hold the parallel pass up alone: those kept beside the others start first.
    items.sort(key=lambda item: item.get_closest_marker("beside_others") is None)


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


@dataclass
class _Module:
    """A file of tests/ read once: the code of each top-level name, and the names imported from other files of tests/."""

    code: dict[str, str] = field(default_factory=dict)
    imported: dict[str, tuple[Path, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> _Module:
        import ast

        source = path.read_text(errors="replace")
        lines = source.splitlines()
        module = cls()

        def take(statements: list) -> None:
            for node in statements:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                    module.code[node.name] = "\n".join(lines[first - 1:node.end_lineno])
                elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        for name in ast.walk(target):
                            if isinstance(name, ast.Name):
                                module.code[name.id] = module.code.get(name.id, "") + "\n" + ast.get_source_segment(
                                    source, node)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        module.code[alias.asname or alias.name.split(".")[0]] = f"import {alias.name}"
                elif isinstance(node, ast.ImportFrom):
                    for alias in node.names:
                        bound = alias.asname or alias.name
                        module.code[bound] = f"from {node.module} import {alias.name}"
                        helper = TESTS_DIR / f"{node.module}.py"
                        if node.level == 0 and node.module and helper.is_file():
                            module.imported[bound] = (helper, alias.name)
                elif isinstance(node, (ast.If, ast.Try, ast.With)):
                    take(node.body)
                    for handler in getattr(node, "handlers", []):
                        take(handler.body)
                    take(getattr(node, "orelse", []))
                    take(getattr(node, "finalbody", []))

        take(ast.parse(source).body)
        return module


def _reached_code(item: pytest.Item, modules: dict[Path, _Module]) -> str:
    """The test's own code and all the code of tests/ it reaches (see above)."""
    import inspect
    import re

    starts: list[tuple[Path, str]] = []
    function = getattr(item, "function", None)
    if function is not None:
        owner = getattr(item, "cls", None) or function  # a method reaches its class's helpers
        starts.append((Path(inspect.getfile(owner)).resolve(), inspect.getsource(owner)))
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    for definitions in (fixtureinfo.name2fixturedefs.values() if fixtureinfo is not None else ()):
        for definition in definitions:
            try:
                path = Path(inspect.getfile(definition.func)).resolve()
            except TypeError:
                continue
            if path.parent == TESTS_DIR:
                starts.append((path, inspect.getsource(definition.func)))
    seen: set[tuple[Path, str]] = set()
    reached: list[str] = []
    while starts:
        path, code = starts.pop()
        reached.append(code)
        for name in set(re.findall(r"\b([A-Za-z_]\w*)\.py\b", code)):  # a helper script it runs: all of it
            script = TESTS_DIR / f"{name}.py"
            if not name.startswith(("test_", "conftest")) and (script, "") not in seen and script.is_file():
                seen.add((script, ""))
                starts.append((script, script.read_text(errors="replace")))
        module = modules.get(path) or modules.setdefault(path, _Module.read(path))
        for name in set(re.findall(r"[A-Za-z_]\w*", code)):
            if (path, name) in seen or name not in module.code:
                continue
            seen.add((path, name))
            if name in module.imported:
                helper, original = module.imported[name]
                starts.append((path, module.code[name]))
                if (helper, original) not in seen:
                    helper_module = modules.get(helper) or modules.setdefault(helper, _Module.read(helper))
                    if original in helper_module.code:
                        seen.add((helper, original))
                        starts.append((helper, helper_module.code[original]))
            else:
                starts.append((path, module.code[name]))
    return "\n".join(reached)


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
