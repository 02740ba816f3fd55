"""The live engine: the session's chains run in an audio callback, monitored, metered and recorded.

:class:`LiveEngine` runs in the process that creates it (``rackhost live``
does); :class:`EngineProcess` runs one in a child process of its own, which
is what a GUI uses (see the module docs for why).
"""

from rackhost.live.engine import EngineStats, LiveEngine, LiveEngineError

__all__ = ["EngineStats", "LiveEngine", "LiveEngineError"]
