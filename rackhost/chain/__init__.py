"""The model and the engines: plug-ins, chains, tracks, busses and sends, the master bus, the block engine, render.

Nothing here imports ``rackhost.live``, ``rackhost.presets``, ``rackhost.gui`` or the CLI (tests/test_import_rules.py).
"""

from rackhost.chain import plugin as _plugin
from rackhost.chain.bus import Bus, Send
from rackhost.chain.chain import Chain, ChainProcessor, Slot
from rackhost.chain.discovery.guard import check_probed as _check_probed
from rackhost.chain.loudness import LoudnessReport, measure
from rackhost.chain.master import LoudnessTarget, MasterBus
from rackhost.chain.mixer import MixSnapshot
from rackhost.chain.parameters import ParameterInfo
from rackhost.chain.plugin import MissingPlugin, Plugin, PluginIdentity
from rackhost.chain.render import RenderResult, render, render_to_file
from rackhost.chain.session import Session
from rackhost.chain.split import Branch, Split
from rackhost.chain.source import ArraySource, AudioFileSource
from rackhost.chain.track import Track

# Every external load is probed in a child first. The guard is handed to plugin.py, not imported there:
# the probe child it starts describes bundles with plugin.py.
_plugin.set_load_guard(_check_probed)

__all__ = [
    "ArraySource", "AudioFileSource", "Branch", "Bus", "Chain", "ChainProcessor", "LoudnessReport", "LoudnessTarget", "MasterBus",
    "MissingPlugin", "MixSnapshot", "ParameterInfo", "Plugin", "PluginIdentity", "RenderResult", "Send", "Session", "Slot", "Split",
    "Track", "measure", "render", "render_to_file",
]
