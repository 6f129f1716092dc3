"""report plugin (in progress)."""
