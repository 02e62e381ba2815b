r"""The timed kernels of ``python -m benchmarks``: problem data, one engine iteration, flop counts.

Shapes follow DESIGN.md §2: the AP has ``m = d_T/2`` complex features, user k ``p_k = d_k/2``
(zero-padded to ``p`` in the batched engine), ``M = N_T c`` symbols, ``R = N_R c`` received
symbols. Pilots are whitened (``X Xᴴ = n I``) as the engine whitens them, so the closed-form
F-step is the one of the default configuration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ap_server import APState, ap_update, initial_f, start_state
from benchmarks.admm_iteration import Shape as IterationShape
from benchmarks.straightforward import DirectState, DirectUser
from channel import expand_uses, make_generator, noise_variance
from protocol.packing import complex_dim
from scenarios.fused_round import RoundOperands, fused_shared_round
from user_client import g_step, uplink_stats
from user_client.gstep import ryx_gram, uplink_stats_fused

__all__ = ["Shape", "Users", "Stats", "draw_users", "whitened_pilots", "pilot_problem", "stats_problem",
           "engine_iteration", "split_iteration", "unfused_iteration", "iteration_macs", "matmul_shapes", "rel_diff", "to_direct"]


@dataclass(frozen=True)
class Shape(IterationShape):
    """Problem dimensions in real latent dims (the issue's: d_T = 192, d_k ∈ {192, 384, 768});
    ``symbols`` is M = N_T c, ``rx_symbols`` R = N_R c."""

    ap_dim: int = 192

    def describe(self) -> str:
        ps = ",".join(str(complex_dim(d)) for d in self.user_dims)
        return (f"d_T={self.ap_dim} (m={self.m}), d_k cycled over ({','.join(map(str, self.user_dims))}) -> "
                f"p_k=({ps}), N_T={self.tx}, N_R={self.rx}, c={self.uses} (M=R={self.symbols}), "
                f"SNR {self.snr_db:g} dB, rho={self.rho:g}, P_T={self.power:g}")


@dataclass
class Users:
    """K users: block-diagonal channels ``[K, R, M]``, noise variances ``[K]``, complex dims ``p_k``."""

    h: torch.Tensor
    noise_var: torch.Tensor
    dims: list[int]


@dataclass
class Stats:
    """The compact form's once-per-run statistics: ``R_xx`` ``[m, m]``, padded ``R_yx`` ``[K, p, m]``,
    ``T = R_yxᴴ R_yx`` ``[K, m, m]``."""

    rxx: torch.Tensor
    ryx: torch.Tensor
    tyy: torch.Tensor
    operands: RoundOperands | None = field(default=None, repr=False)  # the engine's, built on first use


def _cn(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    z = torch.randn(*shape, 2, dtype=real, generator=gen) / math.sqrt(2)
    return torch.view_as_complex(z).to(device)


def draw_users(k: int, shape: Shape, gen: torch.Generator, dtype=torch.complex64, device=torch.device("cpu")) -> Users:
    h_bar = _cn((k, shape.rx, shape.tx), gen, dtype, device)
    nv = noise_variance([shape.snr_db] * k, shape.power, shape.uses).to(device)
    return Users(h=expand_uses(h_bar, shape.uses), noise_var=nv, dims=[shape.user_p(i) for i in range(k)])


def whitened_pilots(m: int, n: int, gen: torch.Generator, dtype=torch.complex64, device=torch.device("cpu")) -> torch.Tensor:
    """``X`` ``[m, n]`` with ``X Xᴴ = n I`` (random orthonormal rows scaled by √n)."""
    q, _ = torch.linalg.qr(_cn((n, m), gen, dtype, torch.device("cpu")))
    return (math.sqrt(n) * q.mH).contiguous().to(device)


def initial_state(shape: Shape, users: int, gen: torch.Generator, dtype=torch.complex64, device=torch.device("cpu")) -> APState:
    eye = torch.eye(shape.m, dtype=dtype)
    f0 = initial_f("random", shape.symbols, eye, shape.power, gen).to(device)
    return start_state(f0, shape.power, users, shared=True)


def pilot_problem(k: int, n: int, shape: Shape, seed: int, dtype=torch.complex64):
    """Users, whitened ``X`` and each user's own (unpadded) pilots ``Y_k`` ``[p_k, n]``."""
    gen = make_generator(seed, f"bench-pilots-{k}-{n}")
    users = draw_users(k, shape, gen, dtype)
    x = whitened_pilots(shape.m, n, gen, dtype)
    # a user's latents are correlated with the AP's: Y_k = W_k X + noise (values do not change cost)
    ys = [(_cn((pk, shape.m), gen, dtype, x.device) @ x) / math.sqrt(shape.m) + 0.3 * _cn((pk, n), gen, dtype, x.device)
          for pk in users.dims]
    state = initial_state(shape, k, gen, dtype)
    return users, x, ys, state


def compact_stats(x: torch.Tensor, ys: list[torch.Tensor], p: int) -> Stats:
    """The one-off statistics of the compact form from the pilots (what setup costs)."""
    n = x.shape[-1]
    ryx = torch.zeros(len(ys), p, x.shape[0], dtype=x.dtype, device=x.device)
    for k, y in enumerate(ys):
        ryx[k, : y.shape[0]] = y @ x.mH / n
    return Stats(rxx=x @ x.mH / n, ryx=ryx, tyy=ryx_gram(ryx))


def stats_problem(k: int, shape: Shape, seed: int, dtype=torch.complex64, device=torch.device("cpu")):
    """Users and random statistics of the right shapes (no pilots: K = 1000 users' pilots would
    take gigabytes; the cost of a compact round does not depend on them)."""
    gen = make_generator(seed, f"bench-stats-{k}")
    users = draw_users(k, shape, gen, dtype, device)
    ryx = torch.zeros(k, shape.p, shape.m, dtype=dtype, device=device)
    for i, pk in enumerate(users.dims):
        ryx[i, :pk] = _cn((pk, shape.m), gen, dtype, device) / math.sqrt(shape.m)
    stats = Stats(rxx=torch.eye(shape.m, dtype=dtype, device=device), ryx=ryx, tyy=ryx_gram(ryx))
    return users, stats, initial_state(shape, k, gen, dtype, device)


def engine_iteration(state: APState, users: Users, stats: Stats, shape: Shape) -> APState:
    """One iteration as ``scenarios.admm.admm_solve`` runs it: the fused shared round
    (:mod:`scenarios.fused_round`), its operands built once as the engine builds them once per run."""
    if stats.operands is None or stats.operands.h is not users.h:
        stats.operands = RoundOperands.build(users.h, stats.tyy, users.noise_var, stats.rxx)
    return fused_shared_round(state, stats.operands, shape.rho, shape.power)[0]


def split_iteration(state: APState, users: Users, stats: Stats, shape: Shape) -> APState:
    """The same iteration split as the Flower runtime splits it: users' fused G-step and uplink
    (:func:`user_client.gstep.uplink_stats_fused`), then the AP's :func:`ap_server.ap_update`."""
    gram, cross = uplink_stats_fused(state.f, users.h, stats.rxx, stats.tyy, users.noise_var)
    return ap_update(state, gram, cross, shape.rho, shape.power, shared=True)[0]


def unfused_iteration(state: APState, users: Users, stats: Stats, shape: Shape) -> APState:
    """The same iteration through ``g_step`` + ``uplink_stats`` on padded ``R_yx`` (the Flower
    users' path and the engine before the fused form), batched."""
    g = g_step(users.h @ state.f, stats.rxx, stats.ryx, users.noise_var)
    gram, cross = uplink_stats(g, users.h, stats.ryx)
    return ap_update(state, gram, cross, shape.rho, shape.power, shared=True)[0]


def to_direct(state: APState, users: Users, ys: list[torch.Tensor]) -> tuple[DirectState, list[DirectUser]]:
    """The same state and users for :mod:`benchmarks.straightforward`."""
    du = [DirectUser(users.h[k], ys[k], float(users.noise_var[k])) for k in range(len(ys))]
    return DirectState(state.f[0], state.z[0], state.u[0]), du


def matmul_shapes(k: int, shape: Shape) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The matrix products of one engine iteration (shared F, whitened), as (left, right) shapes:
    the roofline set (:func:`scenarios.fused_round.fused_shared_round`)."""
    r, mm, m = shape.rx_symbols, shape.symbols, shape.m
    return [
        ((mm, m), (m, mm)),  # W = F F^H           (once: F is shared)
        ((k, r, mm), (mm, mm)),  # H W
        ((k, r, mm), (k, mm, r)),  # (.) H^H        -> C - sigma^2 I
        ((k, mm, r), (k, r, r)),  # H^H C^-1
        ((k, mm, r), (k, r, mm)),  # (.) H           -> D
        ((mm, m), (k, m, m)),  # P = F T            (the one O(M m^2) product per user)
        ((k * mm, m), (m, mm)),  # P F^H
        ((k, mm, mm), (k, mm, mm)),  # D (P F^H)
        ((k, mm, mm), (k, mm, mm)),  # (.) D         -> A^H A
        ((k, mm, mm), (k, mm, mm)),  # B D
        ((mm, k * mm), (k * mm, m)),  # sum_k (B D)_k P_k
        ((mm, mm), (mm, m)),  # (sum_k B_k) rho (Z - U)
    ]


def iteration_macs(k: int, shape: Shape) -> int:
    """Complex multiply-adds of one engine iteration: its matrix products (``matmul_shapes``)
    plus ~R³ per user for each of the two small Hermitian inverses."""
    total = 0
    for a, b in matmul_shapes(k, shape):
        batch = max(math.prod(a[:-2]), math.prod(b[:-2]))
        total += batch * a[-2] * a[-1] * b[-1]
    return total + k * (shape.rx_symbols ** 3 + shape.symbols ** 3)


def direct_macs(dims: list[int], n: int, shape: Shape) -> int:
    """Complex multiply-adds of one straightforward iteration (n-column messages, per user)."""
    r, mm, m = shape.rx_symbols, shape.symbols, shape.m
    per = 0
    for p in dims:
        per += mm * m * n + r * mm * n  # F X, H (F X)
        per += r * n * r + p * n * r + p * r * r + r ** 3  # S S^H, Y S^H, solve
        per += p * r * mm + mm * p * mm + mm * p * n  # A = G H, A^H A, A^H Y
        per += mm * n * m + mm ** 3 + mm * mm * m  # A^H Y X^H, F-step solve
    return per


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(torch.view_as_real((a - b).resolve_conj()))
                 / torch.linalg.vector_norm(torch.view_as_real(b.resolve_conj())).clamp_min(1e-30))
