"""The render dialog's Keep gain: the gain a targeted render found goes into the master only on the user's word."""

from __future__ import annotations

import dearpygui.dearpygui as dpg
import numpy as np
import pytest

from conftest import SR, program_signal
from rackhost.chain import Session, render
from rackhost.gui.app import RackApp
from rackhost.gui.render_dialog import RenderDialog
from rackhost.presets import save_session


@pytest.fixture
def app(tmp_path, wav_file):
    """A saved one-track session with a limiter on the master, in the rack's widgets, without a window."""
    session = Session(sample_rate=SR, block_size=256)
    session.add_track("mix", wav_file(program_signal(2, 3.0), "mix.wav"))
    session.master.chain.add("BrickwallLimiter", true_peak=True)
    save_session(session, tmp_path / "song.json")
    rack = RackApp(session, tmp_path / "song.json", start_engine=False)
    dpg.create_context()
    try:
        rack.build()
        yield rack
    finally:
        dpg.destroy_context()


def _press(item: int) -> None:
    dpg.get_item_callback(item)(item, None, None)


def _render_to_target(dialog: RenderDialog, path, lufs: float) -> None:
    dpg.set_value(dialog.path, str(path))
    dpg.set_value(dialog.use_target, True)
    dpg.set_value(dialog.lufs, lufs)
    _press(dialog.render_button)
    assert dialog.task is not None and dialog.task.wait(180)
    dialog.poll()


def test_keep_gain_puts_the_found_gain_before_the_limiter_as_one_undo_step(app, tmp_path):
    dialog = RenderDialog(app)
    assert not dpg.get_item_configuration(dialog.keep_button)["enabled"]
    _render_to_target(dialog, tmp_path / "master.wav", -12.0)
    master = app.session.master
    gain, limiter = master.chain[0], master.chain[1]
    assert [s.name for s in master.chain] == ["Gain", "BrickwallLimiter"]
    assert gain.plugin.get("gain_db") == 0.0  # the render itself changed nothing
    report = dialog.bounced.result.target_report
    assert dpg.get_item_configuration(dialog.keep_button)["enabled"]
    ceiling = limiter.plugin.get("ceiling_db")
    _press(dialog.keep_button)
    assert gain.plugin.get("gain_db") == pytest.approx(report.gain_db)
    assert limiter.plugin.get("ceiling_db") == pytest.approx(report.ceiling_db)
    assert not dpg.get_item_configuration(dialog.keep_button)["enabled"]
    assert "kept" in dpg.get_value(dialog.status)
    # The rack and a render without the target now give what the targeted render wrote.
    master.loudness_target = None
    np.testing.assert_array_equal(render(app.session).audio, dialog.bounced.result.audio)
    assert app.session.history.labels()[0][-1] == "keep loudness target gain"
    app.undo()
    assert gain.plugin.get("gain_db") == 0.0 and limiter.plugin.get("ceiling_db") == ceiling
