"""Micro-benchmarks of the math core (not part of the installed package; run from the repo root)."""
