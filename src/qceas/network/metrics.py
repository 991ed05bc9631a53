"""Metrics of one network simulation, from its ledger (ARCHITECTURE §4).

* **utilization** = link pairs consumed for a purpose that they served ÷ link pairs
  heralded. A link pair counts through the end-to-end pair it was swapped (and
  possibly purified) into. Pairs that expired, were discarded, were lost in
  purification, were left unused at the end, or were consumed for key above the
  QBER threshold (the distillation aborts: no key, demand still unmet) count against
  it. ``consumed_fraction`` also counts the aborted ones, for comparison. Both inputs
  of a successful purification share the fate of its output: if that is consumed,
  both count as used (they served the purpose through it), so with purification on,
  utilization says how much of the hardware's output ended in key, not how many
  end-to-end pairs were measured.
* **mean_consumed_fidelity**: mean fidelity of the end-to-end pairs at consumption
  (served and aborted alike).
* **demand_met**: key-yielding pairs consumed in time ÷ pairs demanded.
* **key_bits** per node, and the **waste** by cause, in link pairs.
* **by_hops**: per route length h (the QPUs whose route has h links), the same
  utilization, mean consumed fidelity and demand met over those QPUs' pairs, and
  ``above_threshold``, the fraction of their consumed end-to-end pairs with
  F > 1 − 3/2·e_th (key-yielding, :data:`KEY_FIDELITY_THRESHOLD`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qceas.network.interface import SimulationResult
from qceas.network.ledger import FATE, WASTE
from qceas.physics import QBER_THRESHOLD

#: Lowest fidelity that yields key: e(F) = 2(1 − F)/3 at the QBER threshold.
KEY_FIDELITY_THRESHOLD = 1.0 - 1.5 * QBER_THRESHOLD


def by_hops(result: SimulationResult) -> dict[str, dict[str, float | int | None]]:
    """Per route length (``str(h)``): QPUs, heralded link pairs, utilization, mean
    consumed fidelity, demand met and the key-yielding share of consumed pairs
    (None where a group has no pair to take it over)."""
    ctx, ledger = result.context, result.ledger
    hops = np.asarray(ctx.network.hops)
    link_flow = np.asarray(ledger.links["flow"], dtype=np.int64)
    link_used = ledger.link_fates() == FATE["consumed"]
    e2e_flow = np.asarray(ledger.e2e["flow"], dtype=np.int64)
    e2e_fate = np.asarray(ledger.e2e["fate"])
    consumed = (e2e_fate == FATE["consumed"]) | (e2e_fate == FATE["aborted"])
    fidelity = np.asarray(ledger.e2e["fate_fidelity"], dtype=float)
    met = np.asarray(result.met)
    out: dict[str, dict[str, float | int | None]] = {}
    for h in np.unique(hops):
        group = hops == h
        links = group[link_flow] if link_flow.size else np.zeros(0, dtype=bool)
        pairs = consumed & group[e2e_flow] if e2e_flow.size else np.zeros(0, dtype=bool)
        heralded = int(links.sum())
        f = fidelity[pairs]
        out[str(int(h))] = {
            "qpus": int(group.sum()),
            "heralded_pairs": heralded,
            "utilization": float(link_used[links].sum()) / heralded if heralded else None,
            "mean_consumed_fidelity": float(f.mean()) if f.size else None,
            "above_threshold": float(np.mean(f > KEY_FIDELITY_THRESHOLD)) if f.size else None,
            "demand_met": float(met[:, group].sum())
            / (ctx.demand.pairs * ctx.demand.rounds * int(group.sum())),
        }
    return out


def summarize(result: SimulationResult) -> dict[str, Any]:
    """Plain-data metrics of one run (JSON-ready)."""
    ctx, ledger = result.context, result.ledger
    n = ctx.network.n_nodes
    heralded = ledger.heralded
    link_fate = ledger.link_fates()
    e2e = ledger.e2e
    e2e_fate = np.asarray(e2e["fate"])
    served = e2e_fate == FATE["consumed"]
    aborted = e2e_fate == FATE["aborted"]
    consumed = served | aborted
    fidelity = np.asarray(e2e["fate_fidelity"])
    key_bits = np.bincount(
        np.asarray(e2e["flow"])[served], weights=np.asarray(e2e["key_bits"])[served], minlength=n
    )
    demanded = ctx.demand.pairs * ctx.demand.rounds * n
    waste = {cause: int(np.sum(link_fate == FATE[cause])) for cause in WASTE}
    used = int(np.sum(link_fate == FATE["consumed"]))
    simulated_s = ctx.total_slots * ctx.slot_s
    mean_f = float(fidelity[consumed].mean()) if consumed.any() else float("nan")
    return {
        "utilization": used / heralded if heralded else float("nan"),
        "consumed_fraction": (used + waste["aborted"]) / heralded if heralded else float("nan"),
        "mean_consumed_fidelity": mean_f,
        "above_key_threshold": bool(mean_f > KEY_FIDELITY_THRESHOLD),
        "demand_met": float(result.met.sum()) / demanded,
        "heralded_pairs": heralded,
        "end_to_end_pairs": int(np.sum(np.asarray(e2e["child"]) < 0)),
        "consumed_pairs": int(consumed.sum()),
        "aborted_pairs": int(aborted.sum()),
        "attempts": result.attempts,
        "waste": waste,
        "key_bits_total": float(key_bits.sum()),
        "key_bits_per_node": {
            "mean": float(key_bits.mean()),
            "min": float(key_bits.min()),
            "max": float(key_bits.max()),
        },
        "key_bits_by_node": [float(b) for b in key_bits],
        "by_hops": by_hops(result),
        "simulated_s": simulated_s,
        "slots": ctx.total_slots,
        "slot_s": ctx.slot_s,
        "wall_s": result.wall_s,
        "pairs_per_wall_s": heralded / result.wall_s if result.wall_s > 0 else float("nan"),
    }
