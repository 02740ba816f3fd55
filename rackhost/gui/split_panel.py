"""A split slot's branches in a window of its own: each branch's level and plug-ins, all editable.

A click on a split's name in a strip opens it. Each branch shows its level (a
drag is one undo step), its plug-ins as a strip shows its slots (bypass box,
name: its parameter panel, or for a split inside the branch its own window;
^ v x), a ``+ plug-in`` button that adds to that branch, and an ``x`` that
removes the branch; ``+ branch`` adds a dry one. A plug-in's name drags as a
strip's slot does (the same payload): dropped on another plug-in it goes before
that one, on a branch's ``+ plug-in`` last in that branch, on a strip's slot or
``+ plug-in`` into that chain; a strip's slot dropped here comes in the same way. Every change goes through the
host (the window), which makes it through the session's undoable editor and
tells the engine: a structural edit as a new session document (the engine keeps
its plug-in instances), a value as a small command naming the slot's path.

The panel holds its split, not its place: after an edit elsewhere it finds the
split again (it may have moved), and closes once the split is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dearpygui.dearpygui as dpg

from rackhost.chain.split import MAX_BRANCH_LEVEL_DB, Split
from rackhost.gui.dialogs import centre
from rackhost.gui.drops import DropTargets
from rackhost.gui.fader import alt_held
from rackhost.gui.scale import px
from rackhost.gui.strip import SLOT_PAYLOAD
from rackhost.gui.theme import MUTED

if TYPE_CHECKING:
    from rackhost.gui.host import SplitPanelHost

WIDTH, HEIGHT = 420, 440
BRANCH_FLOOR_DB = -60.0  # the level control's lowest stop (a silent branch shows here)


class BranchRows:
    """The widgets of one branch: its level, its remove button, each plug-in's row, its + plug-in button."""

    def __init__(self) -> None:
        self.level = self.remove = self.add_plugin = 0
        self.bypass: list[int] = []  # per slot of the branch
        self.names: list[int] = []
        self.up: list[int] = []
        self.down: list[int] = []
        self.delete: list[int] = []


