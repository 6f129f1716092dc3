"""tables plugin (in progress)."""
