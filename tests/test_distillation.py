"""The distillation scenario (DeKA-g scaled down): CALA gate, G-LoRA size, channel SNR, quantised
payload sizes, resumable training, and a tiny end-to-end CLI run (all on tiny configs)."""
from __future__ import annotations

import argparse
import csv
import json

import pytest
import torch

from scenarios.distillation.quantize import payload_bytes, quantize_dequantize


def _parse(argv: list[str]) -> argparse.Namespace:
    from scenarios.distillation.cli import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny CLI run (pixel features, no zoo needed), then the same command again (resume)."""
    from scenarios.distillation.cli import main

    out = tmp_path_factory.mktemp("distill")
    argv = ["--preset", "tiny", "--feature-encoder", "pixels", "--out", str(out), "--no-progress"]
    assert main(_parse(argv)) == 0
    first = (out / "gka.csv").read_text(), (out / "tka.csv").read_text()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    assert main(_parse(argv)) == 0
    return out, first, stamps


def test_cli_writes_tables_figures_and_summary(tiny_run):
    out, _, _ = tiny_run
    for name in ("gka.csv", "tka.csv", "users.csv", "gate.csv", "consistency.png", "psnr_vs_snr.png", "gate.png",
                 "grid_cloud_vs_edge.png", "grid_received.png", "summary.md", "config.json"):
        assert (out / name).stat().st_size > 0, name
    gka = list(csv.DictReader(open(out / "gka.csv")))
    assert {"cloud", "none", "metaword", "g-lora", "makd", "makd@int2"} <= {r["variant"] for r in gka}
    tka = list(csv.DictReader(open(out / "tka.csv")))
    assert {r["method"] for r in tka} == {"fixed-snr", "fixed-snr-long", "mixed-snr", "cala-fixed-snr", "cala"}
    assert len(tka) == 5 * 3 * 2  # methods × eval SNRs × delay spreads of the tiny preset
    assert all(float(r["psnr_db"]) > 0 for r in tka)
    assert json.loads((out / "config.json").read_text())["preset"] == "tiny"


def test_rerun_resumes_from_checkpoints_and_reproduces(tiny_run):
    out, first, stamps = tiny_run
    assert (out / "gka.csv").read_text() == first[0]
    assert (out / "tka.csv").read_text() == first[1]
    # finished stages are loaded, not retrained: their checkpoints were not rewritten
    assert {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()} == stamps
    # and the times reported are said to be the resumed invocation's
    assert json.loads((out / "timing.json").read_text())["resumed"] is True
    assert "resumed from checkpoints; earlier invocations not counted" in (out / "summary.md").read_text()


def test_trained_gate_weights_respond_to_snr(tiny_run):
    out, _, _ = tiny_run
    rows = list(csv.DictReader(open(out / "gate.csv")))
    keys = [k for k in rows[0] if k.startswith("gate_")]
    change = 0.0
    for ds in {r["delay_spread_ns"] for r in rows}:
        w = {float(r["snr_db"]): torch.tensor([float(r[k]) for k in keys]) for r in rows if r["delay_spread_ns"] == ds}
        assert torch.allclose(w[0.0].sum(), torch.tensor(1.0), atol=1e-5)
        change = max(change, float((w[0.0] - w[20.0]).abs().max()))
    assert change > 1e-3


def test_gate_learns_snr_dependent_weights():
    """A few steps suffice for the gate to put low SNRs on one component, high on another."""
    from scenarios.distillation.gate import ChannelGate

    torch.manual_seed(0)
    gate = ChannelGate(components=2)
    opt = torch.optim.Adam(gate.parameters(), lr=0.05)
    snr = torch.tensor([0.0, 5.0, 15.0, 20.0])
    ds = torch.full_like(snr, 300.0)
    target = torch.tensor([0, 0, 1, 1])
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.nll_loss(gate(snr, ds).log(), target).backward()
        opt.step()
    w = gate(torch.tensor([0.0, 20.0]), torch.tensor([300.0, 300.0]))
    assert w[0, 0] > 0.8 and w[1, 1] > 0.8


def test_cala_layer_is_base_plus_gated_rank1_sum():
    from scenarios.distillation.jscc import CALALinear

    torch.manual_seed(1)
    layer = CALALinear(6, 5, components=3)
    torch.nn.init.normal_(layer.u)
    x, gate = torch.randn(4, 6), torch.softmax(torch.randn(4, 3), -1)
    expect = torch.stack([layer.base(x[i]) + sum(gate[i, m] * layer.u[m] * (layer.v[m] @ x[i]) for m in range(3))
                          for i in range(4)])
    assert torch.allclose(layer(x, gate), expect, atol=1e-5)
    assert torch.allclose(layer(x), layer.base(x))


@pytest.mark.parametrize("rank", [1, 3])
def test_lora_adds_rank_times_in_plus_out_per_layer(rank):
    from scenarios.distillation.diffusion import LatentDiffusion
    from scenarios.distillation.lora import add_lora

    model = LatentDiffusion(latent_channels=2, channels=(16,), embed_dim=16)
    before = {n for n, _ in model.unet.named_parameters()}
    layers = add_lora(model.unet, rank, "attention+ff")
    assert layers
    modules = dict(model.unet.named_modules())
    for name in layers:
        base = modules[name].base_layer
        assert isinstance(base, torch.nn.Linear)
        n = sum(p.numel() for p in modules[name].parameters() if p.requires_grad)
        assert n == rank * (base.in_features + base.out_features), name
    trainable = sum(p.numel() for p in model.unet.parameters() if p.requires_grad)
    assert trainable == sum(rank * (modules[m].base_layer.in_features + modules[m].base_layer.out_features)
                            for m in layers)
    assert {n for n, _ in model.unet.named_parameters() if "lora_" not in n} == {
        n.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        if any(n.startswith(m + ".") for m in layers) else n for n in before}


@pytest.mark.parametrize("snr_db", [0.0, 7.0, 20.0])
def test_channel_applies_the_configured_snr(snr_db):
    """Unit-power symbols over h = 1: the measured noise power is 10^(-SNR/10)."""
    from scenarios.distillation.jscc import power_normalize
    from scenarios.distillation.link import transmit

    g = torch.Generator().manual_seed(2)
    x = power_normalize(torch.complex(torch.randn(400, 64, generator=g), torch.randn(400, 64, generator=g)))
    h = torch.ones_like(x)
    var = 10 ** (-snr_db / 10)
    xhat = transmit(x, h, torch.full((400,), snr_db), g)
    y = xhat * (1 + var)  # undo the MMSE scaling (|h| = 1)
    measured = (y - x).abs().pow(2).mean().item()
    assert measured == pytest.approx(var, rel=0.03)
    assert x.abs().pow(2).mean().item() == pytest.approx(1.0, rel=1e-5)


def test_tdl_channel_has_unit_power_and_delay_spread_sets_selectivity():
    from channel.multipath import tdl_frequency_response

    g = torch.Generator().manual_seed(3)
    h = tdl_frequency_response(torch.tensor([30.0] * 600 + [3000.0] * 600), 64, g)
    assert h.abs().pow(2).mean().item() == pytest.approx(1.0, rel=0.1)
    corr = [(h[s, 0] * h[s, 32].conj()).mean().abs().item() for s in (slice(0, 600), slice(600, 1200))]
    assert corr[0] > 0.9 > 0.6 > corr[1]  # 30 ns: flat over the band; 3000 ns: selective


def test_quantised_payload_byte_counts():
    t = torch.randn(4, 10)
    assert payload_bytes(t, "fp32") == 160
    assert payload_bytes(t, "fp16") == 80
    assert payload_bytes(t, "int8") == 40 + 2 * 4
    assert payload_bytes(t, "int2") == 10 + 2 * 4
    assert payload_bytes(torch.randn(3, 5), "int2") == 4 + 2 * 3  # 15 values -> 30 bits -> 4 bytes
    for prec, levels in (("int8", 255), ("int2", 4)):
        q = quantize_dequantize(t, prec)
        assert all(len(torch.unique(row)) <= levels for row in q)
        step = t.abs().amax(1, keepdim=True) / (127 if prec == "int8" else 1.5)
        assert ((q - t).abs() <= step / 2 + 1e-6).all()
    with pytest.raises(ValueError):
        payload_bytes(t, "int4")


def test_interrupted_training_resumes_to_the_same_result(tmp_path):
    from scenarios.distillation.training import run_training

    def train(steps: int, path) -> torch.nn.Module:
        torch.manual_seed(0)
        m = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(m.parameters(), lr=0.1)
        data = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))

        def step(_, g):
            x = data[torch.randint(0, 64, (8,), generator=g)]
            return (m(x) - x.sum(1, keepdim=True)).pow(2).mean()

        run_training("t", path, {"m": m}, opt, steps, step, torch.Generator().manual_seed(5), every=2, progress=False)
        return m

    straight = train(8, tmp_path / "a.pt")
    train(5, tmp_path / "b.pt")  # "interrupted" after 5 steps
    resumed = train(8, tmp_path / "b.pt")
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("argv", [
    ["--lora-rank", "0"],
    ["--precision", "int4"],
    ["--eval-snr", ","],
    ["--cloud-model", "/nonexistent"],
    ["--cloud-model", "/nonexistent", "--edge-model", "/nonexistent"],
    ["--feature-encoder", "no-such-encoder"],
    ["--seeds", "0"],
    ["--train-snr", "nan"],
    ["--eval-snr", "0,inf"],
])
def test_bad_options_exit_2_before_work(argv, tmp_path, capsys):
    from scenarios.distillation.cli import main

    try:  # pixel features unless the case is about the encoder, so a missing zoo cannot be the reason
        encoder = [] if "--feature-encoder" in argv else ["--feature-encoder", "pixels"]
        code = main(_parse(["--preset", "tiny", *encoder, "--out", str(tmp_path / "o"), *argv]))
    except SystemExit as e:  # argparse rejects choices itself, also with exit code 2
        code = e.code
    assert code == 2
    assert not (tmp_path / "o").exists()
    err = capsys.readouterr().err
    expected = {("--train-snr", "nan"): "must be finite", ("--eval-snr", "0,inf"): "must be finite",
                ("--feature-encoder", "no-such-encoder"): "registered:", ("--seeds", "0"): "--seeds must be at least 1",
                ("--lora-rank", "0"): "lora_rank"}
    if tuple(argv) in expected:
        assert expected[tuple(argv)] in err, err


def test_seeds_refused_on_the_real_model_path(tmp_path, capsys):
    from scenarios.distillation.cli import main

    for name in ("cloud", "edge"):  # valid-looking pipeline folders, so only --seeds can be the reason
        (tmp_path / name).mkdir()
        (tmp_path / name / "model_index.json").write_text("{}")
    argv = ["--preset", "tiny", "--seeds", "2", "--cloud-model", str(tmp_path / "cloud"), "--edge-model",
            str(tmp_path / "edge"), "--out", str(tmp_path / "o")]
    assert main(_parse(argv)) == 2
    assert "--seeds is for the scaled-down scenario" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_same_command_trains_the_same_models_whatever_the_global_generator(tmp_path):
    """Every model's initial weights come from the run's seed: the global torch generator's state before the run
    (left by whatever ran earlier in the process) must not change a single result."""
    import torch

    from scenarios.cli import main

    for k, seed in enumerate((1, 2)):
        torch.manual_seed(seed)
        out = tmp_path / f"r{k}"
        assert main(["scenario", "distillation", "--preset", "tiny", "--feature-encoder", "pixels", "--out", str(out),
                     "--no-progress"]) == 0
    for name in ("gka.csv", "tka.csv"):
        assert (tmp_path / "r0" / name).read_bytes() == (tmp_path / "r1" / name).read_bytes()


def test_summary_gives_paired_per_prompt_differences(tiny_run):
    """Each run's summary and headline carry MAKD − none etc. paired per prompt, with the verdict from its CI."""
    out, _, _ = tiny_run
    head = json.loads((out / "headline.json").read_text())
    pair = head["paired_consistency"]["makd_minus_none"]
    assert pair["lo"] <= pair["mean"] <= pair["hi"] and pair["n"] == 8
    gka = {r["variant"]: float(r["consistency"]) for r in csv.DictReader(open(out / "gka.csv"))}
    assert pair["mean"] == pytest.approx(gka["makd"] - gka["none"], abs=1e-6)
    expected = "holds" if pair["lo"] >= 0 else "does NOT hold" if pair["hi"] < 0 else "undecided"
    assert head["must_hold_makd_raises_consistency"] == expected
    text = (out / "summary.md").read_text()
    assert "95 % CI over prompts" in text and "makd − none" in text and "--seeds K" in text


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    """One tiny `--seeds 2` run (pixel features); tests that change it work on a copy."""
    from scenarios.cli import main

    out = tmp_path_factory.mktemp("distill-seeds") / "multi"
    assert main(["scenario", "distillation", "--preset", "tiny", "--feature-encoder", "pixels", "--seeds", "2",
                 "--out", str(out), "--no-progress"]) == 0
    return out


