"""evalkit.synth."""
