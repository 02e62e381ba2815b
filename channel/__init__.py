"""The wireless channel: Rayleigh block fading, AWGN, channel uses, CSI error, link helpers."""
from channel.composite import (
    add_noise_composite, add_user_noise_composite, composite_link, composite_noise_variance, real_composite,
)
from channel.csi import estimate_channel
from channel.link import all_links, user_link
from channel.fading import PRECISION_DTYPES, draw_channels, draw_user_channel
from channel.given import load_channels
from channel.mimo import lmmse_receiver, svd_precoder
from channel.noise import add_noise, add_user_noise, empirical_snr_db, noise_variance
from channel.rng import make_generator, stream_seed
from channel.uses import expand_uses, symbols_to_uses, uses_to_symbols

__all__ = [
    "estimate_channel", "all_links", "user_link", "PRECISION_DTYPES", "draw_channels", "draw_user_channel", "load_channels",
    "lmmse_receiver", "svd_precoder", "add_noise", "add_user_noise", "empirical_snr_db", "noise_variance",
    "real_composite", "composite_noise_variance", "composite_link", "add_noise_composite", "add_user_noise_composite",
    "make_generator", "stream_seed", "expand_uses", "symbols_to_uses", "uses_to_symbols",
]
