"""``qceas network`` on a repeater chain (``network.topology: chain``): the delivery time
of every policy of ``schedule.policies``, by Monte Carlo over seeds and exactly.

Per (policy, seed) a unit simulates ``schedule.rounds`` deliveries from an empty chain
(``qceas.network.chain.simulate``; stream ``[seed, 108]``, the same for every policy, so
policies are compared on common random numbers) and is saved under
``DIR/network_runs/<policy>_seed<k>.json`` (resumable, like every ``qceas network``
unit); per policy a unit ``<policy>_exact.json`` holds its exact expected delivery time
(``qceas.scheduling.chain_mdp``). ``network_summary.json`` then has::

    {"model": "chain", "chain": {nodes, attempt_success, swap_success, cutoff_slots,
     slot_s}, "policies": {name: {"delivery_time_slots": {mean, ci95, ci_method,
     samples}, "delivery_time_s": {mean, ci95}, "exact_delivery_time_slots",
     "exact_delivery_time_s", "exact_within_ci", "per_seed": {seed: mean}}}, ...}

``ci95`` is the t-interval of the mean over all deliveries of all seeds (they are
independent and identically distributed); ``exact_within_ci`` says whether the exact
value lies inside it (the Monte Carlo check of the simulation against the MDP). Seconds
are slots × ``schedule.slot_s``, or, where that is null, × the attempt period of one
link (``max(L/c, network.min_period_s)``, the herald's round trip of their model's
slot).
"""

from __future__ import annotations

import csv
import functools
import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qceas.experiments import intervals
from qceas.experiments.config import ConfigError, ExperimentConfig
from qceas.experiments.interrupted import Interrupted
from qceas.experiments.network_units import unit, write_summary
from qceas.network.chain import Chain, simulate
from qceas.physics import attempt_period
from qceas.scheduling.chain_policies import CHAIN_POLICIES, ChainScheduler
from qceas.streams import CHAIN_SIMULATION, stream


def slot_seconds(config: ExperimentConfig) -> float:
    """One slot of the chain, in seconds (module docstring)."""
    if config.schedule.slot_s is not None:
        return float(config.schedule.slot_s)
    return float(attempt_period(config.network.link_length_km, config.network.min_period_s))


def run_chain(
    config: ExperimentConfig,
    out: Path,
    seeds: Sequence[int],
    fingerprint: str,
    progress: Callable[[str], None] | None,
) -> tuple[dict[str, Any], Path, int, int]:
    """Every policy on every seed, and exactly (``out`` is prepared by the caller)."""
    chain = config.network.chain(config.schedule.cutoff_slots)
    slot_s = slot_seconds(config)
    started = time.perf_counter()
    counts = {"reused": 0, "computed": 0}
    runs = out / "network_runs"
    units: dict[str, list[dict[str, Any]]] = {}
    exact: dict[str, dict[str, Any]] = {}
    try:
        for policy in config.schedule.policies:
            scheduler = _Lazy(policy, dict(config.schedule.params.get(policy, {})))
            exact[policy] = unit(
                runs / f"{policy}_exact.json",
                fingerprint,
                counts,
                progress,
                f"{policy} exact",
                functools.partial(_exact, scheduler, chain),
                _exact_line,
            )
            _check_simulable(policy, exact[policy]["delivery_time_slots"])
            units[policy] = [
                unit(
                    runs / f"{policy}_seed{seed}.json",
                    fingerprint,
                    counts,
                    progress,
                    f"{policy} seed {seed}",
                    functools.partial(_simulate, scheduler, chain, config.schedule.rounds, seed),
                    _seed_line,
                )
                for seed in seeds
            ]
    except KeyboardInterrupt:
        raise Interrupted(
            f"{counts['computed']} unit(s) computed now and {counts['reused']} reused, every "
            f"finished one saved in {runs}; rerun the same command to continue"
        ) from None
    summary = {
        "scenario": config.name,
        "model": "chain",
        "seeds": list(seeds),
        "fingerprint": fingerprint,
        "chain": {
            "nodes": chain.nodes,
            "attempt_success": chain.p,
            "swap_success": chain.p_s,
            "cutoff_slots": chain.cutoff,
            "slot_s": slot_s,
            "deliveries_per_seed": config.schedule.rounds,
        },
        "policies": {
            p: _aggregate(units[p], exact[p], seeds, slot_s) for p in config.schedule.policies
        },
    }
    wall_s = time.perf_counter() - started
    write_summary(out, summary, counts, wall_s, _table(units, seeds))
    return summary, out, counts["reused"], counts["computed"]


def _exact_line(m: dict[str, Any]) -> str:
    return f"E[T] = {m['delivery_time_slots']:.6g} slots ({m['wall_s']:.1f} s)"


def _seed_line(m: dict[str, Any]) -> str:
    return f"mean delivery {m['mean_slots']:.4g} slots over {m['deliveries']} ({m['wall_s']:.1f} s)"


