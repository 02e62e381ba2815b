"""The real segment-anything code path (issue 9's SKB): SAM's own model classes and automatic mask generator
behind our :class:`Segmenter` interface, loaded from a checkpoint file, and a whole scenario run on a
VOC2012-format folder with it.

The released SAM weights cannot be fetched here, so the model is a *small, randomly initialised* SAM built
from segment-anything's own modules (same classes, state-dict layout and generator as ViT-B/L/H, fewer and
narrower layers); the registry entry a user's ``--sam-model-type`` selects is pointed at that builder.
"""
from __future__ import annotations

import csv
import json
from functools import partial

import numpy as np
import pytest
import torch

pytest.importorskip("segment_anything")
from segment_anything import SamAutomaticMaskGenerator, sam_model_registry  # noqa: E402
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer  # noqa: E402

from scenarios.sam.sam_backend import SamSegmenter  # noqa: E402
from scenarios.sam.scenes import make_scenes  # noqa: E402
from scenarios.sam.segmenter import SegmenterError, SuperpixelSegmenter, make_segmenter  # noqa: E402
from tests.conftest import tiny_sam_args  # noqa: E402

#: the generator settings that let a random model's masks through SAM's quality filters
_LENIENT = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)


def _small_sam(checkpoint=None, width: int = 32, image_size: int = 256) -> Sam:
    """A SAM of segment-anything's own modules, sized for a unit test (ViT-B: width 768, 12 blocks, 1024 px)."""
    grid = image_size // 16
    sam = Sam(
        image_encoder=ImageEncoderViT(img_size=image_size, patch_size=16, embed_dim=width, depth=1, num_heads=2,
                                      out_chans=width, qkv_bias=True, use_rel_pos=True, window_size=4,
                                      global_attn_indexes=[0], norm_layer=partial(torch.nn.LayerNorm, eps=1e-6)),
        prompt_encoder=PromptEncoder(embed_dim=width, image_embedding_size=(grid, grid),
                                     input_image_size=(image_size, image_size), mask_in_chans=4),
        mask_decoder=MaskDecoder(num_multimask_outputs=3, transformer_dim=width, iou_head_depth=1, iou_head_hidden_dim=16,
                                 transformer=TwoWayTransformer(depth=1, embedding_dim=width, mlp_dim=2 * width, num_heads=2)),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375]).eval()
    if checkpoint is not None:
        sam.load_state_dict(torch.load(checkpoint, weights_only=True))
    return sam


@pytest.fixture()
def small_sam_file(tmp_path, monkeypatch):
    """A checkpoint of the small SAM, with ``vit_b`` building that model and ``vit_l`` a wider one."""
    torch.manual_seed(0)
    path = tmp_path / "sam_small.pth"
    torch.save(_small_sam().state_dict(), path)
    monkeypatch.setitem(sam_model_registry, "vit_b", _small_sam)
    monkeypatch.setitem(sam_model_registry, "vit_l", partial(_small_sam, width=48))
    return path


def _check_partition(masks: np.ndarray, shape: tuple[int, int], max_segments: int) -> None:
    assert masks.dtype == bool and masks.shape[1:] == shape and 1 <= len(masks) <= max_segments
    assert (masks.sum(0) == 1).all() and masks.reshape(len(masks), -1).any(-1).all()


def test_real_sam_generator_gives_the_segmenter_output_type():
    torch.manual_seed(0)
    img = make_scenes(1, seed=0, split="test", size=64).images[0]
    sam = SamSegmenter(SamAutomaticMaskGenerator(_small_sam(), **_LENIENT), max_segments=6)
    records = sam.generator.generate(img)
    assert records and {"segmentation", "area"} <= set(records[0])   # the output format our conversion reads
    assert records[0]["segmentation"].shape == img.shape[:2]
    masks = sam.segment(img)
    _check_partition(masks, img.shape[:2], 6)
    covered = np.any([r["segmentation"] for r in records], 0)
    assert masks[-1].sum() >= (~covered).sum()                   # pixels no SAM mask covers end in the "rest"
    largest = max(records, key=lambda r: r["area"])["segmentation"]
    assert any(np.array_equal(m, largest) for m in masks) or len(records) > 6   # the largest mask keeps its pixels
    plain = SuperpixelSegmenter(6).segment(img)
    assert type(masks) is type(plain) and masks.dtype == plain.dtype and masks.shape[1:] == plain.shape[1:]


