"""pulseboard: a real-time streaming monitor of a region's freight and sector economy."""

__version__ = "0.1.0"
