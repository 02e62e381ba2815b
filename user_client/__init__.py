"""The user device: private latent space, G-step, classifier and evaluation."""
from user_client.gstep import g_step, g_step_from_pilots, uplink_stats, uplink_stats_from_pilots

__all__ = ["g_step", "g_step_from_pilots", "uplink_stats", "uplink_stats_from_pilots"]