def test_checkpoint_loads_through_the_registry_and_options_reach_the_generator(small_sam_file):
    seg = make_segmenter("sam", 5, small_sam_file, "vit_b", dict(_LENIENT, points_per_side=3))
    assert isinstance(seg.generator, SamAutomaticMaskGenerator)
    assert len(seg.generator.point_grids[0]) == 9 and seg.generator.pred_iou_thresh == 0.0
    ref = _small_sam(small_sam_file)
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in seg.generator.predictor.model.state_dict().items())
    _check_partition(seg.segment(make_scenes(1, seed=1, split="test", size=48).images[0]), (48, 48), 5)


def test_checkpoint_of_another_model_type_is_refused_with_the_reason(small_sam_file):
    with pytest.raises(SegmenterError, match="does not fit model type 'vit_l'"):
        make_segmenter("sam", 5, small_sam_file, "vit_l")


def _voc_folder(root, n_train: int, n_val: int, size: int = 96) -> None:
    """A VOC2012-format folder as the release lays it out: non-square JPEGs, palette ('P') object PNGs with
    255 on the object outlines, the split lists."""
    from PIL import Image
    from scipy.ndimage import binary_dilation

    voc = root / "VOCdevkit" / "VOC2012"
    for d in ("JPEGImages", "SegmentationObject", "ImageSets/Segmentation"):
        (voc / d).mkdir(parents=True)
    scenes = make_scenes(n_train + n_val, seed=5, split="test", size=size)
    palette = [0, 0, 0] + [int(v) for v in np.random.default_rng(0).integers(0, 255, 3 * 255)]
    ids = [f"2007_{i:06d}" for i in range(n_train + n_val)]
    for i, name in enumerate(ids):
        img = np.pad(scenes.images[i], ((0, 0), (12, 12), (0, 0)), mode="edge")   # 96 × 120: centre-cropped back
        lab = np.pad(scenes.labels[i].astype(np.uint8), ((0, 0), (12, 12)))
        lab[binary_dilation(lab > 0) & (lab == 0)] = 255                          # VOC's "void" outline
        Image.fromarray(img).save(voc / "JPEGImages" / f"{name}.jpg", quality=95)
        png = Image.fromarray(lab, mode="P")
        png.putpalette(palette)
        png.save(voc / "SegmentationObject" / f"{name}.png")
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids[:n_train]) + "\n")
    (voc / "ImageSets/Segmentation/val.txt").write_text("\n".join(ids[n_train:]) + "\n")


def test_scenario_runs_on_a_voc_folder_with_the_real_sam_generator(small_sam_file, tmp_path, capsys):
    from scenarios.cli import main

    _voc_folder(tmp_path / "voc", n_train=20, n_val=4)
    out = tmp_path / "run"
    args = tiny_sam_args(out, "--data", "voc", "--data-dir", str(tmp_path / "voc"), "--segmenter", "sam",
                         "--sam-checkpoint", str(small_sam_file), "--sam-points-per-side", "4",
                         "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0", "--image-size", "96",
                         "--object-weight", "2", "--seeds", "1", "--target-ratio", "0.5", "--ratios", "0.5")
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["segmenter"].startswith("SAM") and result["config"]["image_size"] == 96
    assert result["raw_bits"] == 96 * 96 * 3 * 8 and result["bits"]["conventional"] == 24 * 24 * 8 * 8
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["segmenter"] for r in rows} == {result["segmenter"]}
    assert all(float(r["ssim_obj"]) == float(r["ssim_obj"]) for r in rows)     # VOC's object masks → object metrics
    summary = (out / "summary.md").read_text()
    assert "substitute" not in summary and "96×96" in summary and "64×64" not in summary   # sizes from the config
    data = {p.name.split("-")[1]: np.load(p) for p in out.glob("data-*.npz")}
    assert set(data) == {"train", "val", "test"}
    assert data["train"]["images"].shape == (16, 96, 96, 3) and set(np.unique(data["test"]["truth"])) >= {0, 1}
    assert 255 not in np.unique(data["test"]["truth"])                         # outlines are not an object
    assert data["train"]["segments"].max() >= 1                                # SAM's masks split the images
    assert (out / "grid.png").read_bytes()[:4] == b"\x89PNG" and not list(out.glob("*.partial.npz"))
    # other generator settings segment differently: the training is refused, naming the setting
    assert main([*args, "--sam-points-per-side", "3"]) == 2
    assert "sam_points_per_side" in capsys.readouterr().err