def test_seeds_run_each_seed_and_decide_over_them(tiny_run, seeds_run):
    """--seeds 2: seed 0's folder is exactly the single run of seed 0; the claims table is over the two seeds."""
    from scenarios.distillation.seeds import CLAIMS

    single, _, _ = tiny_run
    out = seeds_run
    for name in ("gka.csv", "tka.csv"):
        assert (out / "seed-0" / name).read_bytes() == (single / name).read_bytes()
    assert (out / "seed-1" / "gka.csv").read_bytes() != (single / "gka.csv").read_bytes()  # other models
    rows = list(csv.DictReader(open(out / "seeds.csv")))
    assert [r["seed"] for r in rows] == ["0", "1"]
    agg = json.loads((out / "headline.json").read_text())
    assert set(agg["claims"]) == {k for k, *_ in CLAIMS}
    per_seed = [json.loads((out / f"seed-{s}" / "headline.json").read_text())["psnr_gain_away_mean_db"] for s in (0, 1)]
    cala = agg["claims"]["cala_minus_fixed_away"]
    assert cala["per_seed"] == pytest.approx(per_seed) and cala["n_seeds"] == 2 and cala["lo"] < cala["mean"] < cala["hi"]
    assert (out / "seeds.png").stat().st_size > 0
    assert "t 95 % CI over the seeds" in (out / "summary.md").read_text().replace("Student-t", "t")
    assert json.loads((out / "config.json").read_text())["seeds"] == [0, 1]
    assert json.loads((out / "seed-1" / "timing.json").read_text())["resumed"] is False  # a fresh run says so
    assert "resumed from checkpoints" not in (out / "seed-1" / "summary.md").read_text()