#: Longest expected delivery time (slots) a chain simulation takes on: each slot costs
#: tens of microseconds whatever the number of deliveries still waiting.
MAX_EXPECTED_SLOTS = 1.0e6


def _check_simulable(policy: str, expected_slots: float) -> None:
    """Refuse, before simulating, a chain whose deliveries are too rare to simulate."""
    if expected_slots > MAX_EXPECTED_SLOTS:
        raise ConfigError(
            f"schedule.policies: {policy} delivers every {expected_slots:.3g} slots on average "
            f"(exact), more than {MAX_EXPECTED_SLOTS:.0e} slots a simulation takes on; raise "
            "network.attempt_success or network.swap_success, or schedule.cutoff_slots"
        )


class _Lazy:
    """A policy built and prepared only when a unit needs it (a resumed run reuses
    every finished unit without solving the MDP again)."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name, self.params = name, params
        self._built: ChainScheduler | None = None

    def get(self) -> ChainScheduler:
        if self._built is None:
            self._built = CHAIN_POLICIES.get(self.name, **self.params)
        return self._built


def _exact(scheduler: _Lazy, chain: Chain) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        value = scheduler.get().exact(chain)
    except ValueError as exc:  # e.g. more states than max_states
        raise ConfigError(f"schedule.params.{scheduler.name}: {exc}") from None
    return {"delivery_time_slots": value, "wall_s": time.perf_counter() - started}


def _simulate(scheduler: _Lazy, chain: Chain, deliveries: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        policy = scheduler.get().prepare(chain)
    except ValueError as exc:  # e.g. more states than max_states
        raise ConfigError(f"schedule.params.{scheduler.name}: {exc}") from None
    try:
        found = simulate(chain, policy, deliveries, stream(seed, CHAIN_SIMULATION))
    except ValueError as exc:  # deliveries too rare to simulate
        raise ConfigError(f"network (chain, policy {scheduler.name}): {exc}") from None
    histogram = np.bincount(found.slots)
    return {
        "deliveries": deliveries,
        "mean_slots": found.mean(),
        "histogram": [int(c) for c in histogram],  # deliveries in slot t, t = 0, 1, ...
        "wall_s": time.perf_counter() - started,
    }


def _aggregate(
    units: list[dict[str, Any]], exact: dict[str, Any], seeds: Sequence[int], slot_s: float
) -> dict[str, Any]:
    slots = np.concatenate(
        [np.repeat(np.arange(len(u["histogram"])), u["histogram"]) for u in units]
    ).astype(float)
    found = intervals.interval(slots, intervals.NONNEGATIVE)
    ci = None if found.ci95 is None else [float(found.ci95[0]), float(found.ci95[1])]
    value = float(exact["delivery_time_slots"])
    return {
        "delivery_time_slots": {
            "mean": found.mean,
            "ci95": ci,
            "ci_method": found.method,
            "samples": int(slots.size),
        },
        "delivery_time_s": {
            "mean": None if found.mean is None else found.mean * slot_s,
            "ci95": None if ci is None else [ci[0] * slot_s, ci[1] * slot_s],
        },
        "exact_delivery_time_slots": value,
        "exact_delivery_time_s": value * slot_s,
        "exact_within_ci": None if ci is None else bool(ci[0] <= value <= ci[1]),
        "per_seed": {str(s): u["mean_slots"] for s, u in zip(seeds, units, strict=True)},
    }


def _table(units: dict[str, list[dict[str, Any]]], seeds: Sequence[int]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["policy", "seed", "deliveries", "mean_delivery_slots", "wall_s"])
    for policy, rows in units.items():
        for seed, row in zip(seeds, rows, strict=True):
            writer.writerow([policy, seed, row["deliveries"], row["mean_slots"], row["wall_s"]])
    return buffer.getvalue()


def chain_table(summary: dict[str, Any]) -> str:
    """A fixed-width table: per policy the simulated mean delivery time and its 95% CI,
    the exact value, and the mean in seconds."""
    rows = [("policy", "E[T] slots", "95% CI", "exact", "in CI", "E[T] s")]
    for name, m in summary["policies"].items():
        t = m["delivery_time_slots"]
        ci = "n/a" if t["ci95"] is None else f"[{t['ci95'][0]:.4f}, {t['ci95'][1]:.4f}]"
        inside = m["exact_within_ci"]
        seconds = m["delivery_time_s"]["mean"]
        rows.append(
            (
                name,
                f"{t['mean']:.4f}",
                ci,
                f"{m['exact_delivery_time_slots']:.4f}",
                "n/a" if inside is None else ("yes" if inside else "no"),
                "n/a" if seconds is None else f"{seconds:.4g}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


__all__ = ["chain_table", "run_chain", "slot_seconds"]
