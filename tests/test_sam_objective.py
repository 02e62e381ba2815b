"""The object-weighted training loss and the object-region metrics of the SAM scenario (issue 9, ASI re-test)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from scenarios.sam.metrics import psnr, region_psnr, region_ssim, ssim
from tests.conftest import tiny_sam_args
from scenarios.sam.objective import pixel_weights, weighted_mse


def _pair(seed: int = 0, b: int = 3, h: int = 16):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(b, 3, h, h, generator=g), torch.rand(b, 3, h, h, generator=g)
    obj = torch.rand(b, 1, h, h, generator=g) > 0.6
    return x, y, obj


def test_weight_one_is_exactly_the_plain_mse():
    x, y, obj = _pair()
    plain = torch.nn.functional.mse_loss(y, x)
    assert torch.equal(pixel_weights(obj, 1.0), torch.ones_like(obj, dtype=torch.float32))
    assert weighted_mse(y, x, pixel_weights(obj, 1.0)).item() == pytest.approx(plain.item(), rel=1e-6)
    assert weighted_mse(y, x, None).item() == pytest.approx(plain.item(), rel=1e-7)


def test_object_pixels_weigh_w_times_the_background():
    x = torch.zeros(1, 3, 8, 8)
    obj = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    obj[..., :2, :] = True                                    # 16 object pixels, 48 background pixels
    w = pixel_weights(obj, 4.0)
    assert w[obj[:, :1].expand_as(w)].unique().tolist() == [4.0] and w[~obj].unique().tolist() == [1.0]
    err_obj, err_bg = x.clone(), x.clone()
    err_obj[0, :, 0, 0] = 1.0                                 # the same error on one object pixel …
    err_bg[0, :, 7, 7] = 1.0                                  # … or on one background pixel
    l_obj, l_bg = weighted_mse(err_obj, x, w).item(), weighted_mse(err_bg, x, w).item()
    assert l_obj == pytest.approx(4 * l_bg)
    assert l_bg == pytest.approx(3 / (3 * (4 * 16 + 48)))     # weighted mean: Σ ω e² / Σ ω (over channels too)
    x2, y2, obj2 = _pair(1)                                  # general case against a direct sum
    w2 = pixel_weights(obj2, 4.0)
    e = (y2 - x2) ** 2
    want = (4 * (e * obj2).sum() + (e * ~obj2).sum()) / (3 * (4 * obj2.sum() + (~obj2).sum()))
    assert weighted_mse(y2, x2, w2).item() == pytest.approx(want.item(), rel=1e-6)


def _images(seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = rng.uniform(size=(2, 32, 32, 3))
    region = np.zeros((2, 32, 32), bool)
    region[:, 4:12, 4:14] = True
    return ref, region


def test_region_ssim_is_one_for_identical_images_and_ignores_far_background():
    ref, region = _images()
    assert np.allclose(region_ssim(ref, ref, region), 1.0)
    rec = ref.copy()
    rec[:, 20:, :] = np.random.default_rng(1).uniform(size=rec[:, 20:, :].shape)   # background ≥ 8 px from the region
    assert np.allclose(region_ssim(ref, rec, region), 1.0)
    assert (ssim(ref, rec) < 0.9).all()                                            # the whole-image SSIM does drop
    assert np.allclose(region_psnr(ref, rec, region), 120.0)                       # error-free region (capped MSE)
    rec2 = ref.copy()
    rec2[:, 6:10, 6:10] = 1 - rec2[:, 6:10, 6:10]                                   # damage inside the objects
    assert (region_ssim(ref, rec2, region) < 0.9).all()
    assert (region_psnr(ref, rec2, region) < 20).all()


def test_region_psnr_over_the_full_image_is_the_psnr_and_empty_region_falls_back():
    ref, _ = _images(2)
    rec = np.clip(ref + np.random.default_rng(3).normal(0, 0.1, ref.shape), 0, 1)
    full, empty = np.ones(ref.shape[:3], bool), np.zeros(ref.shape[:3], bool)
    assert np.allclose(region_psnr(ref, rec, full), psnr(ref, rec))
    assert np.allclose(region_psnr(ref, rec, empty), psnr(ref, rec))
    assert np.all(np.isfinite(region_ssim(ref, rec, empty)))


def test_must_hold_judges_asi_inside_the_objects_when_masks_exist():
    from scenarios.sam.checks import must_hold

    rng = np.random.default_rng(0)
    per_image = {}
    for k in range(3):
        for v, shift in (("lam-sc", 0.05), ("uniform-asi", 0.0), ("no-asc", 0.06)):
            base = rng.uniform(0.4, 0.6, 20)
            per_image[(k, v, "awgn", 10.0)] = dict(ssim=base, ssim_obj=0.5 + shift + rng.normal(0, 1e-3, 20),
                                                   psnr_obj=15 + 10 * shift + rng.normal(0, 1e-2, 20))
    chk = must_hold(per_image, {"lam-sc": 8000.0, "no-asc": 16000.0, "uniform-asi": 8000.0})
    asi = chk["asi"]
    assert asi["verdict_object_region"] == "holds" and asi["ssim_obj_diff_vs_uniform"]["mean"] == pytest.approx(0.05, abs=2e-3)
    assert asi["psnr_obj_verdict"] == "holds" and chk["asc_object_region"]["ssim_obj_diff"]["mean"] < 0
    for r in per_image.values():                       # no ground truth (NaN) → no object-region verdict
        r["ssim_obj"] = np.full(20, np.nan)
    chk = must_hold(per_image, {"lam-sc": 8000.0, "no-asc": 16000.0, "uniform-asi": 8000.0})
    assert "verdict_object_region" not in chk["asi"] and chk["asc_object_region"] is None


def test_tiny_run_with_object_weight_writes_object_region_metrics(tmp_path):
    from scenarios.cli import main

    out = tmp_path / "sam"
    small = ("--train-images", "8", "--seeds", "1", "--steps", "1", "--finetune-steps", "1", "--ratios", "0.5")
    assert main(tiny_sam_args(out, *small, "--object-weight", "4", "--asi-steer", "3", "--asi-supervision", "1")) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["config"]["object_weight"] == 4 and result["config"]["asi_steer"] == 3
    assert result["config"]["asi_supervision"] == 1
    asi = result["checks"]["asi"]
    assert math.isfinite(asi["ssim_obj_diff_vs_uniform"]["mean"])  # measured inside the object masks
    assert asi["verdict_object_region"] in {"holds", "does NOT hold", "undecided"}
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert {"ssim_obj", "ssim_obj_ci95", "psnr_obj_db", "psnr_obj_ci95"} <= set(header)
    summary = (out / "summary.md").read_text()
    assert "object-weighted MSE (object pixels × 4" in summary and "ASI steering β = 3" in summary
    assert "human-guided ASI" in summary
    same = ("--object-weight", "4", "--asi-steer", "3", "--asi-supervision", "1")
    for i, other in ((1, "2"), (3, "1"), (5, "0")):                  # another loss, steering or supervision: refused
        changed = list(same)
        changed[i] = other
        assert main(tiny_sam_args(out, *small, *changed)) == 2
    assert main(tiny_sam_args(out, *small, *same)) == 0              # the same settings resume


@pytest.mark.parametrize("extra, needle", [
    (["--object-weight", "0.5"], "field 'object_weight'"),
    (["--asi-steer", "-1"], "field 'asi_steer'"),
    (["--asi-supervision", "-1"], "field 'asi_supervision'"),
    (["--asi-supervision", "1", "--data", "folder", "--data-dir", "/tmp"], "asi_supervision needs ground-truth object masks"),
    (["--object-weight", "4", "--data", "folder", "--data-dir", "/tmp"], "needs ground-truth object masks"),
])
def test_bad_object_weight_exits_2_with_one_line(tmp_path, capsys, extra, needle):
    from scenarios.cli import main

    assert main(["scenario", "sam", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
