"""Bracha's broadcast (qceas.agreement.broadcast): the vectorized rounds against a
player-by-player reference written from the module docstring, and the guarantees
derived there (consistency and validity for t <= f; the split attack's fork for t > f)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.agreement.broadcast import BOT, design_threshold, reliable_broadcast
from qceas.agreement.protocol import second_group


def reference(
    n: int, leader: int, traitor: list[bool], init: list[int], second: list[bool], attack: str
) -> list[int]:
    """One instance, message by message (independent of the vectorized code)."""
    f = (n - 1) // 3
    echo_q, ready_q = math.ceil((n + f + 1) / 2), 2 * f + 1
    honest = [not t for t in traitor]
    if traitor[leader]:
        a = next((init[j] for j in range(n) if honest[j] and not second[j]), init[leader])
        b = next((init[j] for j in range(n) if honest[j] and second[j]), 1 - a)
    else:
        a, b = init[leader], 1 - init[leader]

    def coalition(recipient: int) -> int:
        return b if second[recipient] else a

    def inbox(sent: Mapping[int, Any]) -> list[list[int]]:
        """Counts [of 0, of 1] per recipient; `sent` maps sender -> value or callable."""
        counts = [[0, 0] for _ in range(n)]
        for _s, v in sent.items():
            for r in range(n):
                value = v(r) if callable(v) else v
                counts[r][value] += 1
        return counts

    traitor_msgs = {s: coalition for s in range(n) if traitor[s]} if attack == "split" else {}
    echoes = inbox({**{s: init[s] for s in range(n) if honest[s]}, **traitor_msgs})
    ready3 = {}
    for r in range(n):
        if honest[r] and max(echoes[r]) >= echo_q:
            ready3[r] = int(echoes[r][1] > echoes[r][0])
    readies3 = inbox({**ready3, **traitor_msgs})
    amp = {}
    for r in range(n):
        if honest[r] and r not in ready3 and max(readies3[r]) >= f + 1:
            amp[r] = int(readies3[r][1] > readies3[r][0])
    readies4 = inbox(amp)
    out = []
    for r in range(n):
        total = [readies3[r][x] + readies4[r][x] for x in (0, 1)]
        if honest[r] and max(total) >= ready_q:
            out.append(int(total[1] > total[0]))
        else:
            out.append(BOT)
    return out


@st.composite
def worlds(draw: st.DrawFn) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, str]:
    n = draw(st.integers(3, 25))
    traitors = draw(st.integers(0, n - 2))
    order = draw(st.permutations(range(n)))
    traitor = np.zeros(n, dtype=bool)
    traitor[list(order[:traitors])] = True
    leader = draw(st.integers(0, n - 1))
    second = second_group(traitor)
    init = np.where(second, 1, 0) if traitor[leader] else np.full(n, draw(st.integers(0, 1)))
    return n, leader, traitor, init, second, draw(st.sampled_from(["split", "silent"]))


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_vectorized_rounds_equal_the_reference(world) -> None:
    n, leader, traitor, init, second, attack = world
    got = reliable_broadcast(n, leader, traitor, init, second, attack=attack).final[0]
    want = reference(n, leader, traitor.tolist(), init.tolist(), second.tolist(), attack)
    assert got.tolist() == want


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_consistency_and_validity_within_the_design_threshold(world) -> None:
    n, leader, traitor, init, second, attack = world
    if traitor.sum() > design_threshold(n):
        return
    final = reliable_broadcast(n, leader, traitor, init, second, attack=attack).final[0]
    delivered = set(final[~traitor].tolist()) - {BOT}
    assert len(delivered) <= 1  # consistency
    if not traitor[leader]:  # validity: every honest player delivers the leader's value
        assert set(final[~traitor].tolist()) == {int(init[leader])}


@pytest.mark.parametrize("n", [10, 20, 50])
def test_the_split_attack_forks_exactly_where_the_counts_allow(n: int) -> None:
    """Byzantine leader and t - 1 traitors: group A (h_A honest) delivers a when
    h_A + t reaches both quorums; a fork needs the smaller group B to reach them too."""
    f = design_threshold(n)
    echo_q, ready_q = math.ceil((n + f + 1) / 2), 2 * f + 1
    for t in range(1, n - 1):
        traitor = np.zeros(n, dtype=bool)
        traitor[:t] = True
        second = second_group(traitor)
        init = np.where(second, 1, 0)
        final = reliable_broadcast(n, 0, traitor, init, second).final[0][~traitor]
        h_b = int(second.sum())
        forks = h_b + t >= max(echo_q, ready_q)
        assert ({0, 1} <= set(final.tolist())) == forks, t
        if t <= f:
            assert not forks
    # The first fork is just above n/3.
    first = next(
        t
        for t in range(1, n)
        if int(second_group(np.arange(n) < t).sum()) + t >= max(echo_q, ready_q)
    )
    assert first > f


def test_messages_and_bad_arguments() -> None:
    n = 7
    honest = reliable_broadcast(n, 0, np.zeros(n, bool), np.zeros(n), np.zeros(n, bool))
    assert honest.messages[0] == (n - 1) + n * (n - 1) + n * (n - 1)
    with pytest.raises(ValueError, match=r"^attack = 'x'"):
        reliable_broadcast(n, 0, np.zeros(n, bool), np.zeros(n), np.zeros(n, bool), attack="x")
    with pytest.raises(ValueError, match=r"^players = 1"):
        reliable_broadcast(1, 0, np.zeros(1, bool), np.zeros(1), np.zeros(1, bool))
