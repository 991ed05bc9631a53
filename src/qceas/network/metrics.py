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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qceas.network.interface import SimulationResult
from qceas.network.ledger import FATE, WASTE
from qceas.physics import QBER_THRESHOLD

#: Lowest fidelity that yields key: e(F) = 2(1 − F)/3 at the QBER threshold.
KEY_FIDELITY_THRESHOLD = 1.0 - 1.5 * QBER_THRESHOLD


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
        "simulated_s": simulated_s,
        "slots": ctx.total_slots,
        "slot_s": ctx.slot_s,
        "wall_s": result.wall_s,
        "pairs_per_wall_s": heralded / result.wall_s if result.wall_s > 0 else float("nan"),
    }
