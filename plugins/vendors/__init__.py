"""vendors plugin (in progress)."""
