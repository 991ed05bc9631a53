"""Command line: ``qceas run``, ``qceas network``, ``qceas consensus``, ``qceas report``,
``qceas validate``, ``qceas scenarios``.

A thin layer over ``qceas.experiments``: it parses arguments, turns config errors into
one clear line on stderr (exit code 2) and prints the summary table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qceas.config import ConfigError, ExperimentConfig, from_dict, parse_text
from qceas.engine import ENGINES, EngineError
from qceas.experiments import DEFAULT_SCENARIO, resolve, run_experiment, scenario_names
from qceas.experiments.config import since
from qceas.experiments.consensus_run import consensus_table, run_consensus
from qceas.experiments.interrupted import Interrupted
from qceas.experiments.network_run import network_table, run_network
from qceas.experiments.report import write_report
from qceas.experiments.results import summary_table
from qceas.experiments.sweep import run_sweep
from qceas.experiments.validate import validate
from qceas.registry import UnknownNameError


def one_line(text: str) -> str:
    """``text`` on one line: characters that are not printable (a newline or carriage
    return inside a key a user wrote, say) are shown as escapes, as ``repr`` would."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _check_resumable(out: Path, config: ExperimentConfig) -> None:
    """``--resume``: ``out`` must hold a run of ``config`` (its fingerprint), so that a
    mistyped directory or config is an error rather than a fresh start."""
    stamp = out / ("sweep_config.yaml" if config.sweep else "fingerprint.txt")
    if not stamp.is_file():
        raise ConfigError(f"--resume: {out} holds no run to resume (no {stamp.name})")
    if config.sweep:  # the same sweep of the same fingerprint (seeds and names may grow)
        try:
            written = from_dict(parse_text(stamp.read_text(), origin=str(stamp)))
        except ConfigError:
            written = None
        same = (
            written is not None
            and written.fingerprint() == config.fingerprint()
            and written.to_dict()["sweep"] == config.to_dict()["sweep"]
        )
    else:
        same = stamp.read_text().strip() == config.fingerprint()
        legacy = {v: k for k, v in config.legacy_fingerprints().items()}
        if stamp.read_text().strip() in legacy:
            version = legacy[stamp.read_text().strip()]
            raise ConfigError(
                f"--resume: {out} holds a run of this config computed by an earlier qceas "
                f"(evaluation {version}; since then: {since(version)}); it cannot be resumed"
            )
    if not same:
        raise ConfigError(f"--resume: {out} holds a run of another config ({stamp.name} differs)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qceas",
        description="Distributed quantum neural network training over a simulated "
        "quantum internet (CEAS).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = _runner(sub, "run", "run a scenario or config file", "rounds", "strategies")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--engine",
        choices=ENGINES.names(),
        default=None,
        help="where the nodes' evaluations run (overrides engine.name): local, in this "
        "process, or ray, as Ray tasks on the cluster at engine.address or RAY_ADDRESS, "
        "else on a private Ray on this machine; the numbers are the same",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (finished runs reused, a run cut short continued "
        "from its last checkpoint); refused if --out holds no run of this config",
    )
    net = _runner(
        sub,
        "network",
        "simulate the network and every scheduler alone (no training)",
        "demand rounds",
        "policies",
    )
    net.add_argument("--no-sweep", action="store_true", help="skip the coherence-time sweep")
    net.add_argument("--quiet", action="store_true", help="no progress lines")
    cons = sub.add_parser(
        "consensus",
        help="run the EPR-pair quantum Byzantine agreement alone over the consensus grid",
    )
    cons.add_argument(
        "target",
        nargs="?",
        default="consensus",
        help="built-in scenario name or config file with a consensus section (default: consensus)",
    )
    cons.add_argument("--out", required=True, help="output directory")
    cons.add_argument(
        "--instances", type=int, default=None, help="agreements per point (overrides config)"
    )
    cons.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    cons.add_argument("--quiet", action="store_true", help="no progress lines")
    rep = sub.add_parser("report", help="write one self-contained HTML report of a results dir")
    rep.add_argument("directory", help="a directory written by `qceas run` or `qceas network`")
    rep.add_argument("--output", default=None, help="output file (default: DIR/report.html)")
    val = sub.add_parser("validate", help="check a config (or scenario) without running it")
    val.add_argument("target", help="built-in scenario name or config file")
    sub.add_parser("scenarios", help="list the built-in scenarios")
    return parser


def _runner(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    rounds: str,
    names: str,
) -> argparse.ArgumentParser:
    """A subcommand with the arguments ``run`` and ``network`` share; ``--NAMES`` is
    the comma-separated list of strategies or policies to run."""
    command = sub.add_parser(name, help=help_text)
    command.add_argument(
        "target",
        nargs="?",
        default=None,
        help=f"built-in scenario name or config file (default: {DEFAULT_SCENARIO})",
    )
    command.add_argument("--out", required=True, help="output directory")
    command.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (overrides config)"
    )
    command.add_argument("--rounds", type=int, default=None, help=f"{rounds} (overrides config)")
    command.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    command.add_argument(f"--{names}", dest="names", default=None, help=f"comma-separated {names}")
    return command