def test_oracle_skb_on_a_voc_folder_uses_its_object_masks_and_needs_them(tmp_path, capsys):
    import shutil

    from scenarios.cli import main

    _voc_folder(tmp_path / "voc", n_train=20, n_val=4)
    out = tmp_path / "run"
    args = tiny_sam_args(out, "--data", "voc", "--data-dir", str(tmp_path / "voc"), "--segmenter", "truth",
                         "--image-size", "96", "--seeds", "1", "--target-ratio", "0.5", "--ratios", "0.5")
    assert main(args) == 0
    with np.load(next(out.glob("data-test-*.npz"))) as f:
        segments, truth = f["segments"], f["truth"]
    for n in range(len(truth)):  # one segment per VOC object and one for the background (outlines included)
        assert len(np.unique(segments[n])) == len(np.unique(truth[n]))
    shutil.rmtree(tmp_path / "voc" / "VOCdevkit" / "VOC2012" / "SegmentationObject")
    capsys.readouterr()
    assert main(tiny_sam_args(tmp_path / "run2", "--data", "voc", "--data-dir", str(tmp_path / "voc"),
                              "--segmenter", "truth")) == 2
    err = capsys.readouterr().err.strip()
    assert "no SegmentationObject/" in err and len(err.splitlines()) == 1 and not (tmp_path / "run2").exists()


def test_sam_settings_key_the_segment_cache_only_for_sam(tmp_path):
    from scenarios.sam.config import SamConfig
    from scenarios.sam.dataset import _key

    seg = SuperpixelSegmenter(12)
    sp = SamConfig(train_images=16)
    assert _key(sp, "train", seg) == _key(sp.model_copy(update=dict(sam_points_per_side=8, sam_pred_iou_thresh=0.5)), "train", seg)
    sam = SamConfig(train_images=16, segmenter="sam", sam_checkpoint=tmp_path / "s.pth")
    keys = {_key(sam.model_copy(update=u), "train", seg) for u in
            (dict(), dict(sam_points_per_side=8), dict(sam_pred_iou_thresh=0.5), dict(sam_stability_thresh=0.5),
             dict(sam_model_type="vit_l"))}
    assert len(keys) == 5


def test_a_superpixel_run_resumes_whatever_the_sam_settings(tmp_path):
    from scenarios.cli import main

    args = tiny_sam_args(tmp_path / "run", "--seeds", "1", "--target-ratio", "0.5", "--ratios", "0.5")
    assert main(args) == 0
    assert main([*args, "--sam-points-per-side", "8"]) == 0      # ignored by the superpixel SKB: nothing to retrain


class _CountingSegmenter:
    """The superpixel SKB, counting its calls, interrupted (as by Ctrl-C) at call ``stop_at``."""

    name = "counting superpixel"

    def __init__(self, stop_at: int | None = None) -> None:
        self.inner, self.calls, self.stop_at = SuperpixelSegmenter(6), 0, stop_at

    def segment(self, image: np.ndarray) -> np.ndarray:
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        self.calls += 1
        return self.inner.segment(image)


