"""transcripts plugin (in progress)."""
