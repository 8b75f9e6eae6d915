"""pulseboard: a real-time streaming monitor of Guizhou's freight and sector economy."""

__version__ = "0.1.0"
