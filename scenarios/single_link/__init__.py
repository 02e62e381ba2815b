"""Single-link scenario (arXiv 2507.16680, "semantic alignment over MIMO"): one transmitter and
one receiver with different encoders; a precoder F and a decoder G learned jointly so that
``G(H F x + w) ≈ y`` — the linear ADMM solution (one user of the federated core) against a sparse
complex-valued neural model, with channel-unaware and First-K/Top-K baselines.

Modules: ``complex_nn`` (layers, phase–amplitude activation), ``sparsity`` (hard thresholding,
FLOPs), ``neural`` (the model with the channel in the loop), ``training`` (resumable training),
``linear`` (ADMM with one user), ``unaware`` (channel-unaware baseline), ``data`` (TX/RX latents),
``config`` (validated options), ``points`` (one evaluated point), ``sweep`` (grids, resumable
store, CSV), ``outputs`` (figures, summary), ``cli``.
"""
