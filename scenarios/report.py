"""Terminal output of a run: a progress bar while it runs and the per-user table after."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from protocol.config import RunConfig
from scenarios.engine import run
from scenarios.latents import LatentData

__all__ = ["run_with_progress", "print_run", "format_bytes"]


def _wall(result: dict) -> str:
    """This invocation's wall time; after a resume also where it resumed and the time of all rounds."""
    text = f"wall time = {result['wall_time_s']:.2f} s"
    if result.get("resumed_at_round") is not None:
        text += (f" (this invocation, resumed after round {result['resumed_at_round']}; "
                 f"all rounds {result['rounds_wall_time_s']:.2f} s)")
    return text


def format_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def run_with_progress(cfg: RunConfig, data: LatentData, out: Path | None, quiet: bool = False) -> dict:
    """:func:`scenarios.engine.run` with a progress bar over ADMM iterations."""
    if quiet:
        return run(cfg, data, out)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    ) as progress:
        task = progress.add_task(cfg.method, total=cfg.iterations, info="")

        def tick(it: int, rec: dict) -> None:
            info = f"J={rec['objective']:.4g}" if "objective" in rec else ""
            progress.update(task, completed=it, info=info)

        result = run(cfg, data, out, on_iteration=tick)
        progress.update(task, completed=cfg.iterations)
    return result


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def print_run(result: dict, out: Path | None = None, console: Console | None = None) -> None:
    """The per-user table (encoder, MSE, accuracy, oracle accuracy) and the run's totals."""
    console = console or Console()
    cfg = result["config"]
    title = (
        f"{result['method']}: K={cfg['users']} users, N_T={cfg['tx_antennas']} N_R={cfg['rx_antennas']}, "
        f"c={cfg['channel_uses']} (ζ={result['compression']:.3f}), AP encoder {result['ap_encoder']}"
    )
    table = Table(title=title)
    for col in ("user", "encoder", "dim", "SNR [dB]", "MSE", "NMSE", "accuracy", "oracle acc."):
        table.add_column(col, justify="right" if col not in ("encoder",) else "left")
    for u in result["users"]:
        table.add_row(str(u["id"]), u["encoder"], str(u["latent_dim"]), f"{u['snr_db']:g}", _fmt(u["mse"]),
                      _fmt(u["nmse"]), _fmt(u["accuracy"], 3), _fmt(u["oracle_accuracy"], 3))
    m = result["mean"]
    table.add_row("mean", "", "", "", _fmt(m["mse"]), _fmt(m["nmse"]), _fmt(m["accuracy"], 3),
                  _fmt(m["oracle_accuracy"], 3), style="bold")
    console.print(table)
    b = result.get("bytes")
    parts = [f"tr(FF^H) = {_fmt(result['tr_FFH'])}" if result["tr_FFH"] is not None else "tr(FF^H) = -",
             f"iterations = {result['iterations']}", _wall(result)]
    if b:
        parts.append(f"bytes AP→users {format_bytes(b['downlink_total'])}, users→AP {format_bytes(b['uplink_total'])} "
                     f"({b['protocol']} mode; per round {format_bytes(b['downlink_per_round'])} / "
                     f"{format_bytes(b['uplink_per_round'])})")
    console.print("  ".join(parts))
    if out is not None:
        console.print(f"results: {out / 'results.json'}")
