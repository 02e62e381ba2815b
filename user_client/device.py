"""One user device: its private latent space and its side of every protocol message (DESIGN.md §4).

Transport-free: the Flower ClientApp and the in-process loopback call the same methods.
Nothing private (latents, whitener, classifier, test data) ever appears in a reply.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from channel import (
    add_noise, add_noise_composite, composite_link, expand_uses, make_generator, noise_variance, user_link,
)
from protocol.messages import (
    EvaluateReply, EvaluateRequest, JoinRequest, PilotBroadcast, RoundReply, RoundRequest, RunParameters,
)
from protocol.packing import feature_dim, from_features
from protocol.pilots import select_pilots
from protocol.wire import from_wire, to_wire
from user_client.classifier import Classifier
from user_client.gstep import g_step, g_step_from_pilots, uplink_stats, uplink_stats_from_pilots
from user_client.metric import prepare_user_side

__all__ = ["UserDevice", "PrivateData"]

DTYPES = {"single": torch.complex64, "double": torch.complex128}


@dataclass(frozen=True)
class PrivateData:
    """What only this user holds: its encoder's latents, labels and classifier."""

    encoder: str
    train: np.ndarray  # [N, d_k]
    test: np.ndarray  # [N_te, d_k]
    test_labels: np.ndarray | None
    classifier: Classifier | None


class UserDevice:
    """User k: answers join, pilots, round and evaluate messages."""

    def __init__(self, user_id: int, private: PrivateData, snr_db: float, rx_antennas: int,
                 device: str = "cpu", channels_file=None, users: int | None = None,
                 metric: str = "mse", metric_eps: float = 0.1) -> None:
        self.user_id = user_id
        self.private = private
        self.snr_db = snr_db
        self.rx_antennas = rx_antennas
        self.device = torch.device(device)
        self.channels_file = channels_file
        self.users = users
        self.metric, self.metric_eps = metric, metric_eps  # private: never sent (DESIGN.md §3 User metric)
        self.params: RunParameters | None = None
        self.rxx: torch.Tensor | None = None
        self.ryx: torch.Tensor | None = None

    # -- handshake ---------------------------------------------------------------------------
    def join_request(self) -> JoinRequest:
        return JoinRequest(user_id=self.user_id, latent_dim=int(self.private.train.shape[1]),
                           rx_antennas=self.rx_antennas, snr_db=self.snr_db, device=str(self.device),
                           capabilities=("paper", "compact", "csi", "no-csi", "widely-linear"))

    def configure(self, params: RunParameters) -> None:
        """Encode (here: look up) the pilots, whiten (and apply the private metric), set up the own link."""
        self.params = params
        self.real = params.processing == "widely-linear"  # real features and maps (DESIGN.md §2)
        self.dtype = dtype = DTYPES[params.precision]
        idx = select_pilots(self.private.train.shape[0], params.pilots, params.run_seed)
        n_te = min(params.test_samples, self.private.test.shape[0])
        self.y, self.y_test, self.whitener = prepare_user_side(
            self.private.train[idx], self.private.test[:n_te], params.whiten, dtype, self.device,
            self.private.classifier, self.metric, self.metric_eps, self.user_id, params.processing)
        h_bar, h_est_bar = user_link(self.user_id, self.rx_antennas, params.tx_antennas, params.run_seed,
                                     params.csi_nmse, dtype, self.device, self.channels_file, self.users)
        self.h = expand_uses(h_bar, params.channel_uses)
        self.h_est = expand_uses(h_est_bar, params.channel_uses)
        self.noise_var = noise_variance([self.snr_db], params.power, params.channel_uses).to(self.device)
        if self.real:  # the same link on real and imaginary parts (channel.composite)
            self.h, self.h_est, self.noise_var = composite_link(self.h, self.h_est, self.noise_var)

    def receive_pilots(self, msg: PilotBroadcast) -> None:
        """Compact mode: the AP's whitened pilots ``X`` once → ``R_xx``, ``R_yx`` (O(d²) from now on)."""
        x = from_wire(msg.x, self.dtype, self.device)
        n = x.shape[-1]
        self.rxx = x @ x.mH / n
        self.ryx = (self.y @ x.mH / n).unsqueeze(0)

    # -- rounds ------------------------------------------------------------------------------
    def _h_for(self) -> torch.Tensor:
        return self.h_est.unsqueeze(0)

    def _g(self, payload: np.ndarray) -> torch.Tensor:
        """The G-step on what the AP sent (DESIGN.md §3 step 1)."""
        assert self.params is not None, "configure() first"
        t = from_wire(payload, self.dtype, self.device).unsqueeze(0)
        if self.params.protocol == "compact":
            hf = t if self.params.csi else self.h_est.unsqueeze(0) @ t
            return g_step(hf, self.rxx, self.ryx, self.noise_var)
        s = t if self.params.csi else self.h_est.unsqueeze(0) @ t
        return g_step_from_pilots(s, self.y.unsqueeze(0), self.noise_var)

    def round(self, req: RoundRequest) -> RoundReply:
        """G-step, then the uplink statistics ``A^H A`` and ``A^H R_yx`` / ``A^H Y``."""
        g = self._g(req.payload)
        if self.params.protocol == "compact":
            gram, cross = uplink_stats(g, self._h_for(), self.ryx)
        else:
            gram, cross = uplink_stats_from_pilots(g, self._h_for(), self.y.unsqueeze(0))
        return RoundReply.model_validate(
            {"round": req.round, "user_id": self.user_id, "gram": to_wire(gram[0], self.real),
             "cross": to_wire(cross[0], self.real)}, context={"real": self.real})

    def evaluate(self, req: EvaluateRequest) -> EvaluateReply:
        """Final ``G_k`` for the final ``F``; decode the held-out transmission received over the
        true channel with this user's noise (stream ``eval-noise-k``); report metrics only."""
        g = self._g(req.payload)[0]
        tx = from_wire(req.tx_test, self.dtype, self.device)
        gen = make_generator(self.params.run_seed, f"eval-noise-{self.user_id}", self.device)
        noisy = add_noise_composite if self.real else add_noise
        rx = noisy(self.h @ tx, self.noise_var[0], gen)
        d = int(self.private.train.shape[1])
        y_hat = self.whitener.unwhiten((g @ rx)[: feature_dim(d, self.params.processing)])
        est = from_features(y_hat.T, d, self.params.processing).cpu().double().numpy()
        truth = self.private.test[: est.shape[0]].astype(np.float64)
        err = ((est - truth) ** 2).sum(1)
        spread = ((truth - truth.mean(0)) ** 2).sum(1).mean()
        acc = oracle = None
        if self.private.classifier is not None and self.private.test_labels is not None:
            labels = self.private.test_labels[: est.shape[0]]
            acc = self.private.classifier.accuracy(est, labels)
            oracle = self.private.classifier.accuracy(truth, labels)
        return EvaluateReply(user_id=self.user_id, encoder=self.private.encoder, latent_dim=d,
                             mse=float(err.mean() / d), nmse=float(err.mean() / max(spread, 1e-30)),
                             accuracy=acc, oracle_accuracy=oracle)
