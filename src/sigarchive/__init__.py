"""sigarchive: a long-term archive for electronically signed documents."""

__version__ = "0.1.0"
