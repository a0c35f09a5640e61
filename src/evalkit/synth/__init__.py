"""The synthetic county: realistic structure, known true effects (see synthetic-county.md)."""

from evalkit.synth.generate import FAULTS_FILE, SCALES, TRUTH_FILE, SynthResult, generate_county

__all__ = ["FAULTS_FILE", "SCALES", "TRUTH_FILE", "SynthResult", "generate_county"]
