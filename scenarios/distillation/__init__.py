"""DeKA-g scaled down: cloud→edge knowledge alignment for generative semantic communication.

G-KA (MAKD: metaword + G-LoRA) aligns a small edge latent-diffusion model to a larger cloud one;
T-KA (CALA: channel-adaptive rank-1 LoRA mixture) adapts the edge's JSCC codec to the channel.
Source: DeKA-g, arXiv 2506.19893. See docs/distillation.md.
"""
