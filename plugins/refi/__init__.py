"""refi plugin (in progress)."""