def test_resume_refuses_other_training_settings_but_takes_other_evaluation(seeds_run, tmp_path, capsys):
    import shutil

    from scenarios.cli import main

    out = tmp_path / "r"
    shutil.copytree(seeds_run, out)
    base = ["scenario", "distillation", "--preset", "tiny", "--feature-encoder", "pixels", "--out", str(out),
            "--no-progress", "--seeds", "2"]
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main([*base, "--lora-rank", "3"]) == 2
    err = capsys.readouterr().err
    assert "seed-0 holds checkpoints trained with other settings (lora_rank)" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps  # checked before any work
    assert main([*base, "--eval-snr", "0,20"]) == 0  # evaluation-only: resumes, trains nothing
    tka = list(csv.DictReader(open(out / "seed-1" / "tka.csv")))
    assert {float(r["snr_db"]) for r in tka} == {0.0, 20.0}
    ckpts = {p: p.stat().st_mtime_ns for p in (out / "seed-1" / "checkpoints").iterdir()}
    assert ckpts == {p: t for p, t in stamps.items() if p.parent == out / "seed-1" / "checkpoints"}


def test_single_and_multi_seed_runs_do_not_share_a_folder(tiny_run, tmp_path, capsys):
    from scenarios.distillation.cli import main

    single, _, _ = tiny_run
    pixels = ["--feature-encoder", "pixels"]
    assert main(_parse(["--preset", "tiny", *pixels, "--seeds", "2", "--out", str(single)])) == 2
    assert "holds a single run" in capsys.readouterr().err
    multi = tmp_path / "m"
    (multi / "seed-0").mkdir(parents=True)
    assert main(_parse(["--preset", "tiny", *pixels, "--out", str(multi)])) == 2
    assert "holds a multi-seed run" in capsys.readouterr().err
    assert [p.name for p in multi.iterdir()] == ["seed-0"]


