"""evalkit.intake."""
