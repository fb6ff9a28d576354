"""The After Effects engine: one Job model behind the CLI, the accsyn app and the Deadline Cloud bundles."""

__version__ = "0.1.0"
