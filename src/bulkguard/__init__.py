"""bulkguard: stop automated bulk messaging from platform metadata."""

__version__ = "0.1.0"
