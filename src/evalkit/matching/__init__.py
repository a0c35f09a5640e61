"""evalkit.matching."""
