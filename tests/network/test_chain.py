"""The repeater-chain simulation (``qceas.network.chain``): closed forms, invariants of
every slot under any policy, determinism and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.network.chain import Chain, e2e_path, ends_of_links, simulate, swappable


def swap_all(chain, right, age, stored, can):
    return can


def max_of_geometrics(p: float, k: int) -> float:
    """E[max of k independent geometric(p) first-success slots] = Σ_{t>=0} 1 − (1 − q^t)^k,
    summed in closed form by the binomial theorem."""
    q = 1.0 - p
    return sum((-1) ** (m + 1) * math.comb(k, m) / (1.0 - q**m) for m in range(1, k + 1))


def z_score(slots: np.ndarray, expected: float) -> float:
    return float((slots.mean() - expected) / (slots.std(ddof=1) / math.sqrt(slots.size)))


@pytest.mark.parametrize(("nodes", "p"), [(3, 0.5), (4, 0.3), (5, 0.8)])
def test_swap_asap_without_cutoff_delivers_at_the_last_first_generation(nodes, p):
    # p_s = 1, no cutoff: a generated segment stays covered (swapped into a longer link),
    # so delivery is the slot the last of the n−1 links is first generated.
    chain = Chain(nodes, p)
    found = simulate(chain, swap_all, 40_000, np.random.default_rng(3))
    assert abs(z_score(found.slots, max_of_geometrics(p, nodes - 1))) < 4.0


def test_three_nodes_with_lossy_swaps_restart_after_each_failure():
    # n = 3, no cutoff: each try takes max(G1, G2) slots and succeeds with p_s.
    p, p_s = 0.4, 0.5
    chain = Chain(3, p, p_s)
    found = simulate(chain, swap_all, 40_000, np.random.default_rng(4))
    assert abs(z_score(found.slots, max_of_geometrics(p, 2) / p_s)) < 4.0


def test_certain_links_and_swaps_deliver_in_slot_one():
    found = simulate(Chain(6, 1.0, 1.0, 1), swap_all, 10, np.random.default_rng(0))
    assert found.slots.tolist() == [1] * 10


def test_a_cutoff_of_one_slot_lets_a_link_wait_one_slot():
    # n = 3, p_s = 1, t_cut = 1: the first link can still be swapped at age 1, so the
    # chain delivers in slot 2 when one link comes in slot 1 and the other in slot 2.
    rng = np.random.default_rng(5)
    chain = Chain(3, 0.5, 1.0, 1)
    found = simulate(chain, swap_all, 50_000, rng)
    share = np.mean(found.slots == 2)
    # From "one link of age 0" after slot 1 (prob 2pq) the other comes in slot 2 with
    # p; from "none" (q²) both come with p²: P(T = 2) = 2pq·p + q²·p².
    assert share == pytest.approx(2 * 0.5 * 0.5 * 0.5 + 0.25 * 0.25, abs=0.01)


def test_same_seed_same_deliveries():
    chain = Chain(5, 0.6, 0.7, 3)
    a = simulate(chain, swap_all, 500, np.random.default_rng(9))
    b = simulate(chain, swap_all, 500, np.random.default_rng(9))
    assert np.array_equal(a.slots, b.slots)


@settings(max_examples=40, deadline=None)
@given(
    nodes=st.integers(3, 5),
    p=st.floats(0.5, 1.0),
    p_s=st.floats(0.6, 1.0),
    cutoff=st.one_of(st.none(), st.integers(2, 5)),
    seed=st.integers(0, 2**16),
)
def test_every_slot_keeps_the_memory_rules_under_a_random_policy(nodes, p, p_s, cutoff, seed):
    chain = Chain(nodes, p, p_s, cutoff)
    choices = np.random.default_rng(seed + 1)
    seen = {"slots": 0}

    def random_policy(chain_, right, age, stored, can):
        seen["slots"] += 1
        held = right >= 0
        starts = np.arange(chain_.links)[None, :]
        assert np.all(right[held] > np.broadcast_to(starts, right.shape)[held])  # i < j
        assert np.all(right[held] < chain_.nodes)
        if chain_.cutoff is not None:
            assert np.all(age[held] <= chain_.cutoff)  # usable at ages 0 .. t_cut
        assert np.all(age[held] >= 0)
        # storage: the oldest qubit pair alone gives 2·age, each of the j − i elementary
        # links' pairs at most 2·age
        span = np.where(held, right - np.arange(chain_.links)[None, :], 0)
        assert np.all(stored[held] >= 2 * age[held])
        assert np.all(stored[held] <= 2 * span[held] * age[held])
        # a node's left memory holds at most one link
        for row in right:
            ends = row[row >= 0]
            assert ends.size == np.unique(ends).size
        assert not np.any(right[:, 0] == chain_.nodes - 1)  # delivered trials are gone
        assert np.array_equal(can, swappable(right))
        assert not can[:, 0].any()
        assert not can[:, -1].any()
        return can & (choices.random(can.shape) < 0.8)

    found = simulate(chain, random_policy, 20, np.random.default_rng(seed), max_slots=100_000)
    assert found.slots.min() >= 1
    assert seen["slots"] >= 1


def test_paths_and_ends():
    right = np.array([[1, 3, -1], [1, -1, 3], [2, -1, 3]])  # n = 4
    assert ends_of_links(right).tolist() == [[-1, 0, -1, 1], [-1, 0, -1, 2], [-1, -1, 0, 2]]
    assert e2e_path(right).tolist() == [True, False, True]
    assert swappable(right).tolist() == [
        [False, True, False, False],
        [False, False, False, False],
        [False, False, True, False],
    ]


def test_a_policy_returning_a_non_swappable_node_is_refused():
    def bad(chain, right, age, stored, can):
        out = np.zeros_like(can)
        out[:, 0] = True
        return out

    with pytest.raises(ValueError, match="swappable"):
        simulate(Chain(3, 0.5), bad, 5, np.random.default_rng(0))


def test_no_delivery_within_max_slots_is_a_clear_error():
    never = lambda chain, right, age, stored, can: np.zeros_like(can)  # noqa: E731
    with pytest.raises(ValueError, match="have not delivered after max_slots = 50"):
        simulate(Chain(3, 0.5), never, 4, np.random.default_rng(0), max_slots=50)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": 2, "p": 0.5}, "nodes = 2"),
        ({"nodes": 4.0, "p": 0.5}, "nodes = 4.0"),
        ({"nodes": 4, "p": 0.0}, "p = 0.0"),
        ({"nodes": 4, "p": 0.5, "p_s": 1.5}, "p_s = 1.5"),
        ({"nodes": 4, "p": 0.5, "cutoff": 0}, "cutoff = 0"),
        ({"nodes": 4, "p": True}, "p = True"),
    ],
)
def test_bad_chains_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Chain(**kwargs)


def test_bad_trials():
    with pytest.raises(ValueError, match="trials = 0"):
        simulate(Chain(3, 0.5), swap_all, 0, np.random.default_rng(0))


def test_storage_of_a_three_node_delivery_is_twice_the_wait_between_its_links():
    # n = 3, p_s = 1, no cutoff: the first link's two qubits wait |G1 − G2| slots for the
    # other, and the swap delivers at once: D = 2|G1 − G2|, E|G1 − G2| = 2q/(p(2 − p)).
    p = 0.3
    q = 1.0 - p
    found = simulate(Chain(3, p), swap_all, 60_000, np.random.default_rng(8))
    assert np.all(found.qubit_slots % 2 == 0)
    assert abs(z_score(found.qubit_slots.astype(float), 4 * q / (p * (2 - p)))) < 4.0


def test_storage_counts_every_qubit_of_a_chained_delivery():
    # certain links, a cutoff of 1 and no swaps until every link exists: all links are
    # generated in slot 1 and swapped at once, so nothing waited (D = 0); with p_s = 1
    # and a node that never swaps before slot 2, each of its two links waits one slot.
    found = simulate(Chain(4, 1.0, 1.0, 3), swap_all, 5, np.random.default_rng(0))
    assert found.qubit_slots.tolist() == [0] * 5

    def late(chain, right, age, stored, can):
        return can if age[:, 0].max(initial=0) >= 1 else np.zeros_like(can)

    found = simulate(Chain(4, 1.0, 1.0, 3), late, 3, np.random.default_rng(0))
    assert found.slots.tolist() == [2] * 3
    assert found.qubit_slots.tolist() == [6] * 3  # three links × two qubits × one slot
