"""A built-in's probed latency is measured once per process for what decides it, and is never a stale one.

A loudness-target render copies the master's limiter and sets its ceiling at
each pass; the copy finds the latency the session's limiter (or the last
render's copy) measured, since a ceiling or a release moves the limiter's gain,
not its lookahead. A lookahead, a true-peak switch, a rate, a block or a channel
count that differs is measured again. Probes are counted by wrapping the real
probe (the real pedalboard instance runs); nothing is mocked.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SR, program_signal
from rackhost.chain import ArraySource, LoudnessTarget, Plugin, Session, render
from rackhost.chain import plugin as plugin_module
from rackhost.chain.builtins import BUILTIN_PARAMETERS, LATENCY_NEUTRAL_PARAMETERS

RATES = (44100, 48000, 96000)
BLOCKS = (64, 128, 441, 512, 1024, 4096)


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float, int]]:
    """An empty latency cache, and the (built-in, rate, block) of each probe that runs from here on."""
    monkeypatch.setattr(plugin_module, "_LATENCY_CACHE", {})
    ran: list[tuple[str, float, int]] = []
    real = Plugin._probe_builtin_latency

    def counted(self: Plugin, sample_rate: float, block: int) -> int:
        ran.append((self.name, sample_rate, block))
        return real(self, sample_rate, block)

    monkeypatch.setattr(Plugin, "_probe_builtin_latency", counted)
    return ran


def _settings(name: str) -> st.SearchStrategy[dict[str, object]]:
    """Any value of each of a built-in's parameters, over the ranges rackhost offers."""
    fields: dict[str, st.SearchStrategy[object]] = {}
    for parameter, spec in BUILTIN_PARAMETERS[name].items():
        if spec == "bool":
            fields[parameter] = st.booleans()
        else:
            lo, hi, _unit = spec  # type: ignore[misc]
            # BrickwallLimiter refuses a lookahead of 0 ms (and of 1e-300, a float32 0): the lower ends are left out.
            fields[parameter] = st.floats(lo + 0.01, hi, allow_nan=False, allow_subnormal=False)
    return st.fixed_dictionaries(fields)


@st.composite
def two_settings(draw: st.DrawFn) -> tuple[str, dict[str, object], dict[str, object]]:
    """A built-in with latency-neutral parameters, and two settings of it: the second either differs only in
    those (the cache must be hit) or anywhere (it must be hit or missed as the fresh probe says)."""
    name = draw(st.sampled_from(sorted(LATENCY_NEUTRAL_PARAMETERS)))
    first, second = draw(_settings(name)), draw(_settings(name))
    if draw(st.booleans()):
        second |= {k: v for k, v in first.items() if k not in LATENCY_NEUTRAL_PARAMETERS[name]}
    return name, first, second


@settings(max_examples=40, deadline=None)
@given(case=two_settings(), rate=st.sampled_from(RATES), block=st.sampled_from(BLOCKS))
def test_a_cached_latency_equals_a_fresh_probe_whatever_the_settings(case, rate, block):
    name, first, second = case
    plugin_module._LATENCY_CACHE.clear()
    original = Plugin.builtin(name, **first)
    original.configure(2, rate)
    assert original.latency(rate, block) == original._probe_builtin_latency(rate, block)
    copy = original.clone()
    for key, value in second.items():
        copy.set(key, value)
    assert copy.latency(rate, block) == copy._probe_builtin_latency(rate, block)


def test_a_limiters_ceiling_and_release_hit_the_cache_and_its_lookahead_misses_it(probes):
    limiter = Plugin.builtin("BrickwallLimiter", lookahead_ms=5.0, true_peak=True)
    assert limiter.latency(48000, 512) == 300
    copy = limiter.clone()
    copy.set("ceiling_db", -3.0)
    copy.set("release_ms", 400.0)
    assert copy.latency(48000, 512) == 300
    assert len(probes) == 1
    copy.set("lookahead_ms", 50.0)
    assert copy.latency(48000, 512) == 2460
    copy.set("true_peak", False)
    assert copy.latency(48000, 512) == 2400
    assert copy.latency(44100, 512) != 2400  # the lookahead is in ms: another rate holds back another count
    assert copy.latency(48000, 256) == 2400
    assert len(probes) == 5


def test_a_gain_is_probed_once_whatever_its_gain(probes):
    gains = [Plugin.builtin("Gain", gain_db=g) for g in np.linspace(-60.0, 24.0, 20)]
    assert {g.latency(48000, 512) for g in gains} == {0}
    assert len(probes) == 1


def _target_session(limiter: dict[str, object]) -> Session:
    session = Session(sample_rate=SR, block_size=512)
    session.add_track("mix", ArraySource(program_signal(2, 3.0), SR))
    session.master.chain.add("Compressor", threshold_db=-18.0, ratio=2.0)
    session.master.chain.add("BrickwallLimiter", **limiter)
    session.master.loudness_target = LoudnessTarget(-12.0, -1.0)
    return session


def test_a_loudness_target_render_probes_its_limiter_copy_once_and_the_next_render_not_at_all(probes):
    session = _target_session({"true_peak": True})
    first = render(session)
    limiter_probes = [p for p in probes if p[0] == "BrickwallLimiter"]
    assert limiter_probes == [("BrickwallLimiter", SR, 512)]  # one, though the copy's ceiling moved
    before = len(probes)
    session.master.loudness_target = LoudnessTarget(-16.0, -2.0)  # another ceiling for the copy to try
    second = render(session)
    assert len(probes) == before
    assert first.target_report.within and second.target_report.within


def test_a_render_after_the_lookahead_changed_measures_again_and_stays_aligned(probes):
    session = _target_session({"true_peak": True, "lookahead_ms": 5.0})
    short = render(session)
    session.master.chain[-1].plugin.set("lookahead_ms", 20.0)
    long = render(session)
    assert [p for p in probes if p[0] == "BrickwallLimiter"] == [("BrickwallLimiter", SR, 512)] * 2
    # Aligned both times: the longer lookahead's latency was trimmed, not the shorter one's (a stale latency
    # would shift the master by 720 samples and its likeness to the other would fall far below 0.99).
    a, b = short.audio[0], long.audio[0]
    assert a.shape == b.shape
    likeness = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))
    assert likeness > 0.99
