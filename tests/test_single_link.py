"""Single-link scenario (arXiv 2507.16680): sparsity prox, power, activation, FLOPs, resume, CLI."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from channel import make_generator
from scenarios.single_link.complex_nn import ComplexLinear, PhaseAmplitude
from scenarios.single_link.config import SingleLinkConfig
from scenarios.single_link.linear import linear_flops, linear_link
from scenarios.single_link.neural import NeuralLink, batch_power
from scenarios.single_link.points import PointSpec, make_problem, run_point
from scenarios.single_link.sparsity import flops, hard_threshold, nonzero_weights
from scenarios.single_link.training import TrainSettings, decode_neural, train_neural
from scenarios.synthetic import make_synthetic

torch.set_num_threads(1)


def _tiny_model(seed: int = 0, hidden: int = 6) -> NeuralLink:
    return NeuralLink(m=5, symbols=2, received=2, p=4, hidden=hidden, activation="gelu",
                      seed_generator=make_generator(seed, "test-init"))


def _tiny_data(n: int = 64, seed: int = 1):
    g = make_generator(seed, "test-data")
    x = torch.complex(torch.randn(n, 5, generator=g), torch.randn(n, 5, generator=g))
    y = x[:, :4] * (1 + 0.5j) + 0.1 * x[:, 1:5].abs().to(torch.complex64)
    h = torch.complex(torch.randn(2, 2, generator=g), torch.randn(2, 2, generator=g)) / math.sqrt(2)
    return x, y, h


@pytest.fixture(scope="module")
def link():
    """One-user synthetic latents (clearly not real encoders) and the scenario options for them."""
    data = make_synthetic(users=1, ap_dim=32, user_dims=(24,), train=1200, test=300, seed=5)
    cfg = SingleLinkConfig(tx_encoder="a", rx_encoder="b", steps=40, hidden=16, test_samples=300, progress=False)
    return cfg, data


# ---- proximal hard thresholding -----------------------------------------------------------------

def test_hard_threshold_zeroes_exactly_the_weights_below_tau():
    model = _tiny_model()
    tau = 0.3
    layers = [m for m in model.modules() if isinstance(m, ComplexLinear)]
    with torch.no_grad():  # make some weights straddle τ exactly
        layers[0].weight[0, 0] = tau * (0.6 + 0.8j)  # |w| = τ: kept
        layers[0].weight[0, 1] = (tau - 1e-4) * 1j  # just below: zeroed
    before = [w.weight.detach().clone() for w in layers]
    bias_before = [w.bias.detach().clone() for w in layers]
    hard_threshold(model, tau)
    for w0, layer in zip(before, layers):
        below = w0.abs() < tau
        assert below.any() and (~below).any()
        assert torch.all(layer.weight[below] == 0)
        assert torch.equal(layer.weight[~below], w0[~below])  # the rest untouched, bit for bit
    for b0, layer in zip(bias_before, layers):
        assert torch.equal(layer.bias, b0)
    assert layers[0].weight[0, 0] != 0 and layers[0].weight[0, 1] == 0


def test_training_with_beta_leaves_no_weight_below_tau():
    model = _tiny_model()
    x, y, h = _tiny_data()
    s = TrainSettings(steps=15, batch_size=16, lr=1e-2, beta=10.0, checkpoint_every=100)
    train_neural(model, x, y, h, 0.01, s, progress=False)
    tau = s.lr * s.beta
    w = torch.cat([m.weight.detach().flatten() for m in model.modules() if isinstance(m, ComplexLinear)])
    assert (w == 0).sum() > 0
    assert torch.all((w == 0) | (w.abs() >= tau))


# ---- power ----------------------------------------------------------------------------------------

def test_power_constraint_holds_on_every_transmitted_batch():
    model = _tiny_model()
    x, y, h = _tiny_data(n=80)
    sent: list[float] = []
    original = model.transmit

    def recording(xb):
        s = original(xb)
        sent.append(float(batch_power(s.detach())))
        return s

    model.transmit = recording  # type: ignore[method-assign]
    hist = train_neural(model, 3.0 * x, y, h, 0.1, TrainSettings(steps=12, batch_size=16), progress=False)
    decode_neural(model, 7.0 * x, h, 0.1, make_generator(0, "t"), batch=32)  # 3 batches, last one short
    assert len(sent) == 12 + 3
    assert max(abs(p - 1.0) for p in sent) < 1e-5
    assert hist["max_power_error"] < 1e-5


def test_linear_pre_equalizer_respects_the_power_budget(link):
    cfg, data = link
    for power in (1.0, 0.25):
        c = cfg.model_copy(update={"power": power})
        rc, prob = make_problem(c, data, PointSpec("linear", 3, 2, 0.0, 1.0))
        _, info = linear_link(prob, rc)
        assert info["tr_power"] <= power * (1 + 1e-5)
        assert info["tr_power"] >= 0.5 * power  # the budget is used, not trivially satisfied by F = 0


# ---- activation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gelu", "relu"])
def test_phase_amplitude_activation_preserves_phase(kind):
    g = make_generator(3, "act")
    z = torch.complex(torch.randn(50, 8, generator=g), torch.randn(50, 8, generator=g))
    act = PhaseAmplitude(8, kind)
    with torch.no_grad():
        act.offset.copy_(torch.linspace(-0.5, 0.5, 8))
        out = act(z)
    expected_mag = torch.nn.functional.gelu(z.abs() + act.offset) if kind == "gelu" else torch.relu(z.abs() + act.offset)
    assert torch.allclose(out.abs(), expected_mag.abs(), atol=1e-6)
    on = expected_mag > 1e-4
    ratio = out[on] / z[on]  # same phase ⇔ the ratio is real and positive
    assert torch.all(ratio.imag.abs() < 1e-5) and torch.all(ratio.real > 0)
    assert torch.equal(act(torch.zeros(1, 8, dtype=torch.complex64)), torch.zeros(1, 8, dtype=torch.complex64))


# ---- FLOPs ----------------------------------------------------------------------------------------

def test_flops_are_eight_per_nonzero_complex_weight(link):
    model = _tiny_model(hidden=7)
    dense = 7 * 5 + 2 * 7 + 7 * 2 + 4 * 7
    assert nonzero_weights(model) == dense and flops(nonzero_weights(model)) == 8 * dense
    hard_threshold(model, 0.4)
    nnz = sum(int((v != 0).sum()) for k, v in model.state_dict().items() if k.endswith("weight"))
    assert 0 < nnz < dense and flops(nonzero_weights(model)) == 2 * (4 * nnz)
    cfg, data = link
    _, prob = make_problem(cfg, data, PointSpec("linear", 3, 2, 10.0, 1.0))
    m, big_m, p, r = 16, 2 * 2, 12, 2 * 2  # ⌈32/2⌉, N_T c, ⌈24/2⌉, N_R c
    assert linear_flops(prob) == 8 * (big_m * m + p * r)


# ---- resume ---------------------------------------------------------------------------------------

class _Interrupt(Exception):
    pass


def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path):
    x, y, h = _tiny_data()
    s = TrainSettings(steps=20, batch_size=16, lr=5e-3, beta=2.0, checkpoint_every=5, seed=7)
    straight = _tiny_model()
    train_neural(straight, x, y, h, 0.05, s, checkpoint=tmp_path / "a.pt", progress=False)

    def stop_at_12(step: int) -> None:
        if step == 12:
            raise _Interrupt

    ckpt = tmp_path / "b.pt"
    with pytest.raises(_Interrupt):
        train_neural(_tiny_model(), x, y, h, 0.05, s, checkpoint=ckpt, progress=False, on_step=stop_at_12)
    resumed = _tiny_model()
    hist = train_neural(resumed, x, y, h, 0.05, s, checkpoint=ckpt, progress=False)
    assert hist["resumed_from"] == 10  # last checkpoint before the interruption
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), k
    fresh = _tiny_model()  # a different schedule is not silently resumed
    hist = train_neural(fresh, x, y, h, 0.05, dataclasses.replace(s, steps=21), checkpoint=ckpt, progress=False)
    assert hist["resumed_from"] == 0


# ---- every method on one synthetic point ------------------------------------------------------------

def test_every_method_runs_on_one_link(link):
    cfg, data = link
    spec = PointSpec("x", 3, 2, 20.0, 1.0)
    problem = make_problem(cfg, data, spec)
    acc = {}
    for m in ("neural", "linear", "unaware-mmse", "unaware-zf", "first-k", "top-k", "oracle"):
        rec = run_point(cfg, data, dataclasses.replace(spec, method=m), problem=problem)
        assert 0 <= rec["accuracy"] <= 1 and math.isfinite(rec["mse"])
        acc[m] = rec["accuracy"]
    assert acc["oracle"] == rec["oracle_accuracy"]
    assert acc["linear"] > 1.5 / 5  # well above chance (5 classes) through the channel


# ---- CLI --------------------------------------------------------------------------------------------

TX, RX = "edgenext-partial", "vit64-rotation"  # the two fastest encoders of the tiny zoo


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    import zoo

    try:
        zoo.load_dataset("fashion-mnist")
    except FileNotFoundError as err:
        pytest.skip(f"Fashion-MNIST not installed: {err}")
    cache = tmp_path_factory.mktemp("zoo")
    zoo.build_zoo([TX, RX], cache, "tiny", progress=False, threads=1)
    return cache


def test_cli_tiny_run_writes_csv_figures_and_summary(tiny_zoo, tmp_path, capsys):
    import csv

    from scenarios.cli import main

    out = tmp_path / "out"
    argv = ["scenario", "single-link", "--quick", "--out", str(out), "--zoo-profile", "tiny", "--cache-dir",
            str(tiny_zoo), "--tx-encoder", TX, "--rx-encoder", RX, "--channel-uses", "1,4", "--snrs", "10",
            "--pilot-fractions", "0.1,1", "--betas", "0,40", "--steps", "30", "--hidden", "8",
            "--test-samples", "300", "--iterations", "20", "--methods", "neural,linear,unaware-mmse,top-k,oracle", "--no-progress"]
    assert main(argv) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["sweep"] for r in rows} == {"zeta", "snr", "pilots", "sparsity"}
    assert {r["method"] for r in rows} == {"neural", "linear", "unaware-mmse", "top-k", "oracle"}
    for name in ("accuracy_vs_zeta.png", "accuracy_vs_snr.png", "accuracy_vs_pilots.png", "accuracy_vs_flops.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "summary.md").read_text()
    assert "90 % of the oracle" in text and "FLOPs fall with β" in text
    assert not list((out / "checkpoints").iterdir())  # finished points leave no checkpoint behind
    capsys.readouterr()
    assert main(argv) == 0  # re-run: every point is stored, nothing is recomputed
    assert "0 run now" in capsys.readouterr().out
    assert main([*argv, "--sweeps", "zeta"]) == 0  # fewer sweeps: no figure left from the sweeps not in results.csv
    assert {p.name for p in out.glob("*.png")} == {"accuracy_vs_zeta.png"}


@pytest.mark.parametrize("extra, needle", [
    (["--betas", "-1"], "betas"),
    (["--pilot-fractions", "0,1"], "pilot_fractions"),
    (["--tx-encoder", "vit-sup", "--rx-encoder", "vit-sup"], "must differ"),
    (["--methods", "neural,magic"], "magic"),
    (["--tx-encoder", "no-such-encoder", "--zoo-profile", "tiny"], "no-such-encoder"),
    (["--paper", "--cifar-dir", "/nonexistent"], "paper setting needs local files"),
])
def test_bad_options_exit_2_with_one_clear_line(tmp_path, capsys, extra, needle):
    from scenarios.cli import main

    code = main(["scenario", "single-link", "--quick", "--out", str(tmp_path / "o"), "--cache-dir",
                 str(tmp_path / "zoo"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0] and err[0].startswith("semalign: error:")


def test_bad_list_value_is_an_argparse_error(tmp_path, capsys):
    from scenarios.cli import main

    with pytest.raises(SystemExit) as e:
        main(["scenario", "single-link", "--out", str(tmp_path), "--seeds", "a,b"])
    assert e.value.code == 2 and "--seeds" in capsys.readouterr().err
