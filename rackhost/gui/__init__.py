"""The rack: a Dear PyGui window over the engine and the presets.

It holds no state that matters: it reads the session model and the engine's
meters, and every change goes through the session's editor (undo) and, when
the live engine runs, to the engine process as a command.
"""
