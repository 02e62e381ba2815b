"""The SAM scenario (LAM-SC): ASC mask, SKB interface, SAM checkpoint errors, channel SNR, scenes, local folders, CLI."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from channel.rng import make_generator
from scenarios.sam.asc import AdaptiveMask, mask_ratio_loss, mask_side_bits, nested_mask, random_depth_mask
from scenarios.sam.link import normalise_power, to_symbols, transmit
from scenarios.sam.sam_backend import SamSegmenter, masks_from_sam_records
from scenarios.sam.scenes import make_scenes
from scenarios.sam.segmenter import GroundTruthSegmenter, Segmenter, SegmenterError, SuperpixelSegmenter, make_segmenter
from tests.conftest import tiny_sam_args


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(6, seed=1, split="test")


# --- ASC ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [0.3, 0.7])
def test_asc_mask_has_requested_ratio_on_average_and_is_binary(target):
    torch.manual_seed(0)
    net = AdaptiveMask(4)
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    g = torch.Generator().manual_seed(1)
    for _ in range(80):
        z = torch.randn(16, 4, 8, 8, generator=g)
        mask, _ = net(z, torch.ones_like(z[:, :1]))
        loss = mask_ratio_loss(mask, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        z = torch.randn(64, 4, 8, 8, generator=g)  # unseen features
        mask, p = net(z, torch.ones_like(z[:, :1]))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}  # binary at inference
    assert torch.equal(mask, (p > 0.5).float())
    assert abs((1 - mask).mean().item() - target) < 0.06  # masked fraction = the requested ratio, on average


def test_asc_straight_through_gradient_reaches_the_mask_net():
    net = AdaptiveMask(4)
    z = torch.randn(2, 4, 8, 8)
    mask, _ = net(z, torch.ones_like(z[:, :1]))
    assert set(mask.detach().unique().tolist()) <= {0.0, 1.0}  # forward is binary in training too
    (mask * torch.randn_like(mask)).sum().backward()
    assert net.net[0].weight.grad is not None and net.net[0].weight.grad.abs().sum() > 0


def test_asc_ratio_term_does_not_reach_the_encoder_features():
    net = AdaptiveMask(4)
    z = torch.randn(2, 4, 8, 8, requires_grad=True)
    mask, _ = net(z, torch.ones_like(z[:, :1]))
    mask_ratio_loss(mask, 0.5).backward()
    assert z.grad is None  # the mask net sees sg(z): only the reconstruction shapes the features
    assert net.net[0].weight.grad.abs().sum() > 0  # while the mask net itself learns the ratio


# --- ASC over nested feature levels and blocks ---------------------------------------------------

def _is_prefix(mask):
    """Each position keeps a prefix of the levels: m_l ≥ m_{l+1}."""
    return bool((mask[:, :-1] >= mask[:, 1:]).all())


def test_level_mask_is_nested_block_constant_binary_and_learns_the_ratio():
    torch.manual_seed(0)
    net = AdaptiveMask(8, levels=4, block=4)
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    g = torch.Generator().manual_seed(2)
    for _ in range(80):
        z = torch.randn(16, 8, 16, 16, generator=g)
        mask, _ = net(z, torch.rand(16, 1, 16, 16, generator=g))
        opt.zero_grad()
        mask_ratio_loss(mask, 0.5).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        z = torch.randn(64, 8, 16, 16, generator=g)
        mask, p = net(z, torch.rand(64, 1, 16, 16, generator=g))
    assert mask.shape == (64, 4, 16, 16) and set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(mask, (p > 0.5).float()) and _is_prefix(mask)
    blocks = mask.unfold(2, 4, 4).unfold(3, 4, 4)  # [B, L, 4, 4, 4, 4]: every 4×4 block holds one depth
    assert (blocks == blocks[..., :1, :1]).all()
    assert abs((1 - mask).mean().item() - 0.5) < 0.06  # the requested share of feature values, on average


def test_mask_side_bits_count_one_depth_per_block():
    assert mask_side_bits(16, 1, 1) == 256              # first design: one on/off bit per position
    assert mask_side_bits(16, 4, 4) == 16 * 3           # 16 blocks, depth 0…4 needs 3 bits
    assert mask_side_bits(16, 2, 2) == 64 * 2           # depth 0…2 needs 2 bits
    with pytest.raises(ValueError, match="does not divide"):
        mask_side_bits(16, 4, 3)


def test_random_depth_curriculum_sends_prefixes_at_the_requested_share():
    g = make_generator(0, "test-sam-curriculum")
    m = random_depth_mask(4000, 4, 2, 2, 0.5, g)
    assert _is_prefix(m) and (m == m[..., :1, :1]).all()  # one depth per image
    depth = m[:, :, 0, 0].sum(1)
    assert depth.min() >= 1                             # never an empty image
    # P(full) = 1 − p + p/L = 0.625; E[kept] = (1 − p) + p·(L+1)/(2L) = 0.8125
    assert abs((depth == 4).float().mean().item() - 0.625) < 0.03
    assert abs(m.mean().item() - 0.8125) < 0.02
    assert torch.equal(random_depth_mask(8, 4, 2, 2, 0.0, g), torch.ones(8, 4, 2, 2))


def test_level_mask_sends_exactly_the_kept_maps_at_the_per_symbol_snr():
    g = make_generator(0, "test-sam-levels")
    s = to_symbols(torch.randn(64, 8, 16, 16, generator=g))  # K = 4 complex maps
    depth = torch.randint(0, 3, (64, 1, 16, 16), generator=g)
    keep = nested_mask(depth, 2)                              # L = 2 levels of 2 maps each
    y, n = transmit(s, keep, torch.full((64,), 10.0, dtype=torch.float64), "awgn", g, power=1.0)
    x, n2 = normalise_power(s, keep, 1.0)
    assert torch.equal(n, depth.flatten(1).sum(-1).float() * 2) and torch.equal(n, n2)
    assert torch.allclose(x.abs().pow(2).flatten(1).sum(-1), torch.ones(64), rtol=1e-4)
    sent = keep.repeat_interleave(2, 1)
    assert (y[sent == 0] == 0).all() and (x[sent == 0] == 0).all()
    noise = ((y - x).abs().pow(2).flatten(1).sum(-1) / n).mean()
    assert abs(10 * torch.log10(1.0 / (n.mean() * noise)).item() - 10.0) < 0.2


def test_model_sends_the_symbols_its_level_mask_keeps_and_honours_a_given_mask():
    from scenarios.sam.asi import segments_onehot
    from scenarios.sam.model import LamSc

    torch.manual_seed(0)
    model = LamSc("attention", True, 8, mask_levels=4, mask_block=4).eval()
    x = torch.rand(3, 3, 64, 64)
    masks, valid = segments_onehot(torch.randint(0, 3, (3, 64, 64)), 4)
    chan = lambda s, k: transmit(s, k, torch.full((3,), 10.0, dtype=torch.float64), "awgn", make_generator(0, "m"))
    with torch.no_grad():
        fwd = model(x, masks, valid, chan)
        assert torch.equal(fwd.sent, fwd.keep.flatten(1).sum(-1))  # one complex map per level here
        given = nested_mask(torch.full((3, 1, 16, 16), 1), 4)
        forced = model(x, masks, valid, chan, keep=given)
    assert torch.equal(forced.keep, given) and torch.equal(forced.sent, torch.full((3,), 256.0))


# --- SKB interface -----------------------------------------------------------------------------

class _FakeSamGenerator:
    """Stands in for SamAutomaticMaskGenerator (tests only): SAM's output format, overlapping masks and holes."""

    def generate(self, image):
        h, w = image.shape[:2]
        a = np.zeros((h, w), bool); a[: h // 2] = True
        b = np.zeros((h, w), bool); b[h // 4 : 3 * h // 4, : w // 2] = True   # overlaps a
        c = np.zeros((h, w), bool); c[-4:, -4:] = True
        return [dict(segmentation=m, area=int(m.sum()), bbox=[0, 0, 1, 1], predicted_iou=0.9, stability_score=0.9)
                for m in (b, c, a)]


def _check_partition(masks, image, max_segments):
    assert isinstance(masks, np.ndarray) and masks.dtype == bool
    assert masks.ndim == 3 and masks.shape[1:] == image.shape[:2]
    assert 1 <= masks.shape[0] <= max_segments
    assert (masks.sum(0) == 1).all()  # disjoint, cover every pixel
    areas = masks.reshape(len(masks), -1).sum(-1)
    assert (areas > 0).all()


def test_both_segmenter_backends_give_the_same_output_type(scenes):
    img = scenes.images[0]
    sp = SuperpixelSegmenter(max_segments=8)
    sam = SamSegmenter(_FakeSamGenerator(), max_segments=8)
    for seg in (sp, sam):
        assert isinstance(seg, Segmenter)
        _check_partition(seg.segment(img), img, 8)
    assert "substitute" in sp.name and "SAM" in sam.name
    masks = sam.segment(img)
    h, w = img.shape[:2]
    assert masks.shape[0] == 4  # a, b minus a, c, and the uncovered rest
    assert masks[0][: h // 2].all()  # the largest SAM mask wins overlapping pixels
    with pytest.raises(SegmenterError, match="uint8"):
        sp.segment(img.astype(np.float32))


def test_ground_truth_segmenter_gives_one_segment_per_object_and_needs_labels(scenes):
    gt = make_segmenter("truth", 8)
    assert isinstance(gt, GroundTruthSegmenter) and isinstance(gt, Segmenter) and "oracle" in gt.name
    for n in range(len(scenes)):
        img, truth = scenes.images[n], scenes.labels[n]
        masks = gt.segment(img, truth)
        _check_partition(masks, img, 8)
        objects = scenes.object_masks(n)
        assert len(masks) == len(objects) + 1  # every visible object, and the background
        for obj in [truth == 0, *objects]:
            assert any((m == obj).all() for m in masks)
    with pytest.raises(SegmenterError, match="has none"):
        gt.segment(scenes.images[0])
    with pytest.raises(SegmenterError, match="shape"):
        gt.segment(scenes.images[0], scenes.labels[0][:10])
    crowded = np.arange(64 * 64).reshape(64, 64) % 20  # 20 labels, at most 3 segments: the rest merged
    _check_partition(make_segmenter("truth", 3).segment(scenes.images[0], crowded), scenes.images[0], 3)
    from scenarios.sam.dataset import segment_all

    with pytest.raises(SegmenterError, match="needs an object mask for every image; this data has none"):
        segment_all(scenes.images, gt, progress=False)
    with pytest.raises(SegmenterError, match="2 masks for 6 images"):
        segment_all(scenes.images, gt, progress=False, truth=scenes.labels[:2])
    labels = segment_all(scenes.images, gt, progress=False, truth=scenes.labels)
    assert all(len(np.unique(labels[n])) == len(scenes.object_masks(n)) + 1 for n in range(len(scenes)))


def test_sam_records_beyond_max_segments_are_merged():
    recs = [dict(segmentation=np.eye(16, dtype=bool) if i == 0 else np.roll(np.eye(16, dtype=bool), i, 1), area=16)
            for i in range(10)]
    masks = masks_from_sam_records(recs, (16, 16), max_segments=4)
    assert masks.shape == (4, 16, 16) and (masks.sum(0) == 1).all()


def test_wrong_sam_checkpoint_gives_a_clear_error(tmp_path):
    with pytest.raises(SegmenterError, match="SAM checkpoint not found: .*missing.pth"):
        make_segmenter("sam", 8, tmp_path / "missing.pth")
    with pytest.raises(SegmenterError, match="needs a checkpoint"):
        make_segmenter("sam", 8, None)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(SegmenterError, match="not a readable torch checkpoint"):
        make_segmenter("sam", 8, junk)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(SegmenterError, match="not a SAM state dict"):
        make_segmenter("sam", 8, other)
    with pytest.raises(SegmenterError, match="unknown SAM model type"):
        make_segmenter("sam", 8, other, model_type="vit_x")


# --- channel -----------------------------------------------------------------------------------

@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_awgn_applies_the_configured_snr_per_sent_symbol(snr_db):
    g = make_generator(0, "test-sam-snr")
    s = to_symbols(torch.randn(32, 8, 16, 16, generator=g))
    keep = (torch.rand(32, 1, 16, 16, generator=g) > 0.5).float()  # half the positions not sent
    y, n = transmit(s, keep, torch.full((32,), snr_db, dtype=torch.float64), "awgn", g, power=2.0)
    x, _ = normalise_power(s, keep, 2.0)
    assert torch.allclose(x.abs().pow(2).flatten(1).sum(-1), torch.full((32,), 2.0), rtol=1e-4)  # P_T per image
    assert torch.equal(n, keep.flatten(1).sum(-1) * 4)
    noise = ((y - x).abs().pow(2).flatten(1).sum(-1) / n).mean()  # per sent symbol
    measured = 10 * torch.log10(torch.tensor(2.0) / (n.mean() * noise))
    assert abs(measured.item() - snr_db) < 0.15
    assert (y[keep.expand_as(y) == 0] == 0).all()  # masked symbols are not sent


def test_rayleigh_fading_is_worse_than_awgn_and_equalised_at_high_snr():
    g = make_generator(0, "test-sam-rayleigh")
    s = to_symbols(torch.randn(64, 4, 8, 8, generator=g))
    keep = torch.ones(64, 1, 8, 8)
    x, _ = normalise_power(s, keep, 1.0)

    def err(kind, snr):
        y, _ = transmit(s, keep, torch.full((64,), snr, dtype=torch.float64), kind, make_generator(1, kind), 1.0)
        return ((y - x).abs().pow(2).sum() / x.abs().pow(2).sum()).item()

    assert err("rayleigh", 10.0) > 1.5 * err("awgn", 10.0)
    assert err("rayleigh", 60.0) < 1e-3
    with pytest.raises(ValueError, match="channel must be"):
        transmit(s, keep, torch.zeros(64, dtype=torch.float64), "uniform", g)


# --- data --------------------------------------------------------------------------------------

def test_scenes_are_deterministic_and_masks_match_the_objects(scenes):
    again = make_scenes(3, seed=1, split="test")
    assert np.array_equal(again.images, scenes.images[:3]) and np.array_equal(again.labels, scenes.labels[:3])
    assert not np.array_equal(make_scenes(1, seed=2, split="test").images[0], scenes.images[0])
    assert scenes.images.shape == (6, 64, 64, 3) and scenes.images.dtype == np.uint8
    for i in range(len(scenes)):
        img, bg = scenes.images[i].astype(int), scenes.backgrounds[i].astype(int)
        outside = scenes.labels[i] == 0
        assert np.array_equal(img[outside], bg[outside])  # no object pixel outside the masks
        objs = scenes.object_masks(i)
        assert len(objs) >= 1 and all(m.any() for m in objs)
        assert (objs.sum(0) <= 1).all()  # occlusion: one owner per pixel
        inside = ~outside
        changed = np.abs(img - bg).sum(-1) > 6
        assert changed[inside].mean() > 0.85  # the masked pixels are the pasted objects
        assert set(scenes.classes[i][scenes.classes[i] >= 0]) <= set(range(10))


def test_voc_folder_loads_and_bad_folders_fail_clearly(tmp_path):
    from PIL import Image

    from scenarios.sam.local_images import find_voc_root, load_image_folder, load_voc

    with pytest.raises(FileNotFoundError, match="VOC folder not found"):
        find_voc_root(tmp_path / "nope")
    with pytest.raises(ValueError, match="not a VOC2012 folder"):
        find_voc_root(tmp_path)
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "SegmentationObject").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(voc / "JPEGImages" / f"{name}.jpg")
        lab = np.zeros((50, 80), np.uint8); lab[10:30, 20:60] = 1; lab[10, :] = 255
        Image.fromarray(lab, mode="L").save(voc / "SegmentationObject" / f"{name}.png")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("a\nb\n")
    images, labels = load_voc(tmp_path, "val", 5, size=32)
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (2, 32, 32) and set(np.unique(labels)) == {0, 1}
    with pytest.raises(ValueError, match="split list missing"):
        load_voc(tmp_path, "train", 5)
    with pytest.raises(ValueError, match="holds 2 images"):
        load_image_folder(voc / "JPEGImages", 3)


# --- verdicts over training seeds, validation-chosen ASC ratio ---------------------------------

def test_choose_ratio_picks_the_largest_ratio_within_the_margin_on_a_fake_curve():
    from scenarios.sam.selection import choose_ratio

    curve = {0.0: 0.001, 0.1: -0.005, 0.25: -0.029, 0.5: -0.031, 0.8: -0.2}   # validation ΔSSIM vs no-asc
    assert choose_ratio(curve, 0.03) == (0.25, True)
    assert choose_ratio({0.1: -0.01, 0.25: -0.05, 0.5: -0.02}, 0.03) == (0.5, True)   # non-monotonic: still the largest
    assert choose_ratio({0.25: -0.06, 0.5: -0.04, 0.8: -0.09}, 0.03) == (0.5, False)  # none within: least loss, flagged
    with pytest.raises(ValueError):
        choose_ratio({0.0: 0.0}, 0.03)  # 0 % is not compression


def test_verdicts_use_the_ci_over_training_seeds():
    from scenarios.sam.checks import over_seeds, verdict

    tight = over_seeds([0.020, 0.022, 0.018])
    assert tight["ci"] == "seeds" and tight["lo"] > 0 and verdict(tight, 0.0) == "holds"
    noisy = over_seeds([0.03, -0.03, 0.01])  # positive on average, but training variance covers 0
    assert noisy["mean"] > 0 and verdict(noisy, 0.0) == "undecided"
    assert verdict(over_seeds([-0.05, -0.06, -0.055]), -0.03) == "does NOT hold"
    single = over_seeds([0.01], dict(lo=0.005, hi=0.015))
    assert single["ci"] == "images" and verdict(single, 0.0) == "holds"


def test_extra_seeds_train_only_the_checked_variants():
    from scenarios.sam.config import SamConfig
    from scenarios.sam.plan import phase_a, phase_b

    cfg = SamConfig(seeds=2, ratios=(0.1, 0.5))
    a0, f0 = phase_a(cfg, 0)
    a1, f1 = phase_a(cfg, 1)
    assert {"conventional", "no-asc", "lam-sc@10%", "lam-sc@50%"} == set(f0) and "conventional" not in f1
    assert {j.name for j in a1} == {"base-asi", "base-uniform", "no-asc", "lam-sc@10%", "lam-sc@50%"}
    assert all(j.train_seed == 1 and j.stream.startswith("s1-") for j in a1)
    assert set(phase_b(cfg, 0, 0.1)) == {"uniform-asi", "no-asi"} and set(phase_b(cfg, 1, 0.1)) == {"uniform-asi"}
    assert phase_b(cfg, 1, 0.1)["uniform-asi"].target_ratio == 0.1


# --- CLI ---------------------------------------------------------------------------------------

def test_tiny_cli_run_writes_csv_and_figures(tmp_path):
    from scenarios.cli import main

    out = tmp_path / "sam"
    args = tiny_sam_args(out, "--train-images", "24", "--steps", "3", "--ratios", "0.8", "--target-ratio", "0.5",
                         "--snrs", "5,15")
    assert main(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    variants = {r["variant"] for r in rows}
    assert variants == {"conventional", "lam-sc", "no-asc", "no-asi", "uniform-asi", "lam-sc@80%"}
    seeds_of = {r["variant"]: int(r["train_seeds"]) for r in rows}
    assert seeds_of["lam-sc"] == seeds_of["uniform-asi"] == seeds_of["no-asc"] == 2 and seeds_of["conventional"] == 1
    by_seed = list(csv.DictReader((out / "results_by_seed.csv").open()))
    assert {(r["train_seed"], r["variant"]) for r in by_seed if r["variant"] == "uniform-asi"} == {("0", "uniform-asi"), ("1", "uniform-asi")}
    result = json.loads((out / "results.json").read_text())
    assert result["checks"]["selection"]["ratio"] == 0.5  # explicit --target-ratio overrides the validation choice
    assert result["checks"]["asi"]["ssim_diff_vs_uniform"]["n_seeds"] == 2
    assert result["checks"]["asi"]["verdict"] in {"holds", "does NOT hold", "undecided"}
    s1 = torch.load(out / "checkpoints" / "s1" / "base-asi.pt", weights_only=False)["model"]
    s0 = torch.load(out / "checkpoints" / "base-asi.pt", weights_only=False)["model"]
    assert any(not torch.equal(s0[k], s1[k]) for k in s0)  # the second seed is an independent training run
    assert len(rows) == len(variants) * 2
    bits = {r["variant"]: float(r["bits_per_image"]) for r in rows}
    assert bits["conventional"] == 16 * 16 * 8 * 8  # 8 real maps at 16×16, 8 bits each, no mask bits
    values = {r["variant"]: float(r["values_per_image"]) for r in rows}
    assert result["mask_side_bits"] == 48  # default unit: 4 levels, 4×4-position blocks → 16 depths × 3 bits
    for v in ("lam-sc", "uniform-asi", "lam-sc@80%"):  # the mask's side information is in every ASC bit count
        assert bits[v] == pytest.approx(8 * values[v] + 48, abs=0.2)
    for png in ("psnr_vs_snr.png", "ssim_vs_snr.png", "ssim_vs_bits.png", "grid.png", "training_loss.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "substitute for SAM" in summary and "21,632" in summary
    ckpt = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert "lam-sc@50%.pt" in ckpt and "uniform-asi@50%.pt" in ckpt and not any(p.endswith(".tmp") for p in ckpt)
    log = (out / "training.csv").read_text()
    train_rows = list(csv.DictReader(io.StringIO(log)))
    spread = {r["job"]: r["asi_max_wS"] for r in train_rows}
    assert {"base-asi", "no-asc", "lam-sc@50%", "base-uniform", "base-plain"} <= set(spread)
    assert all(float(spread[j]) >= 1 for j in spread if j.startswith(("base-asi", "lam-sc", "no-asc")))
    assert all(spread[j] == "" for j in spread if j.startswith(("base-plain", "base-uniform", "uniform-asi", "conventional")))
    from benchmarks.sam_attention_check import plot_paths, training_path

    path = training_path(out)
    assert path["seed 0 base-asi"]["first_step"] == 0 and path["seed 0 base-asi"]["logged"] == 2   # steps 0..2: step 0 and the last logged
    assert all(st["peak"] >= max(st["first"], st["last5"]) for st in path.values())
    assert not any("uniform" in job or "plain" in job for job in path)
    assert plot_paths([out], tmp_path / "path.png").read_bytes()[:4] == b"\x89PNG"
    assert main(args) == 0  # resumes: everything is already trained, the log is unchanged
    assert (out / "training.csv").read_text() == log
    assert main([*args, "--steps", "4"]) == 2  # other training settings into the same --out: refused


def test_tiny_cli_run_with_the_oracle_skb_segments_by_the_object_masks(tmp_path, capsys):
    from scenarios.cli import main

    out = tmp_path / "gt"
    args = tiny_sam_args(out, "--segmenter", "truth", "--seeds", "1", "--target-ratio", "0.5", "--ratios", "0.5")
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    summary = (out / "summary.md").read_text()
    assert result["segmenter"].startswith("ground truth") and "object masks are the segments" in summary
    assert "stands in for SAM" not in summary
    with np.load(next(out.glob("data-test-*.npz"))) as f:
        segments, truth = f["segments"], f["truth"]
    for n in range(len(truth)):  # the SKB's segments are the objects and the background
        assert len(np.unique(segments[n])) == len(np.unique(truth[n]))
        for i in np.unique(truth[n]):
            assert len(np.unique(segments[n][truth[n] == i])) == 1
    log = (out / "training.csv").read_text()
    assert main([*args, "--sam-points-per-side", "8"]) == 0  # a SAM setting does not change these segments: resumes
    assert (out / "training.csv").read_text() == log
    capsys.readouterr()
    assert main([*args, "--segmenter", "superpixel"]) == 2  # other segments, same checkpoints: refused
    assert "segmenter" in capsys.readouterr().err


@pytest.mark.parametrize("extra, needle", [
    (["--target-ratio", "1.5"], "field 'target_ratio'"),
    (["--channels", "uniform"], "field 'channels"),
    (["--data", "voc"], "needs data_dir"),
    (["--data", "voc", "--data-dir", "/nonexistent/voc"], "VOC folder not found"),
    (["--segmenter", "sam", "--sam-checkpoint", "/nonexistent/sam.pth"], "SAM checkpoint not found"),
    (["--steps", "0"], "field 'steps'"),
    (["--mask-levels", "3"], "must divide the 4 complex feature maps"),
    (["--mask-block", "5"], "must divide the latent grid side 16"),
    (["--image-size", "66"], "image_size must be a multiple of 4"),
    (["--image-size", "72"], "must divide the latent grid side 18"),
    (["--sam-points-per-side", "0"], "field 'sam_points_per_side'"),
    (["--sam-pred-iou-thresh", "1.5"], "field 'sam_pred_iou_thresh'"),
    (["--segmenter", "truth", "--data", "folder", "--data-dir", "/nonexistent"], "segmenter 'truth' needs ground-truth"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, extra, needle):
    from scenarios.cli import main

    assert main(["scenario", "sam", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # rejected before any work


def test_argparse_rejects_malformed_numbers(tmp_path):
    from scenarios.cli import main

    with pytest.raises(SystemExit) as e:
        main(["scenario", "sam", "--out", str(tmp_path), "--ratios", "a,b"])
    assert e.value.code == 2
