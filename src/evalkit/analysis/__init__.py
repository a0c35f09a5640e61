"""evalkit.analysis."""
