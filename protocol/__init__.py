"""Shared conventions: packing, whitening, configuration, messages and payload accounting."""
from protocol.accounting import ByteLedger, array_bytes, matrix_bytes, round_message_shapes
from protocol.config import ConfigError, RunConfig, format_validation_error, load_config_file
from protocol.packing import complex_dim, pack, unpack
from protocol.whitening import Whitener, fit_whitener, identity_whitener

__all__ = [
    "ByteLedger", "array_bytes", "matrix_bytes", "round_message_shapes",
    "ConfigError", "RunConfig", "format_validation_error", "load_config_file",
    "complex_dim", "pack", "unpack",
    "Whitener", "fit_whitener", "identity_whitener",
]
