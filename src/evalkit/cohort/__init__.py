"""evalkit.cohort."""
