"""The ``semalign`` command line: runs, config files, and clear one-line user errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scenarios.cli import main


@pytest.fixture(scope="module")
def npz(tmp_path_factory, synthetic):
    path = tmp_path_factory.mktemp("lat") / "latents.npz"
    arrays = dict(ap_train=synthetic.ap_train, ap_test=synthetic.ap_test,
                  train_labels=synthetic.train_labels, test_labels=synthetic.test_labels)
    for k, u in enumerate(synthetic.users):
        arrays[f"user{k}_train"], arrays[f"user{k}_test"] = u.train, u.test
        arrays[f"user{k}_weight"], arrays[f"user{k}_bias"] = u.classifier.weight, u.classifier.bias
    np.savez(path, **arrays)
    return path, arrays


def _semalign(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scenarios", *args], capture_output=True, text=True, timeout=120)


def test_run_with_own_latents_and_config(npz, tmp_path, capsys):
    path, _ = npz
    cfg = tmp_path / "run.toml"
    cfg.write_text("users = 3\nantennas = 2\nchannel-uses = 2\niterations = 12\npilots = 800\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(cfg), "--latents", str(path), "--iterations", "7", "--out", str(out), "--quiet"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["iterations"] == 7  # the flag wins over the file
    assert res["config"]["tx_antennas"] == 2 and res["config"]["users"] == 3
    assert [u["encoder"] for u in res["users"]] == ["user0", "user1", "user2"]
    printed = capsys.readouterr().out
    assert "oracle acc." in printed and "tr(FF^H)" in printed


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--power", "-1"], "field 'power'"),
        (["--antennas", "0"], "field 'tx_antennas'"),
        (["--users", "9"], "field 'users'"),
        (["--channel-uses", "0"], "field 'channel_uses'"),
    ],
)
def test_bad_config_one_line_error(npz, args, needle, capsys):
    # in-process (the entry point itself is exercised by the subprocess tests below)
    assert main(["run", "--latents", str(npz[0]), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_unknown_encoder_one_line_error():
    r = _semalign("run", "--ap-encoder", "no-such-encoder")
    assert r.returncode == 2 and "field 'ap_encoder'" in r.stderr and "Traceback" not in r.stderr


def test_nan_and_mismatched_latents(npz, tmp_path):
    _, arrays = npz
    bad = dict(arrays)
    bad["user1_train"] = arrays["user1_train"].copy()
    bad["user1_train"][0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **bad)
    r = _semalign("run", "--latents", str(tmp_path / "nan.npz"))
    assert r.returncode == 2 and "user1_train" in r.stderr and "NaN" in r.stderr and "Traceback" not in r.stderr
    bad = dict(arrays)
    bad["user2_test"] = arrays["user2_test"][:, :5]
    np.savez(tmp_path / "dim.npz", **bad)
    r = _semalign("run", "--latents", str(tmp_path / "dim.npz"))
    assert r.returncode == 2 and "user2_test" in r.stderr and "Traceback" not in r.stderr


def test_misaligned_latents_without_classifiers_and_a_file_as_out_are_one_line_errors(npz, tmp_path, capsys):
    _, arrays = npz
    bad = {k: v for k, v in arrays.items() if not k.endswith(("_weight", "_bias"))}  # the probes get trained
    bad["user1_train"] = arrays["user1_train"][:100]
    np.savez(tmp_path / "rows.npz", **bad)
    assert main(["run", "--latents", str(tmp_path / "rows.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'user1_train' has 100 rows" in err and len(err.strip().splitlines()) == 1
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for cmd in (["run", "--out", str(afile)], ["compare", "--out", str(afile / "sub")]):
        assert main([*cmd, "--latents", str(npz[0])]) == 2
        assert "is a file, not a folder" in capsys.readouterr().err
    assert afile.read_text() == "not a folder"


def test_compare_writes_table_csv_and_plot(npz, tmp_path, capsys):
    path, _ = npz
    out = tmp_path / "cmp"
    rc = main(["compare", "--latents", str(path), "--uses", "1,2", "--methods", "federated,first-k",
               "--pilots", "600", "--test-samples", "200", "--iterations", "15", "--out", str(out)])
    assert rc == 0
    rows = (out / "compare.csv").read_text().splitlines()
    assert rows[0].startswith("channel_uses,compression,method,accuracy") and len(rows) == 1 + 2 * 2
    assert (out / "accuracy.png").stat().st_size > 10_000
    table = capsys.readouterr().out
    assert "| c | ζ | federated | first-k | oracle |" in table


def test_compare_rejects_unknown_method(npz, tmp_path, capsys):
    assert main(["compare", "--latents", str(npz[0]), "--methods", "federated,magic", "--out", str(tmp_path)]) == 2
    assert "field 'methods'" in capsys.readouterr().err


def test_launch_refuses_a_baseline_method(npz, tmp_path, capsys):
    assert main(["launch", "--latents", str(npz[0]), "--method", "top-k", "--out", str(tmp_path / "never")]) == 2
    assert "field 'method'" in capsys.readouterr().err and not (tmp_path / "never").exists()


def _sweep_args(path, out, iterations: int = 10):
    return ["sweep", "compression", "--quick", "--latents", str(path), "--pilots", "500", "--test-samples", "200",
            "--iterations", str(iterations), "--tol", "0", "--seeds", "1,2", "--out", str(out)]


def _slow_sweep_args(path, out):
    """Points slow enough (hundreds of iterations each) that an interrupt lands mid-sweep."""
    return _sweep_args(path, out, iterations=400)


def test_quick_sweep_rows_rerun_and_plots(npz, tmp_path, capsys):
    from scenarios.sweeps import SWEEPS

    path, _ = npz
    out = tmp_path / "sw"
    assert main(_sweep_args(path, out)) == 0
    rows = (out / "results.csv").read_text().splitlines()
    g = SWEEPS["compression"].quick
    expected = len(g["antennas"]) * len(g["channel_uses"]) * len(g["methods"]) * 2 * 4  # seeds × users
    assert rows[0].startswith("sweep,panel,x_name,x,method,group,seed,user") and len(rows) == 1 + expected
    for f in ("compression_accuracy.png", "compression_mse.png", "summary.md", "timing.csv"):
        assert (out / f).stat().st_size > 0
    before = {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    capsys.readouterr()
    assert main(_sweep_args(path, out)) == 0
    assert "0 point(s) run" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()} == before
    assert (out / "results.csv").read_text().splitlines() == rows
    # other base settings would mix their numbers with the stored ones: refused, nothing touched
    capsys.readouterr()
    assert main([*_sweep_args(path, out), "--processing", "widely-linear", "--snr", "10"]) == 2
    assert "processing, snr_db" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()} == before
    assert main([*_sweep_args(path, out), "--threads", "2"]) == 0  # threads do not change the numbers


def test_interrupted_sweep_resumes_to_the_same_csv(npz, tmp_path):
    import os
    import signal
    import time

    path, _ = npz
    ref = tmp_path / "ref"
    assert main(_slow_sweep_args(path, ref)) == 0
    out = tmp_path / "int"
    # a shell that runs the suite in the background makes its children ignore SIGINT (and Python
    # then installs no KeyboardInterrupt handler): restore the default, as a terminal would have it
    proc = subprocess.Popen([sys.executable, "-m", "scenarios", *_slow_sweep_args(path, out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    end = time.monotonic() + 120
    while time.monotonic() < end and len(list((out / "points").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    done = {p.name for p in (out / "points").glob("*.json")}
    assert 3 <= len(done) < len(list((ref / "points").glob("*.json")))  # it really stopped midway
    assert main(_slow_sweep_args(path, out)) == 0
    assert done <= {p.name for p in (out / "points").glob("*.json")}
    assert (out / "results.csv").read_text() == (ref / "results.csv").read_text()


def test_pick_groups_maximises_and_minimises_mean_pairwise_similarity():
    import itertools

    from scenarios.similarity_groups import group_similarity, pick_groups

    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (5, 5))
    m = (a + a.T) / 2
    np.fill_diagonal(m, 1.0)
    names = tuple("abcde")
    homo, hetero = pick_groups(names, m, size=3, max_copies=1)
    scores = {g: group_similarity(names, m, g) for g in itertools.combinations(names, 3)}
    assert group_similarity(names, m, homo) == max(scores.values())
    assert group_similarity(names, m, hetero) == min(scores.values())
    assert len(set(homo)) == 3 and len(set(hetero)) == 3  # max_copies=1: distinct users
    assert group_similarity(names, m, ("a", "a")) == 1.0  # two devices of one encoder


def test_similarity_sweep_groups_by_cka(npz, tmp_path):
    import csv

    path, _ = npz
    out = tmp_path / "sim"
    args = ["sweep", "similarity", "--quick", "--latents", str(path), "--test-samples", "200", "--iterations", "8",
            "--users", "3", "--out", str(out)]
    assert main(args) == 0
    groups = json.loads((out / "similarity.json").read_text())
    assert groups["names"] == ["user0", "user1", "user2", "user3"] and len(groups["cka"]) == 4
    homo, hetero = (groups["groups"][g] for g in ("homogeneous", "heterogeneous"))
    assert len(homo["users"]) == len(hetero["users"]) == 3
    assert homo["mean_pairwise_cka"] > hetero["mean_pairwise_cka"]
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["group"] for r in rows} == {"homogeneous", "heterogeneous"}
    assert len({r["panel"] for r in rows}) == 3  # three pilot fractions
    for g, members in (("homogeneous", homo["users"]), ("heterogeneous", hetero["users"])):
        assert sorted({r["encoder"] for r in rows if r["group"] == g}) == sorted(set(members))
    for f in ("similarity_matrix.png", "similarity_nmse.png", "similarity_accuracy.png", "summary.md"):
        assert (out / f).stat().st_size > 0


@pytest.mark.parametrize("args, needle", [(["sweep", "nonsense", "--quick"], "field 'sweep'"),
                                          (["sweep", "similarity", "--quick", "--pilots", "100"], "field 'pilots'"),
                                          (["sweep", "snr", "--quick", "--seeds", ""], "field 'seeds'"),
                                          (["sweep", "snr", "--quick", "--workers", "0"], "field 'workers'"),
                                          (["sweep", "snr", "--quick", "--power", "-1"], "field 'power'"),
                                          (["sweep", "snr", "--quick", "--method", "top-k"], "--method does not apply")])
def test_invalid_sweep_fails_before_work(npz, tmp_path, args, needle, capsys):
    assert main([*args, "--latents", str(npz[0]), "--out", str(tmp_path / "x")]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "x" / "points").exists()


def test_killed_sweep_worker_gives_one_line_error_and_keeps_points(npz, tmp_path):
    import os
    import signal
    import time

    path, _ = npz
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "scenarios", *_slow_sweep_args(path, out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    end = time.monotonic() + 120
    while time.monotonic() < end and not list((out / "points").glob("*.json")):
        time.sleep(0.05)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    workers = [int(c) for c in children if "python" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="ignore")]
    assert workers, "the sweep runs its points in a worker process"
    os.kill(workers[0], signal.SIGKILL)  # as the OOM killer would
    _, err = proc.communicate(timeout=60)
    stored = list((out / "points").glob("*.json"))
    assert proc.returncode == 1 and "worker process died" in err and "Traceback" not in err, err
    assert stored and all(json.loads(p.read_text())["users"] for p in stored)  # whole, readable points
    assert main(_slow_sweep_args(path, out)) == 0  # and the same command resumes


def test_sweep_titles_name_the_model_settings_that_differ_from_the_paper():
    from protocol.config import RunConfig
    from scenarios.cli import _model_note

    assert _model_note(RunConfig()) == ""
    assert _model_note(RunConfig(processing="widely-linear", user_metric="task")) == \
        "; processing widely-linear, user metric task"


def test_resume_with_other_settings_is_refused_before_any_process_starts(npz, tmp_path, capsys):
    import json as _json

    from ap_server.coordinator import STATE_FILE, checkpoint_differences
    from scenarios.cli import build_parser, config_from_args

    out = tmp_path / "run"
    out.mkdir()
    base = ["launch", "--latents", str(npz[0]), "--out", str(out), "--resume"]
    saved = config_from_args(build_parser().parse_args([*base, "--iterations", "10"]))
    np.savez(out / STATE_FILE, meta=np.array(_json.dumps({"config": saved.model_dump(mode="json")})))
    assert checkpoint_differences(out, saved) == []
    assert checkpoint_differences(tmp_path, saved) is None  # no checkpoint: nothing to compare
    assert main([*base, "--iterations", "15", "--users", "3"]) == 2
    err = capsys.readouterr().err
    assert "other settings (iterations, users)" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == [STATE_FILE]  # nothing started, nothing written
    np.savez(out / STATE_FILE, meta=np.array(_json.dumps({"config": saved.model_dump(mode="json")})),
             F=np.arange(64.0))
    good = (out / STATE_FILE).read_bytes()
    for damaged in (good[: len(good) // 2],  # truncated: the zip directory is gone
                    good.replace(np.arange(64.0).tobytes()[8:16], b"\xff" * 8)):  # one array's bytes flipped
        assert damaged != good
        (out / STATE_FILE).write_bytes(damaged)
        assert main([*base, "--iterations", "10"]) == 2  # refused at once, in one line
        err = capsys.readouterr().err
        assert "is unreadable" in err and "move it away to start afresh" in err and len(err.strip().splitlines()) == 1


def test_sweep_summary_shows_no_ci_for_a_single_seed():
    from scenarios.sweep_plots import summary_markdown

    row = dict(sweep="snr", panel="", method="federated", x=10.0, x_name="SNR [dB]", compression=0.25, accuracy=0.5)
    one = summary_markdown([dict(row, seed=42)])
    two = summary_markdown([dict(row, seed=42), dict(row, seed=7, accuracy=0.6)])
    assert "0.500 ± n/a" in one and "± 0.000" not in one
    assert "0.550 ± " in two and "n/a" not in two


def test_compare_records_its_settings_and_refuses_options_it_would_ignore(npz, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--latents", str(npz[0]), "--uses", "1", "--methods", "first-k", "--pilots", "600",
                 "--test-samples", "200", "--processing", "widely-linear", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["processing"] == "widely-linear" and config["uses"] == [1] and config["methods"] == ["first-k"]
    assert "widely-linear processing" in (out / "compare.md").read_text().splitlines()[0]
    for extra in (["--method", "top-k"], ["--channel-uses", "2"]):
        assert main(["compare", "--latents", str(npz[0]), *extra, "--out", str(tmp_path / "never")]) == 2
        assert "does not apply" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
