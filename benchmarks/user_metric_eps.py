"""Choose the task metric's ε on validation data, never on test data (DESIGN.md §3 *User metric*).

    python -m benchmarks.user_metric_eps [--out runs/user-metric-eps] [--snr 20] [--eps 0.01,0.1,1,10]

Every device splits its own *train* latents: the first ``N − V`` rows are the fitting part (pilots
are drawn from them and each user retrains its classifier on them only), the last ``V`` rows stand in
for held-out data. The engine then runs federated (and centralised) at c ∈ {1, 2, 4, 8} for each ε
and for plain MSE; the ε with the best mean validation accuracy over c is reported.
Writes ``eps.csv``, ``eps.json`` and ``eps.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from tqdm import tqdm

from protocol.atomic import write_json_atomic
from protocol.config import RunConfig
from scenarios.arglists import floats, int_list
from scenarios.engine import run
from scenarios.figures import save_figure
from scenarios.latents import Classifier, LatentData
from scenarios.sources import load_run_latents
from scenarios.sweep_runner import write_tidy_csv

COLUMNS = ("metric", "eps", "method", "channel_uses", "accuracy", "mse")


def validation_split(data: LatentData, held_out: int) -> LatentData:
    """Train rows only: fitting part → ``train``, last ``held_out`` rows → ``test``; users'
    classifiers retrained on the fitting part (a user can do all of this privately)."""
    from zoo import train_probe

    cut = data.ap_train.shape[0] - held_out
    if cut <= 0 or data.train_labels is None:
        raise SystemExit(f"need labelled train rows and more than {held_out} of them")
    labels = data.train_labels
    users = []
    for u in data.users:
        p = train_probe(u.train[:cut], labels[:cut])
        users.append(dataclasses.replace(u, train=u.train[:cut], test=u.train[cut:], classifier=Classifier(p.weight, p.bias)))
    return dataclasses.replace(data, ap_train=data.ap_train[:cut], ap_test=data.ap_train[cut:], users=users,
                               train_labels=labels[:cut], test_labels=labels[cut:], source=data.source + ":validation")


def plot(rows: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=150)
    for (metric, eps, method) in dict.fromkeys((r["metric"], r["eps"], r["method"]) for r in rows):
        pts = [(r["channel_uses"], r["accuracy"]) for r in rows
               if (r["metric"], r["eps"], r["method"]) == (metric, eps, method)]
        label = f"{method}, " + ("MSE (paper)" if eps is None else f"task ε={eps:g}")
        ax.plot(*zip(*pts), marker="o", ls="-" if method == "federated" else ":", label=label)
    ax.set_xlabel("channel uses c")
    ax.set_ylabel("mean validation accuracy")
    ax.set_xscale("log", base=2)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.user_metric_eps", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/user-metric-eps"),
                   help="output folder (CSV, JSON, figure; default runs/user-metric-eps)")
    p.add_argument("--snr", type=float, default=20.0, help="SNR of every user [dB] (default 20)")
    p.add_argument("--eps", type=floats, default=(0.01, 0.1, 1.0, 10.0),
                   help="task-metric ε values to try (the weight of plain MSE), comma-separated (default 0.01,0.1,1,10)")
    p.add_argument("--uses", type=int_list("channel uses", minimum=1, distinct=True), default=(1, 2, 4, 8),
                   help="channel uses c to sweep, comma-separated (default 1,2,4,8)")
    p.add_argument("--held-out", type=int, default=4000, help="validation rows taken from the end of train")
    p.add_argument("--methods", type=lambda t: tuple(t.split(",")), default=("federated", "centralised"),
                   help="methods to run, comma-separated (default federated,centralised)")
    a = p.parse_args(argv)
    base = RunConfig(users=4, snr_db=a.snr)
    data = validation_split(load_run_latents(base), a.held_out)
    settings = [("mse", None)] + [("task", e) for e in a.eps]
    rows = []
    todo = [(s, m, c) for s in settings for m in a.methods for c in a.uses]
    for (metric, eps), method, c in tqdm(todo, desc="ε sweep (validation)"):
        upd = {"user_metric": metric, "method": method, "channel_uses": c, "test_samples": a.held_out}
        if eps is not None:
            upd["metric_eps"] = eps
        r = run(base.model_copy(update=upd), data)
        rows.append({"metric": metric, "eps": eps, "method": method,
                     "channel_uses": c, "accuracy": r["mean"]["accuracy"], "mse": r["mean"]["mse"]})
    a.out.mkdir(parents=True, exist_ok=True)
    write_tidy_csv(rows, a.out / "eps.csv", COLUMNS)
    fed = [r for r in rows if r["method"] == a.methods[0]]
    score = {}
    for r in fed:
        score.setdefault((r["metric"], r["eps"]), []).append(r["accuracy"])
    mean = {k: sum(v) / len(v) for k, v in score.items()}
    best = max((k for k in mean if k[0] == "task"), key=mean.get)
    summary = {"snr_db": a.snr, "held_out": a.held_out, "mean_validation_accuracy":
               {("mse" if m == "mse" else f"task eps={e:g}"): v for (m, e), v in mean.items()}, "best_eps": best[1]}
    write_json_atomic(a.out / "eps.json", {"summary": summary, "rows": rows})
    plot(rows, a.out / "eps.png", f"validation split, K=4, 4×4, SNR {a.snr:g} dB, AP {base.ap_encoder}")
    print(f"{'metric':<16}" + "".join(f"{m[:4]} c={c:<3}" for m in a.methods for c in a.uses) + "  mean")
    for (metric, eps) in settings:
        e = eps
        cells = [next(r["accuracy"] for r in rows if (r["metric"], r["eps"], r["method"], r["channel_uses"]) == (metric, e, m, c))
                 for m in a.methods for c in a.uses]
        label = "mse (paper)" if metric == "mse" else f"task ε={eps:g}"
        print(f"{label:<16}" + "".join(f"{v:>10.3f}" for v in cells) + f"  {mean[(metric, e)]:.3f}")
    print(f"best ε on validation ({a.methods[0]}, mean over c): {best[1]:g}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
