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

Where ``network.initial_fidelity`` F0 and ``network.coherence_time_s`` T are numbers
(not ranges), every policy's entry also has the delivered pairs' fidelity (from each
delivery's storage D, ``qceas.network.chain``: w = w0^(n−1)·e^(−D·slot/T)):
``delivered_fidelity`` {mean, ci95}, ``key_fraction`` {mean, ci95} (secret bits per
pair, 1 − 2·h2(e), e = 2(1 − F)/3, Shor–Preskill), ``above_key_threshold`` (share of
pairs with F > 0.835) and ``key_bits_per_s`` = mean key fraction / mean delivery time
(renewal–reward: one delivery at a time, restarting from an empty chain); and
``sweep`` gives the same over ``schedule.coherence_sweep_s`` from the same deliveries
(delivery times do not depend on T; their storage does not either, only its cost).
Otherwise these entries are null and ``fidelity_note`` says why.

``ci95`` is the t-interval of the mean over all deliveries of all seeds (they are
independent and identically distributed); ``exact_within_ci`` says whether the exact
value lies inside it (the Monte Carlo check of the simulation against the MDP). Seconds
are slots × ``schedule.slot_s``, or, where that is null, × the attempt period of one
link (``max(L/c, network.min_period_s)``, the herald's round trip of their model's
slot).
"""

from __future__ import annotations

import csv
import dataclasses
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
from qceas.network.metrics import KEY_FIDELITY_THRESHOLD
from qceas.physics import (
    attempt_period,
    qber_unchecked,
    secret_fraction_unchecked,
)
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
    slot_s = slot_seconds(config)
    chain = config.network.chain(config.schedule.cutoff_slots, slot_s)
    keyed = chain.has_memory and chain.cutoff is not None  # exact key rates exist
    points = [float(t) for t in config.schedule.coherence_sweep_s] if chain.has_memory else []
    started = time.perf_counter()
    counts = {"reused": 0, "computed": 0}
    runs = out / "network_runs"
    units: dict[str, list[dict[str, Any]]] = {}
    exact: dict[str, dict[str, Any]] = {}
    swept_exact: dict[str, list[dict[str, Any]]] = {}
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
            swept_exact[policy] = [
                unit(
                    runs / f"{policy}_exact_T{t:.6g}.json",
                    fingerprint,
                    counts,
                    progress,
                    f"{policy} exact T={t:g} s",
                    functools.partial(_exact_key, scheduler, _at(chain, t, slot_s)),
                    _key_line,
                )
                for t in (points if keyed else [])
            ]
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
    policies = config.schedule.policies
    planned = {
        p: _Lazy(p, dict(config.schedule.params.get(p, {}))).get().plans_with_memory
        for p in policies
    }
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
            p: _aggregate(units[p], exact[p], seeds, slot_s) | _pairs(chain, slot_s, units[p])
            for p in policies
        },
        "sweep": _sweep(chain, slot_s, units, swept_exact, points, planned),
    }
    if not chain.has_memory:
        summary["fidelity_note"] = (
            "network.initial_fidelity and network.coherence_time_s are ranges: give one "
            "number each to model the delivered pairs' fidelity"
        )
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
        key = scheduler.get().exact_key(chain) if chain.has_memory and chain.cutoff else None
    except ValueError as exc:  # e.g. more states than max_states
        raise ConfigError(f"schedule.params.{scheduler.name}: {exc}") from None
    out = {"delivery_time_slots": value, "wall_s": time.perf_counter() - started}
    if key is not None:
        out["key_per_delivery"], out["key_delivery_time_slots"] = key
    return out


def _exact_key(scheduler: _Lazy, chain: Chain) -> dict[str, Any]:
    """A policy's exact key per delivery and delivery time at one coherence time."""
    started = time.perf_counter()
    try:
        key, slots = scheduler.get().exact_key(chain)
    except ValueError as exc:
        raise ConfigError(f"schedule.params.{scheduler.name}: {exc}") from None
    return {
        "key_per_delivery": key,
        "delivery_time_slots": slots,
        "wall_s": time.perf_counter() - started,
    }


def _key_line(m: dict[str, Any]) -> str:
    return (
        f"key {m['key_per_delivery']:.4g} per delivery, every {m['delivery_time_slots']:.4g} "
        f"slots ({m['wall_s']:.1f} s)"
    )


def _at(chain: Chain, coherence_s: float, slot_s: float) -> Chain:
    """The chain with every memory's coherence time set to ``coherence_s``."""
    return dataclasses.replace(chain, coherence_slots=coherence_s / slot_s)


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
    storage = np.bincount(found.qubit_slots)
    return {
        "deliveries": deliveries,
        "mean_slots": found.mean(),
        "histogram": [int(c) for c in histogram],  # deliveries in slot t, t = 0, 1, ...
        "storage_histogram": [int(c) for c in storage],  # deliveries of storage D = 0, 1, ...
        "wall_s": time.perf_counter() - started,
    }


def _aggregate(
    units: list[dict[str, Any]], exact: dict[str, Any], seeds: Sequence[int], slot_s: float
) -> dict[str, Any]:
    slots = _slots(units)
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


def _storage(units: list[dict[str, Any]]) -> np.ndarray | None:
    """Every delivery's storage D, all seeds (None if a unit predates D)."""
    if any("storage_histogram" not in u for u in units):
        return None
    return np.concatenate(
        [np.repeat(np.arange(len(u["storage_histogram"])), u["storage_histogram"]) for u in units]
    ).astype(float)


def _slots(units: list[dict[str, Any]]) -> np.ndarray:
    return np.concatenate(
        [np.repeat(np.arange(len(u["histogram"])), u["histogram"]) for u in units]
    ).astype(float)


#: The entries :func:`_pairs` adds to a policy's summary.
PAIR_FIELDS = ("delivered_fidelity", "key_fraction", "above_key_threshold", "key_bits_per_s")


def _pairs(chain: Chain, slot_s: float, units: list[dict[str, Any]]) -> dict[str, Any]:
    """The delivered pairs' fidelity and key (module docstring), or nulls."""
    storage = _storage(units)
    if not chain.has_memory or storage is None:
        return dict.fromkeys(PAIR_FIELDS)
    return _pair_stats(chain, slot_s, storage, _slots(units))


def _pair_stats(
    chain: Chain, slot_s: float, storage: np.ndarray, slots: np.ndarray
) -> dict[str, Any]:
    fidelity = chain.delivered_fidelity(storage)
    key = np.asarray(secret_fraction_unchecked(qber_unchecked(fidelity)), dtype=float)
    found_f = intervals.interval(fidelity, intervals.UNIT)
    found_k = intervals.interval(key, intervals.UNIT)
    return {
        "delivered_fidelity": {"mean": found_f.mean, "ci95": _listed(found_f.ci95)},
        "key_fraction": {"mean": found_k.mean, "ci95": _listed(found_k.ci95)},
        "above_key_threshold": float(np.mean(fidelity > KEY_FIDELITY_THRESHOLD)),
        "key_bits_per_s": float(key.mean()) / (float(slots.mean()) * slot_s),
    }


def _listed(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def _sweep(
    chain: Chain,
    slot_s: float,
    units: dict[str, list[dict[str, Any]]],
    exact: dict[str, list[dict[str, Any]]],
    points: Sequence[float],
    planned: dict[str, bool],
) -> dict[str, Any]:
    """Per coherence time and policy: the exact key rate (``exact_key_bits_per_s``, the
    policy re-planned at that T where it plans with T), and, for the policies whose
    decisions do not depend on T, the delivered fidelity, key fraction and key rate of
    the same deliveries (empty without the pairs' physics)."""
    out: dict[str, Any] = {"coherence_time_s": list(points), "policies": {}}
    for policy, rows in units.items():
        entry: dict[str, Any] = {}
        if exact.get(policy):
            entry["exact_key_bits_per_s"] = [
                e["key_per_delivery"] / (e["delivery_time_slots"] * slot_s) for e in exact[policy]
            ]
        storage = _storage(rows)
        if storage is not None and not planned[policy]:
            slots = _slots(rows)
            stats = [_pair_stats(_at(chain, t, slot_s), slot_s, storage, slots) for t in points]
            entry["delivered_fidelity"] = [s["delivered_fidelity"]["mean"] for s in stats]
            entry["key_fraction"] = [s["key_fraction"]["mean"] for s in stats]
            entry["key_bits_per_s"] = [s["key_bits_per_s"] for s in stats]
        if points:
            out["policies"][policy] = entry
    return out


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
