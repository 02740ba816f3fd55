"""The live-audio harness itself: a real JACK server, separate player and recorder clients, alignment."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from jack_harness import (
    JackServer,
    Player,
    Recorder,
    align,
    disconnect_system,
    find_ports,
    jack_device,
    run_python,
)

BLOCK = 128
TAKES = 3  # loopback takes tried before an xrun in every one fails the test (never an expected failure)


def _noise(channels: int, frames: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (channels, frames)).astype(np.float32)


# -- align (no server) ------------------------------------------------------------------------


@pytest.mark.parametrize("lag", [0, 1, 137, 4000])
def test_align_finds_the_lag_by_cross_correlation(lag):
    ref = _noise(2, 3000)
    captured = np.zeros((2, lag + 3000 + 500), dtype=np.float32)
    captured[:, lag:lag + 3000] = ref
    found, aligned = align(ref, captured)
    assert found == lag
    np.testing.assert_array_equal(aligned, ref)


def test_align_handles_a_capture_that_started_late_and_mono():
    ref = _noise(1, 2000)[0]
    found, aligned = align(ref, ref[300:])
    assert found == -300
    assert aligned.shape == ref.shape
    np.testing.assert_array_equal(aligned[300:], ref[300:])
    assert not aligned[:300].any()


def test_align_onset_for_impulses():
    ref = np.zeros((2, 100), dtype=np.float32)
    ref[:, 3] = 1.0
    captured = np.zeros((2, 1000), dtype=np.float32)
    captured[:, 131] = 1.0
    assert align(ref, captured, method="onset")[0] == 128
    with pytest.raises(ValueError, match="no sample above"):
        align(ref, np.zeros_like(captured), method="onset")


# -- live ---------------------------------------------------------------------------------------


def test_loopback_through_a_sounddevice_stream_is_bit_exact_with_one_block_of_latency(jack_server):
    # A take during which the server had an xrun lost or repeated a block (this 2-core VM makes a few a
    # minute even for a C client, see bench/live.py --rates): it proves nothing either way, so it is taken
    # again; a clean take must be bit-exact.
    for _ in range(TAKES):
        rec, player, calls = _sounddevice_loopback(jack_server, _noise(2, jack_server.rate // 4))  # 250 ms
        if not rec.xruns:
            break
    else:
        pytest.fail(f"the JACK server had xruns during each of {TAKES} takes; the machine cannot keep up")
    assert calls > 0
    lag, aligned = align(player.signal, rec.captured)
    np.testing.assert_array_equal(aligned, player.signal)
    assert rec.first_frame + lag - player.start_frame == BLOCK


def _sounddevice_loopback(jack_server, signal: np.ndarray) -> tuple[Recorder, Player, int]:
    """``signal`` played through a sounddevice stream that copies its input to its output, captured."""
    import sounddevice as sd

    calls = np.zeros(1, dtype=np.int64)

    def callback(indata, outdata, frames, time_info, status):
        outdata[:] = indata
        calls[0] += 1

    with (Recorder("rec", 2, frames=signal.shape[1] + 8 * BLOCK) as rec,
          Player("play", signal) as player,
          sd.Stream(device=jack_device(), samplerate=jack_server.rate, blocksize=BLOCK, channels=2,
                    dtype="float32", callback=callback) as stream):
        pa_in = find_ports("PortAudio", is_input=True)
        pa_out = find_ports("PortAudio", is_output=True)
        assert len(pa_in) == len(pa_out) == 2, (pa_in, pa_out)
        assert disconnect_system("PortAudio") == 4  # PortAudio auto-connected to system:*
        for src, dst in [*zip(player.outputs, pa_in), *zip(pa_out, rec.inputs)]:
            jack_server.connect(src, dst)
        rec.start()
        player.play(wait=True)
        rec.wait()
        assert stream.active
    return rec, player, int(calls[0])


def test_a_killed_server_is_detected_without_crashing(jack_server):
    # Killing a server PortAudio is attached to poisons PortAudio for the process, so in a child.
    child = run_python("""
        import json, os, time
        from jack_harness import JackServer, Recorder, jack_device
        server = JackServer().start()
        import sounddevice as sd
        calls = [0]
        finished = []
        def callback(indata, outdata, frames, time_info, status):
            outdata[:] = indata
            calls[0] += 1
        stream = sd.Stream(device=jack_device(), samplerate=server.rate, blocksize=128, channels=2,
                           dtype="float32", callback=callback, finished_callback=lambda: finished.append(True))
        stream.start()
        watcher = Recorder("watcher", 1)
        deadline = time.monotonic() + 5
        while calls[0] < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        before = calls[0]
        server.kill()
        deadline = time.monotonic() + 5
        while (stream.active or not watcher.server_lost) and time.monotonic() < deadline:
            time.sleep(0.005)
        seen = calls[0]
        time.sleep(0.1)
        watcher.close()
        print(json.dumps({"before": before, "active": stream.active, "lost": watcher.shutdown_reason,
                          "stalled": calls[0] == seen, "env": os.environ.get("JACK_DEFAULT_SERVER"),
                          "server_running": server.running}))
    """, server=jack_server, timeout=30)
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["before"] >= 10
    assert report["active"] is False
    assert report["lost"]  # JACK-Client's shutdown callback: "JACK server has been closed"
    assert report["stalled"]
    assert report["server_running"] is False
    assert report["env"] == jack_server.name  # the previous server is current again


def test_stopping_a_server_with_a_stream_still_open_exits_cleanly():
    child = run_python("""
        import time
        from jack_harness import JackServer, jack_device
        with JackServer(period=64) as server:
            import sounddevice as sd
            stream = sd.Stream(device=jack_device(), samplerate=server.rate, blocksize=64, channels=2, dtype="float32",
                               callback=lambda i, o, f, t, s: o.fill(0))
            stream.start()
            time.sleep(0.05)
            assert stream.active
        print("stopped", server.running)
    """, timeout=30)
    assert child.returncode == 0, child.stderr[-2000:]  # 134 = the pa_jack.c assertion at exit
    assert child.stdout.split() == ["stopped", "False"]


def test_a_nested_server_is_current_until_stopped(jack_server):
    import sounddevice as sd

    with JackServer(rate=44100, period=256, inputs=1, outputs=1) as inner:
        device = sd.query_devices(jack_device())
        assert (device["default_samplerate"], device["max_input_channels"], device["max_output_channels"]) == (
            44100, 1, 1)
        assert find_ports("system", is_output=True) == ["system:capture_1"]
        assert inner.name != jack_server.name
    device = sd.query_devices(jack_device())
    assert (device["default_samplerate"], device["max_output_channels"]) == (48000, 2)
    assert find_ports("system", is_output=True) == ["system:capture_1", "system:capture_2"]


def test_the_factory_makes_servers_with_custom_settings(jack_server_factory):
    server = jack_server_factory(rate=96000, period=64, inputs=4, outputs=6)
    assert server.running
    assert len(find_ports("system", is_output=True)) == 4  # capture ports are outputs of "system"
    assert len(find_ports("system", is_input=True)) == 6
    with Recorder("short", 1, frames=960) as rec:
        start = time.monotonic()
        rec.start()
        rec.wait()
        assert rec.captured.shape == (1, 960)
        assert time.monotonic() - start < 1.0


def test_closing_clients_while_other_threads_keep_the_gil_busy_never_hangs_the_process():
    # JACK ends a closing client's threads with pthread_cancel. Before the harness parked them first, a
    # thread cancelled while it waited for the GIL (here two busy threads, in the tests an engine's audio
    # callback) took the GIL's mutex with it, and the whole process hung: a CI run stopped in a take.
    # Before the fix this child hung within its first two closes; after it, every round ends.
    child = run_python("""
        import threading, time
        import numpy as np
        from jack_harness import JackServer, Player, Recorder
        server = JackServer(portaudio=False).start()
        busy = True
        def spin():
            while busy:
                sum(range(20000))
        for _ in range(2):
            threading.Thread(target=spin, daemon=True).start()
        for round in range(8):
            with Recorder("capture", 2, frames=4800) as recorder, Player("source", np.zeros((2, 4800), np.float32)):
                recorder.start()
                time.sleep(0.01)
        busy = False
        server.stop()
        print("rounds", round + 1, "xruns", recorder.xruns)
    """, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert "rounds 8" in child.stdout


def test_xruns_are_counted_per_late_cycle_from_the_log_leaving_out_the_cycles_while_a_client_closed(tmp_path):
    # The parsing alone, on the server's own wording (a unit test: the real log feeds every JACK test's
    # clean-take check). Cycle 1: PortAudio and "source" late; cycle 2: the recorder after it, while
    # "source" closed; the server's own thread late once; cycle 3: "source" again, after it closed.
    server = JackServer()
    server.log_path = tmp_path / "jackd.log"
    lines = [b"JACK server starting in realtime mode with priority 10\n",
             b"JackAudioDriver::ProcessGraphAsyncMaster: Process error\n",  # alone: not an xrun
             b"JackEngine::XRun: client = PortAudio was not finished, state = Running\n",
             b"JackEngine::XRun: client = source was not finished, state = Triggered\n",
             b"JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"]
    closing_from = sum(map(len, lines))
    lines += [b"JackEngine::XRun: client = capture was not finished, state = Triggered\n",
              b"JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"]
    closing_to = sum(map(len, lines))
    lines += [b"JackTimedDriver::Process XRun = 10 usec\n",
              b"JackEngine::XRun: client = source was not finished, state = Running\n",
              b"JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"]
    server.log_path.write_bytes(b"".join(lines))
    assert server.xruns_since(0) == 4
    server._closing.append((closing_from, closing_to))
    assert server.xruns_since(0) == 3
    assert server.xruns_since(closing_to) == 2
    assert server.xruns_since(0, closing_from) == 1
