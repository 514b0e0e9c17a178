"""The toolkit's version (one place; manifests, reports and the server record it)."""

__version__ = "0.1.0"
