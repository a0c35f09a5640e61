"""The synthetic county: realistic structure, known true effects.

What it must contain is docs/design/synthetic-county.md.
"""

from evalkit.synth.generate import FAULTS_FILE, SCALES, TRUTH_FILE, SynthResult, generate_county

__all__ = ["FAULTS_FILE", "SCALES", "TRUTH_FILE", "SynthResult", "generate_county"]
