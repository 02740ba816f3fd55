"""Audio settings: host API, input and output device, sample rate and block size; Apply restarts the engine.

The choices come from :mod:`rackhost.live.devices` (what PortAudio offers,
as ``rackhost devices`` lists them). Apply checks the configuration with
PortAudio first (:func:`~rackhost.live.devices.resolve_config`); a refusal
is shown in the window, naming the device and what it supports, and the
running engine is left alone. Without any audio device the window says so:
offline work does not need one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from rackhost.live import devices
from rackhost.live.devices import AudioDevice, DeviceConfig
from rackhost.errors import AudioDeviceError
from rackhost.gui.background import poll_while_visible
from rackhost.gui.dialogs import DialogView, centre
from rackhost.gui.theme import CLIP, METER, MUTED

if TYPE_CHECKING:
    from rackhost.gui.host import SettingsHost

WIDTH, HEIGHT = 640, 280
NO_DEVICE_HEIGHT = 220
ERROR_HEIGHT = 360
BLOCK_SIZES = [2 ** k for k in range(5, 13)]  # 32 .. 4096 frames
DEFAULT_BLOCK_SIZE = 128
NO_INPUT = "(none)"


class SettingsDialog(DialogView):
    """A modal window over the device list; holds nothing but the ids of its widgets and that list."""

    TITLE = "Audio settings"

    def __init__(self, app: SettingsHost):
        self.app = app
        self.applied: DeviceConfig | None = None
        self._list()
        with dpg.window(label=self.TITLE, modal=True, width=WIDTH, height=HEIGHT, no_collapse=True,
                        on_close=lambda *_: self.close()) as self.window:
            if self.devices:
                self._build_choices()
            else:
                self._build_no_device()
            dpg.add_separator()
            self.engine = dpg.add_text("", color=MUTED, wrap=WIDTH - 30)
        poll_while_visible(self.window, self.poll)
        centre(self.window, WIDTH, HEIGHT if self.devices else NO_DEVICE_HEIGHT)

    def _list(self) -> None:
        self.problem = ""
        try:
            self.apis = [api for api in devices.list_hostapis() if api.devices]
            self.devices = devices.list_devices()
        except AudioDeviceError as err:
            self.apis, self.devices, self.problem = [], [], str(err)

    # -- building -----------------------------------------------------------------------

    def _build_no_device(self) -> None:
        dpg.add_text("No audio device", color=CLIP)
        dpg.add_text(self.problem or devices.NO_DEVICE_HINT, wrap=WIDTH - 30)
        dpg.add_text("Everything offline still works: chains, presets, rendering to a file.", color=MUTED,
                     wrap=WIDTH - 30)
        with dpg.group(horizontal=True):
            dpg.add_button(label="Look again", width=110, callback=lambda *_: self.rescan())
            dpg.add_button(label="Close", width=110, callback=lambda *_: self.close())
        self.status = dpg.add_text("", wrap=WIDTH - 30)

    def _build_choices(self) -> None:
        session = self.app.session
        default_out = next((d for d in self.devices if d.is_default_output), None)
        api_names = [api.name for api in self.apis]
        api = default_out.hostapi if default_out and default_out.hostapi in api_names else api_names[0]
        block = session.block_size if session.block_size in BLOCK_SIZES else DEFAULT_BLOCK_SIZE
        with dpg.table(header_row=False, policy=dpg.mvTable_SizingFixedFit):
            dpg.add_table_column(width_fixed=True, init_width_or_weight=110)
            dpg.add_table_column(width_stretch=True)
            with dpg.table_row():
                dpg.add_text("Host API")
                self.hostapi = dpg.add_combo(api_names, default_value=api, width=-1,
                                             callback=lambda *_: self._hostapi_chosen())
            with dpg.table_row():
                dpg.add_text("Output")
                self.output = dpg.add_combo([], width=-1, callback=lambda *_: self._output_chosen())
            with dpg.table_row():
                dpg.add_text("Input")
                self.input = dpg.add_combo([], width=-1)
            with dpg.table_row():
                dpg.add_text("Sample rate")
                self.rate = dpg.add_combo([], width=160, callback=lambda *_: self._explain())
            with dpg.table_row():
                dpg.add_text("Block size")
                self.block = dpg.add_combo([str(b) for b in BLOCK_SIZES], default_value=str(block), width=160,
                                           callback=lambda *_: self._explain())
        self.detail = dpg.add_text("", color=MUTED, wrap=WIDTH - 30)
        with dpg.group(horizontal=True):
            dpg.add_button(label="Apply", width=110, callback=lambda *_: self.apply())
            dpg.add_button(label="Close", width=110, callback=lambda *_: self.close())
        self.status = dpg.add_text("", wrap=WIDTH - 30)
        self._hostapi_chosen()

    # -- choices ------------------------------------------------------------------------

    def _in_api(self, kind: str) -> list[AudioDevice]:
        api = dpg.get_value(self.hostapi)
        channels = "max_input_channels" if kind == "input" else "max_output_channels"
        return [d for d in self.devices if d.hostapi == api and getattr(d, channels) > 0]

    @staticmethod
    def _label(device: AudioDevice, kind: str) -> str:
        channels = device.max_input_channels if kind == "input" else device.max_output_channels
        return f"{device.index}: {device.name} ({channels} {'in' if kind == 'input' else 'out'})"

    def _hostapi_chosen(self) -> None:
        outputs, inputs = self._in_api("output"), self._in_api("input")
        out_labels = [self._label(d, "output") for d in outputs]
        in_labels = [NO_INPUT] + [self._label(d, "input") for d in inputs]
        out_default = next((d for d in outputs if d.is_default_output), outputs[0] if outputs else None)
        in_default = next((d for d in inputs if d.is_default_input), inputs[0] if inputs else None)
        dpg.configure_item(self.output, items=out_labels)
        dpg.set_value(self.output, self._label(out_default, "output") if out_default else "")
        dpg.configure_item(self.input, items=in_labels)
        dpg.set_value(self.input, self._label(in_default, "input") if in_default else NO_INPUT)
        self._output_chosen()

    def _output_chosen(self) -> None:
        device = self._device(self.output)
        rates = devices.supported_rates(device, "output") if device else []
        labels = [str(r) for r in rates]
        dpg.configure_item(self.rate, items=labels)
        current = str(self.app.session.sample_rate)
        if device is not None and current not in labels:
            current = labels[0] if labels else str(int(device.default_samplerate))
        dpg.set_value(self.rate, current)
        self._explain()

    def _explain(self) -> None:
        device = self._device(self.output)
        try:
            rate, block = int(dpg.get_value(self.rate)), int(dpg.get_value(self.block))
        except ValueError:
            dpg.set_value(self.detail, "")
            return
        text = f"{block} frames = {1000 * block / rate:.1f} ms per block at {rate} Hz"
        if device is not None:
            text = f"{device.describe()}\n{text}"
            if device.hostapi == devices.JACK_HOSTAPI:
                text += "; a JACK device runs at the server's rate"
        dpg.set_value(self.detail, text)

    def _device(self, combo: int) -> AudioDevice | None:
        label = dpg.get_value(combo)
        if not label or label == NO_INPUT:
            return None
        index = int(label.split(":", 1)[0])
        return next((d for d in self.devices if d.index == index), None)

    # -- applying -----------------------------------------------------------------------

    def apply(self) -> DeviceConfig | None:
        """Check the configuration with PortAudio; if it is accepted, restart the engine with it."""
        output, input_ = self._device(self.output), self._device(self.input)
        try:
            rate, block = int(dpg.get_value(self.rate)), int(dpg.get_value(self.block))
            if block not in BLOCK_SIZES:
                raise ValueError(f"block size {block} is not one of {', '.join(map(str, BLOCK_SIZES))}")
            if output is None:
                raise AudioDeviceError("choose an output device")
            config = devices.resolve_config(
                input_device=None if input_ is None else input_.index, output_device=output.index,
                sample_rate=rate, block_size=block, input_channels=0 if input_ is None else None)
        except (AudioDeviceError, ValueError) as err:
            self._say(str(err), CLIP)
            # A refusal names the device and what it supports: room for a few lines of it.
            dpg.configure_item(self.window, height=max(dpg.get_item_height(self.window) or 0, ERROR_HEIGHT))
            return None
        self.applied = config
        self.app.restart_engine(device=(config.input_device, config.output_device), block_size=config.block_size,
                                sample_rate=config.sample_rate, input_channels=0 if input_ is None else None)
        where = output.name if input_ is None else f"{input_.name} -> {output.name}"
        self._say(f"applied: {where}, {config.sample_rate} Hz, block {config.block_size}; "
                  f"restarting the engine", METER)
        return config

    def rescan(self) -> None:
        """Ask PortAudio to look again (an audio server started since), then rebuild the window."""
        if any(d.hostapi == devices.JACK_HOSTAPI for d in self.devices):
            return  # never terminate PortAudio under a JACK server it may have lost (it aborts)
        try:
            devices.rescan()
        except AudioDeviceError as err:
            self._say(str(err), CLIP)
            return
        self.close()
        SettingsDialog(self.app)

    def poll(self) -> None:
        dpg.set_value(self.engine, self.app.engine_state)  # a sentence naming the engine: no prefix