def test_small_differences_keep_their_digits():
    from scenarios.distillation.seeds import format_number

    assert format_number(2.4e-6) == "+2.400e-06" and format_number(-0.0291) == "-0.0291" and format_number(0.0) == "+0.0000"


def test_aggregate_verdicts_follow_the_ci_over_seeds():
    from scenarios.distillation.seeds import aggregate

    def head(makd_gain: float, cala_gain: float) -> dict:
        pc = {k: {"mean": makd_gain} for k in ("makd_minus_none", "g_lora_minus_none", "metaword_minus_none",
                                                 "makd_minus_g_lora")}
        return {"paired_consistency": pc, "psnr_gain_away_mean_db": cala_gain, "psnr_gain_at_train_snr_db": 0.0,
                "psnr_gain_vs_mixed_away_mean_db": -cala_gain, "psnr_gain_vs_cala_fixed_snr_away_mean_db": 0.0,
                "psnr_gain_vs_fixed_long_away_mean_db": 0.0, "psnr_gain_cala_fixed_snr_vs_fixed_away_mean_db": 0.0, "consistency_none": 0.5,
                "consistency_makd": 0.5 + makd_gain}

    agg = aggregate({0: head(0.010, 0.3), 1: head(0.012, -0.2), 2: head(0.011, 0.1)})
    assert agg["claims"]["makd_minus_none"]["verdict"] == "holds"
    assert agg["claims"]["cala_minus_fixed_away"]["verdict"] == "undecided"
    assert agg["claims"]["cala_minus_mixed_away"]["verdict"] == "undecided"
    agg = aggregate({0: head(-0.010, 0.3), 1: head(-0.012, 0.31), 2: head(-0.011, 0.29)})
    assert agg["claims"]["makd_minus_none"]["verdict"] == "does NOT hold"
    assert agg["claims"]["cala_minus_fixed_away"]["verdict"] == "holds"
    assert agg["consistency_gain_pct"]["mean"] == pytest.approx(-2.2)
    nan = {k: head(0.01, 0.3) for k in range(3)}
    for h in nan.values():
        h["psnr_gain_at_train_snr_db"] = float("nan")  # no evaluation SNR at the training SNR
    assert aggregate(nan)["claims"]["cala_minus_fixed_at_train"]["verdict"] == "n/a (not measured)"
