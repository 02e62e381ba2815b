"""LAM-SC (arXiv 2307.03492): a segment-based semantic knowledge base (SKB), attention-based semantic
integration (ASI) and adaptive semantic compression (ASC) in front of a JSCC autoencoder over the
project's channel. Entry point: ``semalign scenario sam`` (:mod:`scenarios.sam.cli`)."""