class SplitPanel:
    def __init__(self, app: SplitPanelHost, track: Any, split: Split):
        """``track``: the strip's key (a track's index, a ``BusRow``, None: the master); ``split``: the split."""
        self.app = app
        self.track = track
        self.split = split
        self.branches: list[BranchRows] = []
        self.add_branch = 0
        self.drops = DropTargets()  # its plug-ins dragged, and where a drop on each target puts one
        self.path: tuple[int, ...] = tuple(app.path_of(track, split) or ())
        with dpg.window(label=self._title(), width=WIDTH, height=HEIGHT, no_collapse=True,
                        on_close=lambda: self.close()) as self.window:
            with dpg.child_window(border=False) as self.body:
                pass
        centre(self.window, WIDTH, HEIGHT)
        self._draw()

    def _title(self) -> str:
        where = "master" if self.track is None else self.app.owner(self.track).name
        return f"{where}: {self.split.name} (parallel branches)"

    # -- drawing ---------------------------------------------------------------------------

    def _draw(self) -> None:
        app, track, path = self.app, self.track, self.path
        dpg.delete_item(self.body, children_only=True)
        self.branches = []
        self.drops.clear()
        dpg.add_text("Each branch hears the split's input; their outputs are summed at their levels, latency-aligned. "
                     "An empty branch is the dry path.", parent=self.body, color=MUTED, wrap=px(WIDTH - 30))
        for k, branch in enumerate(self.split.branches):
            rows = BranchRows()
            with dpg.group(parent=self.body):
                dpg.add_separator()
                with dpg.group(horizontal=True):
                    dpg.add_text(f"branch {k + 1}")
                    rows.level = dpg.add_drag_float(default_value=max(branch.level_db, BRANCH_FLOOR_DB),
                                                    min_value=BRANCH_FLOOR_DB, max_value=MAX_BRANCH_LEVEL_DB,
                                                    speed=0.1, width=px(90), format="%.1f dB", user_data=k,
                                                    no_input=True,  # a double-click resets: it must not type
                                                    callback=lambda s, v, b: app.set_branch_level(track, path, b, v))
                    rows.remove = dpg.add_button(label="x", width=px(18), user_data=k,
                                                 callback=lambda s, a, b: app.remove_branch(track, path, b))
                    with dpg.tooltip(rows.remove):
                        dpg.add_text("remove this branch and its plug-ins (a split keeps two at least)")
                with dpg.item_handler_registry() as handlers:
                    dpg.add_item_deactivated_after_edit_handler(callback=lambda *_: app.session.history.seal())
                    dpg.add_item_double_clicked_handler(user_data=k, callback=lambda s, a, b: self._reset_level(b))
                dpg.bind_item_handler_registry(rows.level, handlers)
                if not len(branch.chain):
                    dpg.add_text("dry: the input as it comes", indent=px(24), color=MUTED)
                for j, slot in enumerate(branch.chain):
                    self._slot_row(rows, (*path, k, j), slot)
                rows.add_plugin = dpg.add_button(label="+ plug-in", indent=px(24), width=-1, user_data=k,
                                                 callback=lambda s, a, b: app.open_browser(track, into=(*path, b)),
                                                 payload_type=SLOT_PAYLOAD,
                                                 drop_callback=self._drop_at((*path, k, len(branch.chain))))
                self.drops.target(rows.add_plugin, f"last in branch {k + 1} of {self.split.name}")
                with dpg.tooltip(rows.add_plugin):
                    dpg.add_text(f"click: add a plug-in to branch {k + 1}; drop a plug-in here (from this window "
                                 f"or a strip): it goes last in this branch")
            self.branches.append(rows)
        dpg.add_separator(parent=self.body)
        self.add_branch = dpg.add_button(label="+ branch", width=-1, parent=self.body,
                                         callback=lambda: app.add_branch(track, path))

    def _slot_row(self, rows: BranchRows, place: tuple[int, ...], slot: Any) -> None:
        app, track = self.app, self.track
        nested = isinstance(slot, Split)
        with dpg.group(horizontal=True, indent=px(24)):
            rows.bypass.append(dpg.add_checkbox(default_value=not slot.bypass, user_data=place,
                                                callback=lambda s, v, p: app.set_bypass(track, p, not v)))
            label = f"{slot.name} (split)" if nested else slot.name
            # Dear PyGui counts a callback's parameters to pass it (sender, app_data, user_data): no defaults.
            if nested:
                opens = lambda s, a, p: app.open_split(track, p)  # noqa: E731
            else:
                opens = lambda s, a, p: app.open_panel(track, p)  # noqa: E731
            name = dpg.add_button(label=label, width=px(WIDTH - 170), user_data=place, callback=opens,
                                  payload_type=SLOT_PAYLOAD,
                                  drop_callback=self._drop_at(place))
            self.drops.draggable(name, SLOT_PAYLOAD, (track, place),
                                 f"{label}: drop on a plug-in to put it before that one, on a branch's + plug-in "
                                 f"to put it last there, on a strip's slot or + plug-in to put it in that chain "
                                 f"(Alt: a copy)")
            self.drops.target(name, f"before {label} in branch {place[-2] + 1} of {self.split.name}")
            rows.names.append(name)
            rows.up.append(dpg.add_button(label="^", width=px(14), user_data=place,
                                          callback=lambda s, a, p: app.move_slot(track, p, -1)))
            rows.down.append(dpg.add_button(label="v", width=px(14), user_data=place,
                                            callback=lambda s, a, p: app.move_slot(track, p, 1)))
            rows.delete.append(dpg.add_button(label="x", width=px(14), user_data=place,
                                              callback=lambda s, a, p: app.remove_slot(track, p)))

    def _drop_at(self, place: tuple[int, ...]) -> Any:
        """A drop callback putting what is dropped at ``place`` (Dear PyGui hands a drop callback no user_data)."""
        return lambda sender, dragged: self._dropped(dragged, place)

    def _dropped(self, dragged: tuple[Any, Any], place: tuple[int, ...]) -> None:
        """A slot (from this window, another split's or a strip) dropped at ``place``: before the slot there,
        or a branch's length (last in it). It moves (one undo step); Alt held: a copy."""
        from_track, from_index = dragged
        self.app.drop_slot(from_track, from_index, self.track, place, copy=alt_held())

    def _reset_level(self, branch: int) -> None:
        """Double-click on a branch's level: 0 dB, as it comes out, one undo step."""
        self.app.session.history.seal()
        self.app.set_branch_level(self.track, self.path, branch, 0.0)
        self.app.session.history.seal()
        self.refresh()
        dpg.set_value(self.branches[branch].level, 0.0)  # refresh() leaves a control the pointer holds

    # -- keeping up ------------------------------------------------------------------------

    def rebuild(self) -> None:
        """After a structural edit (here or anywhere): find the split again and redraw; close if it is gone."""
        if not self.alive:
            return
        path = self.app.path_of(self.track, self.split)
        if path is None:
            self.close()
            return
        self.path = tuple(path)
        dpg.configure_item(self.window, label=self._title())
        self._draw()

    def refresh(self) -> None:
        """Show the model's values (undo of a level drag, a controller)."""
        if not self.alive:
            return
        for rows, branch in zip(self.branches, self.split.branches):
            if not dpg.is_item_active(rows.level):
                dpg.set_value(rows.level, max(branch.level_db, BRANCH_FLOOR_DB))
            for box, slot in zip(rows.bypass, branch.chain):
                dpg.set_value(box, not slot.bypass)

    @property
    def alive(self) -> bool:
        return dpg.does_item_exist(self.window)

    def close(self) -> None:
        if self.alive:
            dpg.delete_item(self.window)
