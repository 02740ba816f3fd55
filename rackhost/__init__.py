"""rackhost: a plug-in host and effects rack for audio engineers."""

__version__ = "0.1.0"
