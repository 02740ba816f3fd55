"""Files people keep: sessions (and, in a later issue, presets), versioned and saved atomically.

Depends on ``rackhost.chain``; never on ``rackhost.gui``.
"""

from rackhost.presets.session_file import SessionFileError, load_session, save_session, session_to_dict

__all__ = ["SessionFileError", "load_session", "save_session", "session_to_dict"]
