"""ASI steering of the ASC mask and the external keep-logit shift (SAM scenario, issue 9: can attention move bits?)."""
from __future__ import annotations

import pytest
import torch

from scenarios.sam.asc import AdaptiveMask, block_log_importance
from scenarios.sam.model import LamSc


def _importance(b: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.5 + torch.rand(b, 1, 16, 16, generator=g)


def test_block_log_importance_is_block_constant_centred_and_zero_for_uniform_weights():
    a = block_log_importance(_importance(), 4)
    assert a.shape == (4, 1, 16, 16)
    blocks = a.unfold(2, 4, 4).unfold(3, 4, 4)
    assert (blocks == blocks[..., :1, :1]).all()
    assert a.mean((2, 3)).abs().max() < 1e-6                   # moves bits between blocks, not the total
    assert block_log_importance(torch.ones(2, 1, 16, 16), 4).abs().max() == 0
    big = torch.ones(1, 1, 16, 16)
    big[..., :4, :4] = 3.0                                      # one important block ranks above the others
    assert block_log_importance(big, 4)[0, 0, 0, 0] > block_log_importance(big, 4)[0, 0, -1, -1]


def _asi_grad(steer: float) -> float:
    """Gradient reaching the segment scores from a loss on the sent mask only (through ``LamSc.forward``)."""
    torch.manual_seed(0)
    model = LamSc("attention", True, 8, mask_levels=4, mask_block=4, asi_steer=steer).train()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=g)
    labels = (torch.arange(64)[None, :, None] // 16 + 4 * (torch.arange(64)[None, None, :] // 32)).expand(2, 64, 64)
    masks = torch.nn.functional.one_hot(labels, 12).permute(0, 3, 1, 2).float()
    valid = masks.flatten(2).sum(-1) > 0
    fwd = model(x, masks, valid, lambda s, k: (s, k.flatten(1).sum(-1)))   # an ideal channel; the loss ignores recon
    (fwd.keep * torch.randn(fwd.keep.shape, generator=g)).sum().backward()
    return float(sum(p.grad.abs().sum() for p in model.asi.score.parameters() if p.grad is not None))


def test_steering_gives_the_segment_attention_a_gradient_through_the_mask_and_off_gives_none():
    assert _asi_grad(0.0) == 0.0                                 # the mask reads the importance detached
    assert _asi_grad(3.0) > 0.0


def test_uniform_importance_leaves_the_steered_mask_unchanged():
    torch.manual_seed(0)
    plain, steered = AdaptiveMask(8, levels=4, block=4), AdaptiveMask(8, levels=4, block=4, steer=5.0)
    steered.load_state_dict(plain.state_dict())
    z = torch.randn(3, 8, 16, 16)
    for net in (plain, steered):
        net.eval().set_budget("batch", 0.5)
    assert torch.equal(plain(z, torch.ones(3, 1, 16, 16))[0], steered(z, torch.ones(3, 1, 16, 16))[0])
    assert not torch.equal(plain(z, _importance(3))[0], steered(z, _importance(3))[0])
    with pytest.raises(ValueError, match="≥ 0"):
        AdaptiveMask(8, steer=-1.0)


def test_a_keep_logit_shift_moves_levels_to_the_shifted_blocks_at_the_same_bits():
    torch.manual_seed(0)
    net = AdaptiveMask(8, levels=4, block=4).eval().set_budget("batch", 0.5)
    z, imp = torch.randn(2, 8, 16, 16), torch.ones(2, 1, 16, 16)
    shift = torch.zeros(2, 1, 16, 16)
    shift[..., :8, :8] = 10.0                                    # four blocks per image marked important
    plain, shifted = net(z, imp)[0], net(z, imp, shift)[0]
    assert plain.sum() == shifted.sum()                          # the exact budget: same symbols
    assert (shifted[..., :8, :8] == 1).all()                     # every level of the marked blocks is sent
    assert shifted[..., :8, :8].mean() > plain[..., :8, :8].mean()


def test_a_run_with_fresh_seeds_refuses_to_resume_with_another_steering(tmp_path):
    from scenarios.sam.config import SamConfig
    from scenarios.sam.experiment import ResumeMismatch, _check_same_training

    out = tmp_path / "run"
    (out / "checkpoints" / "s3").mkdir(parents=True)                # --seed-offset runs keep checkpoints in s<k>/ only
    (out / "checkpoints" / "s3" / "base-asi.pt").write_bytes(b"x")
    old = SamConfig(seed_offset=3, asi_steer=0.0)
    (out / "config.json").write_text(old.model_dump_json())
    _check_same_training(old.model_copy(update={"seeds": 5}), out)  # evaluation-only change: fine
    with pytest.raises(ResumeMismatch, match="asi_steer"):
        _check_same_training(old.model_copy(update={"asi_steer": 3.0}), out)


def _scene(b: int = 8, seed: int = 0):
    """Images with a bright square object on a dark background, 4 segments: the object and 3 background strips."""
    g = torch.Generator().manual_seed(seed)
    x = 0.2 * torch.rand(b, 3, 32, 32, generator=g)
    labels = torch.zeros(b, 32, 32, dtype=torch.long)
    labels[:, 8:16] = 1
    labels[:, 16:] = 2
    labels[:, 24:, 16:] = 3
    objects = torch.zeros(b, 1, 32, 32, dtype=torch.bool)
    for i in range(b):
        r, c = 2 * ((i + 3 * seed) % 4), 16 + 2 * ((i + seed) % 3)   # positions vary with the seed
        x[i, :, r:r + 6, c:c + 6] = 0.9                  # the object …
        labels[i, r:r + 6, c:c + 6] = 4                  # … is its own segment
        objects[i, 0, r:r + 6, c:c + 6] = True
    masks = torch.nn.functional.one_hot(labels, 6).permute(0, 3, 1, 2).float()
    return x, masks, masks.flatten(2).sum(-1) > 0, objects


def test_importance_target_follows_the_object_share_and_ignores_empty_segments():
    from scenarios.sam.asi import importance_target

    _, masks, valid, objects = _scene()
    t = importance_target(masks, objects, valid)
    assert torch.allclose(t.sum(-1), torch.ones(len(t)))
    assert (t[~valid] == 0).all()                                     # segment 5 is empty
    assert (t[:, 4] > 0.7).all() and (t[:, :4] < 0.1).all()           # the object segment carries the importance


def test_human_guided_supervision_teaches_the_attention_to_weight_the_object():
    from scenarios.sam.asi import SemanticIntegration, importance_target, supervision_loss

    torch.manual_seed(0)
    asi = SemanticIntegration("attention")
    x, masks, valid, objects = _scene()
    target = importance_target(masks, objects, valid)
    _, w0, _ = asi(x, masks, valid)
    assert supervision_loss(target, target, valid).abs() < 1e-6 and supervision_loss(w0, target, valid) > 0.5
    opt = torch.optim.Adam(asi.parameters(), lr=0.01)
    for _ in range(150):
        _, w, _ = asi(x, masks, valid)
        opt.zero_grad()
        supervision_loss(w, target, valid).backward()
        opt.step()
    xt, mt, vt, ot = _scene(seed=1)                                   # new images: no labels at inference
    _, w, importance = asi(xt, mt, vt)
    assert (w[:, 4] > 0.5).all()                                      # the object segment now dominates
    assert importance[ot].mean() > 3 * importance[~ot].mean()


def test_supervision_changes_the_training_of_an_attention_model(tmp_path):
    import numpy as np

    from scenarios.sam.config import SamConfig
    from scenarios.sam.dataset import SegmentedImages
    from scenarios.sam.training import Job, train_job

    x, masks, _, objects = _scene(b=8)
    data = SegmentedImages(images=(x.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8),
                           segments=masks.argmax(1).numpy().astype(np.int8), truth=objects[:, 0].numpy().astype(np.int16))
    job = Job("j", "attention", False, 0.0, 3)
    params = {}
    for lam in (0.0, 1.0):
        cfg = SamConfig(image_size=32, batch_size=4, asi_supervision=lam, max_segments=6)
        model, _ = train_job(job, cfg, data, tmp_path / f"l{lam:g}", progress=False)
        params[lam] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert not torch.equal(params[0.0], params[1.0])   # same init and batches: only the loss differs
