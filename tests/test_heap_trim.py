"""The engine processes give the C heap's freed memory back (rackhost.live.memory.trim_heap)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_trim_heap_gives_back_the_holes_that_dropped_audio_states_leave_in_the_c_heap():
    """As an edit drops an old audio state: many blocks freed between ones still in use. In a process of its own,
    so its heap is only this."""
    script = textwrap.dedent("""
        import numpy as np
        from rackhost.live.memory import trim_heap

        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6

        states = [np.ones(2048, np.float32) for _ in range(40000)]  # 8 KB blocks, 320 MB
        del states[::2]  # every other one freed: holes the heap keeps
        before = rss()
        gave_back = trim_heap()
        print(before, rss(), gave_back)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    before, after, gave_back = float(out[0]), float(out[1]), out[2] == "True"
    assert gave_back
    # Of about 160 MB freed in 8 KB holes, the whole pages inside them go back.
    assert before - after > 50, f"resident {before:.0f} MB before the trim, {after:.0f} MB after"