def _with_overrides(
    args: argparse.Namespace, section: str, names_key: str, names: str | None
) -> ExperimentConfig:
    """The target's config with ``--seeds``, ``--rounds`` (into ``section``) and a
    comma-separated list ``names`` (into ``section.names_key``) applied."""
    config = resolve(args.target)
    raw: dict[str, object] = {}
    if args.seeds is not None:
        raw["seeds"] = args.seeds
    changes: dict[str, object] = {}
    if args.rounds is not None:
        changes["rounds"] = args.rounds
    if names is not None:
        changes[names_key] = [s.strip() for s in names.split(",") if s.strip()]
    if changes:
        raw[section] = changes
    return from_dict(raw, base=config) if raw else config


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Progress lines on stderr, unless ``--quiet``."""
    if args.quiet:
        return None
    return lambda line: print(line, file=sys.stderr, flush=True)


def _network_command(args: argparse.Namespace) -> int:
    config = _with_overrides(args, "schedule", "policies", args.names)
    outcome = run_network(
        config,
        args.out,
        sweep=not args.no_sweep,
        plot=not args.no_plots,
        progress=_progress(args),
    )
    print(network_table(outcome.summary))
    if outcome.reused:
        print(f"(reused {outcome.reused} finished unit(s) from {outcome.out})")
    files = "network_summary.json, network_policies.csv"
    if outcome.summary.get("model") != "chain":
        files += ", ledgers/"
    print(f"results in {outcome.out}/ ({files})")
    return 0


def _consensus_command(args: argparse.Namespace) -> int:
    config = resolve(args.target)
    if args.instances is not None:
        config = from_dict({"consensus": {"instances": args.instances}}, base=config)
    outcome = run_consensus(
        config,
        args.out,
        plot=not args.no_plots,
        progress=_progress(args),
    )
    print(consensus_table(outcome.summary))
    if outcome.reused:
        print(f"(reused {outcome.reused} finished point(s) from {outcome.out})")
    print(f"results in {outcome.out}/ (consensus_summary.json, consensus_points.csv, *.png)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qceas`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "out", None) is not None and not args.out.strip():
            raise ConfigError(f"--out {args.out!r}: must name a directory")
        if args.command == "scenarios":
            print("\n".join(scenario_names()))
            return 0
        if args.command == "validate":
            for line in validate(resolve(args.target), args.target):
                print(line)
            return 0
        if args.command == "network":
            return _network_command(args)
        if args.command == "consensus":
            return _consensus_command(args)
        if args.command == "report":
            print(f"report written to {write_report(args.directory, args.output)}")
            return 0
        config = _with_overrides(args, "training", "strategies", args.names)
        if args.engine is not None:
            config = from_dict({"engine": {"name": args.engine}}, base=config)
        if args.resume:
            _check_resumable(Path(args.out), config)
        if config.sweep:
            swept = run_sweep(config, args.out, progress=not args.quiet, plot=not args.no_plots)
            print(f"sweep of {', '.join(swept.summary['parameters'])}: ", end="")
            print(f"{len(swept.summary['points'])} point(s) in {swept.out}/points/")
            print(f"(reused {swept.reused}, computed {swept.computed} run(s))")
            print(f"results in {swept.out}/ (sweep.csv, sweep_summary.json, sweep_accuracy.png)")
            return 0
        outcome = run_experiment(
            config,
            args.out,
            progress=not args.quiet,
            plot=not args.no_plots,
        )
    except (ConfigError, UnknownNameError, EngineError) as exc:
        print(f"qceas: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: what was saved, not a traceback
        said = f": {exc}" if isinstance(exc, Interrupted) else " before anything was saved"
        print(f"qceas: interrupted{said}", file=sys.stderr)
        return 130
    except OSError as exc:
        where = exc.filename or ""
        print(f"qceas: error: {one_line(f'{where}: {exc.strerror or exc}')}", file=sys.stderr)
        return 2
    print(summary_table(outcome.summary))
    if outcome.reused:
        print(f"(reused {outcome.reused} finished run(s) from {outcome.out})")
    print(f"results in {outcome.out}/ (metrics.csv, node_metrics.csv, summary.json, *.png)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
