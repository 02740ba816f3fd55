""".vstpreset export and import on a real VST3."""

from __future__ import annotations

import pytest

from rackhost.chain import Plugin
from rackhost.presets.preset import PresetError
from rackhost.presets.vstpreset import export_vstpreset, import_vstpreset


def test_exported_vstpreset_loads_back_in_pedalboard(tmp_path):
    source = Plugin.create("ZamCompX2", threshold_db=-27, ratio=6, knee_db=3)
    path = export_vstpreset(source, tmp_path / "comp.vstpreset")
    assert path.read_bytes()[:4] == b"VST3"
    other = Plugin.create("ZamCompX2")
    other.instance.load_preset(str(path))  # what any pedalboard user (or host) would do
    assert float(other.instance.threshold_db) == pytest.approx(source.get("threshold_db"))
    fresh = Plugin.create("ZamCompX2")
    import_vstpreset(fresh, path)
    assert fresh.values() == pytest.approx(source.values())


def test_vstpreset_import_reaches_both_dual_mono_instances(tmp_path):
    source = Plugin.create("ZamComp", threshold_db=-33)
    path = export_vstpreset(source, tmp_path / "c.vstpreset")
    target = Plugin.create("ZamComp")
    target.configure(2, 48000)
    import_vstpreset(target, path)
    expected = source.get("threshold_db")
    assert [float(i.threshold_db) for i in target.instances] == pytest.approx([expected, expected])


def test_vstpreset_errors_are_clear(tmp_path):
    junk = tmp_path / "junk.vstpreset"
    junk.write_bytes(b"RIFFxxxx")
    with pytest.raises(PresetError, match="not a .vstpreset file"):
        import_vstpreset(Plugin.create("ZamCompX2"), junk)
    with pytest.raises(PresetError, match="not a loaded VST3"):
        export_vstpreset(Plugin.create("Compressor"), tmp_path / "x.vstpreset")
