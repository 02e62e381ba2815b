"""SAM scenario, issue 9's claims: the margin-safe ASC ratio rule, the exact-bit-budget ASC mask
(bit-matched ASI comparison) and fresh training seeds (``--seed-offset``)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from scenarios.sam.asc import AdaptiveMask, budget_mask
from scenarios.sam.selection import choose_ratio_ci, lower_bounds
from tests.conftest import tiny_sam_args


# --- the margin-safe ratio rule (pure function, synthetic numbers) ------------------------------

def test_ci_rule_refuses_a_ratio_whose_mean_is_inside_but_whose_ci_crosses_the_margin():
    per_seed = {
        0.25: [-0.004, -0.002, -0.006, -0.003, -0.005],   # tight, well inside
        0.5: [-0.020, -0.022, -0.018, -0.021, -0.019],    # mean −0.020, tight: lower end ≈ −0.022 → qualifies
        0.625: [-0.026, -0.022, -0.028, -0.023, -0.031],  # mean −0.026 inside, lower end ≈ −0.031 → refused
    }
    ratio, within, lo = choose_ratio_ci(per_seed, 0.03)
    assert (ratio, within) == (0.5, True)
    assert lo[0.625] < -0.03 < sum(per_seed[0.625]) / 5 and lo[0.5] >= -0.03
    # the same numbers under the old mean-only rule would pick 62.5 %
    from scenarios.sam.selection import choose_ratio
    assert choose_ratio({r: sum(v) / len(v) for r, v in per_seed.items()}, 0.03) == (0.625, True)


def test_ci_rule_lower_end_is_the_student_t_bound_and_widens_with_spread():
    from scipy.stats import t

    d = [-0.01, -0.02, -0.03]
    mean, sd = -0.02, 0.01
    assert lower_bounds({0.5: d})[0.5] == pytest.approx(mean - t.ppf(0.975, 2) * sd / math.sqrt(3))
    assert lower_bounds({0.5: [-0.0, -0.04, -0.02]})[0.5] < lower_bounds({0.5: d})[0.5]


def test_ci_rule_flags_when_no_ratio_qualifies_and_never_picks_zero():
    ratio, within, _ = choose_ratio_ci({0.0: [0.0, 0.0], 0.25: [-0.02, -0.05], 0.5: [-0.04, -0.045]}, 0.03)
    assert within is False and ratio == 0.5  # best lower end among ratios > 0, flagged
    with pytest.raises(ValueError):
        choose_ratio_ci({0.0: [0.0, 0.001]}, 0.03)


def test_ci_rule_with_one_seed_uses_the_per_image_ci_and_nan_never_qualifies():
    assert choose_ratio_ci({0.25: [-0.01], 0.5: [-0.02]}, 0.03, {0.25: -0.015, 0.5: -0.035})[:2] == (0.25, True)
    ratio, within, lo = choose_ratio_ci({0.25: [-0.01], 0.5: [-0.02]}, 0.03)   # no per-image CI given
    assert within is False and all(math.isnan(v) for v in lo.values())


# --- exact bit budget: the mask keeps exactly (1 − r) of the (level, block) pairs ----------------

def _nested_p(b: int, levels: int = 4, side: int = 16, block: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(b, levels, side // block, side // block, generator=g)
    s[0, :, 0, 0] = 1.0  # ties: a saturated block (P equal at every level)
    return torch.cumprod(s, 1).repeat_interleave(block, 2).repeat_interleave(block, 3)


@pytest.mark.parametrize("per", ["batch", "image"])
@pytest.mark.parametrize("keep", [0.375, 0.5, 0.75])
def test_budget_mask_keeps_the_exact_count_nested_and_block_constant(per, keep):
    p = _nested_p(6)
    m = budget_mask(p, keep, 4, per)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(m[:, 1:] <= m[:, :-1])                                   # nested: a prefix of levels
    assert torch.equal(m, m[:, :, ::4, ::4].repeat_interleave(4, 2).repeat_interleave(4, 3))  # one depth per block
    pairs = m[:, :, ::4, ::4].flatten(1).sum(1)                             # kept (level, block) pairs per image
    if per == "image":
        assert torch.all(pairs == keep * 64)
    else:
        assert pairs.sum() == keep * 64 * 6 and pairs.std() > 0             # exact total, content-dependent split
    groups = [(p[i], m[i]) for i in range(6)] if per == "image" else [(p, m)]
    for pi, mi in groups:                                                   # the highest-P pairs are the ones kept
        assert pi[mi.bool()].min() >= pi[~mi.bool()].max()


def test_attention_and_uniform_asi_send_the_same_bits_with_the_budget_but_not_necessarily_without():
    from scenarios.sam.asi import segments_onehot
    from scenarios.sam.link import transmit
    from scenarios.sam.model import LamSc
    from scenarios.sam.scenes import make_scenes

    sc = make_scenes(8, seed=3, split="test")
    x = torch.from_numpy(sc.images).permute(0, 3, 1, 2).float() / 255
    masks, valid = segments_onehot(torch.from_numpy(sc.labels.astype("int64")), 6)  # the scenes' objects as segments
    snr = torch.full((8,), 10.0, dtype=torch.float64)
    sent = {}
    for mode in ("threshold", "batch", "image"):
        for asi in ("attention", "uniform"):
            torch.manual_seed({"attention": 0, "uniform": 1}[asi])
            model = LamSc(asi, True, 8, 4, 4)
            with torch.no_grad():  # mask nets with different natural ratios (all kept vs about half at P > ½)
                model.asc.net[-1].bias.copy_(torch.tensor([3.0, 3.0, 3.0, 3.0] if asi == "attention" else [3.0, 3.0, -3.0, -3.0]))
            model.eval()
            model.asc.set_budget(mode, 0.625)
            g = torch.Generator().manual_seed(5)
            with torch.no_grad():
                fwd = model(x, masks, valid, lambda s, k: transmit(s, k, snr, "awgn", g))
            sent[(mode, asi)] = fwd.sent
    for mode in ("batch", "image"):
        assert sent[(mode, "attention")].sum() == sent[(mode, "uniform")].sum() == 0.375 * 4 * 16 * 16 * 8
    assert torch.equal(sent[("image", "attention")], sent[("image", "uniform")])
    assert sent[("threshold", "attention")].sum() != sent[("threshold", "uniform")].sum()  # the old mask: unmatched bits


def test_budget_is_only_used_at_inference_and_rejects_bad_modes():
    net = AdaptiveMask(8, levels=4, block=4).set_budget("image", 0.5)
    z = torch.randn(3, 8, 16, 16)
    m, p = net(z, torch.ones_like(z[:, :1]))                  # training mode: threshold + straight-through
    assert torch.equal(m.detach(), (p > 0.5).float())
    with pytest.raises(ValueError, match="budget"):
        net.set_budget("exact", 0.5)


# --- fresh training seeds --------------------------------------------------------------------

def test_seed_offset_trains_fresh_seeds_whose_checkpoints_do_not_collide(tmp_path):
    from scenarios.sam.config import SamConfig
    from scenarios.sam.plan import phase_a, phase_b

    cfg = SamConfig(seeds=2, seed_offset=5, ratios=(0.25, 0.5))
    assert list(cfg.train_seeds) == [5, 6]
    a5, f5 = phase_a(cfg, 5)
    a6, f6 = phase_a(cfg, 6)
    assert "conventional" in f5 and "conventional" not in f6 and "no-asi" in phase_b(cfg, 5, 0.5)
    old = {j.checkpoint(tmp_path) for k in range(5) for j in phase_a(SamConfig(seeds=5), k)[0]}
    new = {j.checkpoint(tmp_path) for j in a5 + a6}
    assert not old & new and {p.parent.name for p in new} == {"s5", "s6"}
    assert not {j.stream for j in a5 + a6} & {j.stream for k in range(5) for j in phase_a(SamConfig(seeds=5), k)[0]}


def test_tiny_run_with_fresh_seeds_and_the_ci_rule(tmp_path):
    from scenarios.cli import main

    out = tmp_path / "sam"
    assert main(tiny_sam_args(out, "--seed-offset", "3", "--ratios", "0.25,0.5")) == 0
    result = json.loads((out / "results.json").read_text())
    sel = result["checks"]["selection"]
    assert sel["ratio_rule"] == "ci" and sel["asc_budget"] == "batch" and set(sel["val_ssim_diff_lo"]) == {"0.25", "0.5"}
    assert sel["ratio"] in (0.25, 0.5) and result["checks"]["asc"]["ssim_diff"]["n_seeds"] == 2
    assert result["bits"]["lam-sc"] == result["bits"]["uniform-asi"]  # bit-matched ASI comparison
    assert (out / "checkpoints" / "s3" / "base-asi.pt").is_file() and (out / "checkpoints" / "s4" / "no-asc.pt").is_file()
    assert not (out / "checkpoints" / "base-asi.pt").exists()  # seed 0 untouched


def test_importance_prior_moves_levels_to_important_blocks_at_the_same_bits():
    torch.manual_seed(0)
    net = AdaptiveMask(8, levels=4, block=4).eval()
    z = torch.randn(4, 8, 16, 16)
    flat = torch.ones(4, 1, 16, 16)
    skew = flat.clone()
    skew[:, :, :8] = 3.0   # top half of the grid: important segments
    skew[:, :, 8:] = 0.2
    net.set_budget("batch", 0.5)
    plain, _ = net(z, flat)
    net.set_budget("batch", 0.5, prior=1.0)
    same, _ = net(z, flat)                       # uniform importance: the prior changes nothing
    moved, _ = net(z, skew)
    assert torch.equal(plain, same)
    assert moved.sum() == plain.sum() == 0.5 * moved.numel()               # same bits
    assert moved[:, :, :8].sum() > plain[:, :, :8].sum()                    # more levels where importance is high
    assert torch.all(moved[:, 1:] <= moved[:, :-1])                         # still a prefix per block
    with pytest.raises(ValueError, match="prior"):
        net.set_budget("batch", 0.5, prior=-1.0)
