"""``benchmarks/network_speed.py`` runs, and its chains deliver what physics says:
a 2-node link streams pairs at its fresh fidelity, a 3-node chain at the swap of two
(decayed) pairs, at any slot length."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.mark.parametrize("slot_periods", [1, 500])
def test_chain_workloads_deliver_pairs_with_the_expected_fidelity(
    slot_periods: int, load_benchmark: Callable[[str], ModuleType]
) -> None:
    bench = load_benchmark("network_speed")
    two = bench.chain_workload(1, 1, 300, slot_periods)
    assert two["delivered"] >= 300
    assert two["mean_fidelity"] == pytest.approx(0.95, abs=1e-12)
    three = bench.chain_workload(2, 1, 300, slot_periods)
    assert three["delivered"] >= 250
    fresh_swap = 0.25 + 0.75 * ((4 * 0.95 - 1) / 3) ** 2
    assert fresh_swap - 0.002 < three["mean_fidelity"] <= fresh_swap
