"""evalkit.estimation."""
