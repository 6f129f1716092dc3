"""archive plugin (in progress)."""
