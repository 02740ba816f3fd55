"""Files people keep: presets and sessions, versioned (:mod:`rackhost.versions`) and saved atomically.

Depends on ``rackhost.chain``; never on ``rackhost.gui``.
"""

from rackhost.presets.session_file import SessionFileError, load_session, save_session, session_to_dict

__all__ = ["SessionFileError", "load_session", "save_session", "session_to_dict"]
