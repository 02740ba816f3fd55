"""A/B compare: every track and the master keep a second setting of their chain to switch to.

The inactive setting is a whole chain of its own (its own plug-in instances),
so A and B may differ in anything: values, bypass, mix, even which plug-ins.
Switching swaps which chain the owner plays; the engine picks it up with the
next snapshot like any other edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from rackhost.chain.chain import Chain

Setting = Literal["A", "B"]


@dataclass(eq=False)
class ABCompare:
    other: Chain | None = None  # the setting not playing now
    active: Setting = "A"

    @property
    def inactive(self) -> Setting:
        return "B" if self.active == "A" else "A"


class ChainOwner(Protocol):
    chain: Chain
    ab: ABCompare


def copy_to_other(owner: ChainOwner) -> None:
    """Make the inactive setting a copy of the active one (A -> B when A is playing)."""
    owner.ab.other = owner.chain.clone()


def switch(owner: ChainOwner) -> Setting:
    """Play the other setting; the first switch starts B as a copy of A. Returns the setting now playing."""
    if owner.ab.other is None:
        copy_to_other(owner)
    owner.chain, owner.ab.other = owner.ab.other, owner.chain  # type: ignore[assignment]
    owner.ab.active = owner.ab.inactive
    return owner.ab.active