def test_an_interrupted_skb_pass_resumes_where_it_stopped(tmp_path):
    from scenarios.sam.dataset import segment_all

    images = make_scenes(7, seed=2, split="test", size=32).images
    partial = tmp_path / "data-test-x.partial.npz"
    first = _CountingSegmenter(stop_at=4)
    with pytest.raises(KeyboardInterrupt):
        segment_all(images, first, progress=False, partial=partial, save_every_s=3600)
    assert partial.is_file() and len(np.load(partial)["segments"]) == 4       # saved on the way out
    second = _CountingSegmenter()
    labels = segment_all(images, second, progress=False, partial=partial)
    assert second.calls == 3                                                   # only the images not done yet
    np.testing.assert_array_equal(labels, segment_all(images, _CountingSegmenter(), progress=False))
    other = make_scenes(7, seed=3, split="test", size=32).images                # other images: the partial is ignored
    third = _CountingSegmenter()
    segment_all(other, third, progress=False, partial=partial)
    assert third.calls == 7


def test_the_skb_pass_saves_as_it_goes_and_prepare_finishes_and_removes_the_partial(tmp_path, capsys):
    from scenarios.sam.config import SamConfig
    from scenarios.sam.dataset import load_split, prepare, segment_all

    images = make_scenes(6, seed=2, split="test", size=32).images
    partial = tmp_path / "p.partial.npz"

    class Watching(_CountingSegmenter):  # what is on disk when each image starts (a SIGKILL would leave that)
        seen: list[int] = []

        def segment(self, image):
            self.seen.append(len(np.load(partial)["segments"]) if partial.exists() else 0)
            return super().segment(image)

    with pytest.raises(KeyboardInterrupt):                          # save_every_s=0: saved after every image
        segment_all(images, Watching(stop_at=3), progress=False, partial=partial, save_every_s=0)
    assert Watching.seen == [0, 1, 2, 3]
    assert len(np.load(partial)["segments"]) == 3 and "the same command continues" in capsys.readouterr().err
    partial.write_bytes(b"garbage")                                  # an unreadable partial: ignored, with a line
    again = _CountingSegmenter()
    segment_all(images, again, progress=False, partial=partial)
    assert again.calls == 6 and "ignoring the unreadable" in capsys.readouterr().err

    cfg = SamConfig(image_size=32, train_images=8, val_images=4, test_images=4)
    out = tmp_path / "out"
    out.mkdir()
    test_images, _ = load_split(cfg, "test")
    seg = _CountingSegmenter(stop_at=2)
    with pytest.raises(KeyboardInterrupt):                          # the first split (train) stops after 2 images
        prepare(cfg, out, seg, progress=False)
    (left,) = out.glob("*.partial.npz")
    seg.stop_at = None
    train, val, test, _ = prepare(cfg, out, seg, progress=False)
    assert seg.calls == 8 + 4 + 4                                    # 2 before the stop, the other 6 after
    assert not list(out.glob("*.partial.npz")) and not left.exists()
    np.testing.assert_array_equal(test.images, test_images)
    fresh = _CountingSegmenter()
    np.testing.assert_array_equal(train.segments, segment_all(train.images, fresh, progress=False))


def test_skb_cost_benchmark_times_sam_against_the_superpixels(small_sam_file, tmp_path):
    from benchmarks.sam_skb_cost import main

    threads_before = torch.get_num_threads()
    result = main(["--checkpoint", str(small_sam_file), "--points", "3,2", "--images", "1", "--size", "32",
                   "--json", str(tmp_path / "cost.json")])
    assert [r["prompts"] for r in result["rows"]] == [9, 4] and not result["random_weights"]
    assert all(r["s_per_image"] > 0 and r["ratio_to_superpixel"] > 0 for r in result["rows"])
    assert json.loads((tmp_path / "cost.json").read_text()) == result
    assert torch.get_num_threads() == threads_before                          # the benchmark restores it
    random = main(["--points", "2", "--images", "1", "--size", "32"])        # random weights of the registry's vit_b
    assert random["random_weights"] and random["rows"][0]["prompts"] == 4
