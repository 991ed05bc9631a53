"""Many link classes solved in one backward induction: the MDP of :mod:`.mdp`, batched.

A network of N QPUs gives CEAS up to N distinct link classes (each route its own
success probability, fresh fidelity and decay rate; :mod:`.ceas`). Solving them one
by one with :func:`~qceas.scheduling.mdp.solve` costs a fixed ~10 ms of Python per
class (H·(m + 1)·(R + 1) small array operations) on top of the work proportional to
the states, and at 1000 QPUs that fixed part alone is about half the time.

**What is batched.** Classes with the same memory m, demand R and window W have the
same menus (they depend on (n, m) only) and the same r axis; their states differ only
in the age cap A and the numbers (κ(a), p, costs, penalty). Such a group is cut into
batches of classes, longest horizon first, of about ``chunk`` states per slot and r
(16k by default: the batch's V_{τ−1} and scratch arrays stay in cache; one batch of
all 1000 classes of a 1000-QPU network took about twice as long). A batch is laid out as
one layer of states per slot: class after class, each class's states in its own order
(:class:`~qceas.scheduling.mdp._States`), so that a class's value and action tables
are views of the batch's tables. A class's transitions never leave it, so for every
block n (states holding n pairs) and every r the Q-values of all the batch's classes
are computed in one array operation, with p, the costs and the usability masks per
row, and stored one array row per action (each action's Q-values contiguous). At slot
τ the classes with H ≥ τ are a prefix of every block (the batch is ordered by
horizon), and only that prefix is computed.

**Exactness.** Every Q-value is computed by the floating-point operations of
:func:`~qceas.scheduling.mdp.solve`, in its order (``key − cost``, then ``+ V0``, then
``+ p·g·(V1 − V0)``), and the maximum is taken over the same columns in the same menu
order, the first maximum winning as with ``np.argmax``, so the value and action tables
(all finite: :func:`~qceas.scheduling.mdp.check_size` refuses classes that overflow)
are the same bit for bit (the tests check it against
:func:`~qceas.scheduling.mdp.solve` on random classes). Two steps are left out where
they change no bit: the zero term p·0·(V1 − V0) of a non-attempt action (adding +0.0
changes only a −0.0, and ``key − cost + V0`` is never −0.0: ``key − cost`` is +0.0 or
nonzero), and the usability mask applied after the sum (an unusable action's
``key − cost`` is −inf instead, and −inf plus finite values is −inf). One exact
shortcut is taken where it applies: with no memory cost, a state with no demand left
(r = 0) is worth 0 from every slot on (nothing can be consumed and any attempt costs
≥ 0) and the first menu action (no attempt, no discard) attains it, so that layer is
filled, not computed. Size limits are those of :func:`~qceas.scheduling.mdp.solve`,
per class.

Measured (``benchmarks/network_speed.py``, 2 cores): CEAS's prepare at 1000 ``paper``
QPUs (1000 classes) 1.9 s, the classes alone 1.8 s against 11.0 s one
:func:`~qceas.scheduling.mdp.solve` each; at 50 QPUs 0.58 s against 2.95 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.scheduling.mdp import (
    MAX_STATE_ACTIONS,
    MAX_STATES,
    LinkClass,
    Policy,
    SharedMenus,
    _Block,
    _menu_and_transitions,
    _States,
    check_size,
)


@dataclass(frozen=True, eq=False)
class _Columns:
    """The rows of one stacked block against one column set ``cols[c]`` (the actions
    consuming at most c pairs), one array row per action ((k, rows), so that each
    action's Q-values are contiguous). The attempt actions are a suffix, from
    ``first_attempt`` on: the menu lists every non-attempt action first."""

    cols: NDArray[np.int64]
    r_drop: NDArray[np.int64]  # (k,) |C| of each column
    gain: NDArray[np.float64]  # (k, rows) key − cost; −inf where a consumed pair is unusable
    step: NDArray[np.float64]  # (k − first_attempt, rows) p·g of the attempt columns
    next0: NDArray[np.int32]  # (k, rows) layer index of K⁺
    next1: NDArray[np.int32]  # (k − first_attempt, rows) layer index of (0) ⊕ K⁺
    first_attempt: int


@dataclass(frozen=True, eq=False)
class _Stacked:
    """Block n of every class of a group, rows stacked class after class.

    ``where`` is each row's position in the group's layer (classes one after another);
    ``rows[k]`` is the number of rows of the first k classes (the prefix computed when
    k classes are active); ``columns[c]`` the rows against ``cols[c]``.
    """

    n: int
    where: NDArray[np.int64]
    rows: NDArray[np.int64]
    columns: tuple[_Columns, ...]


def solve_many(
    links: Sequence[LinkClass],
    *,
    max_states: int = MAX_STATES,
    max_state_actions: int = MAX_STATE_ACTIONS,
    chunk: int = 1 << 14,
    keep_values: bool = True,
) -> list[Policy]:
    """The optimal policies of ``links``, the same tables bit for bit as
    ``[solve(link) for link in links]`` (module docstring); equal classes share one
    policy. Every class is checked against the size limits first.

    Args:
        links: the classes, in any order, repeats allowed.
        max_states, max_state_actions: the limits of
            :func:`~qceas.scheduling.mdp.solve`, per class.
        chunk: the most states of one slot and one r in a batch of classes (a class
            larger than that is a batch of its own). About 16k keeps a batch's
            V_{τ−1} and scratch arrays in cache: at 1000 QPUs one batch of everything
            took about twice as long (3.3 s against 1.6 s, in a review's run).
        keep_values: keep the value tables (:meth:`Policy.value`,
            :meth:`Policy.bellman_residual`); without them a policy holds only its
            action tables, and the induction two slots of values per batch.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk = {chunk!r}: must be an integer >= 1")
    for link in links:
        check_size(link, max_states=max_states, max_state_actions=max_state_actions)
    groups: dict[tuple[int, int, int], list[LinkClass]] = {}
    for link in dict.fromkeys(links):
        groups.setdefault((link.memory, link.demand, link.window), []).append(link)
    solved: dict[LinkClass, Policy] = {}
    shared: SharedMenus = {}
    states: dict[tuple[int, int], _States] = {}
    for group in groups.values():
        for batch in _batches(group, chunk):
            solved.update(_solve_batch(batch, shared, states, keep_values))
    return [solved[link] for link in links]


def _batches(group: list[LinkClass], chunk: int) -> list[list[LinkClass]]:
    """The group in batches of classes, longest horizon first, each batch's layer (the
    states of one slot and one r) at most ``chunk`` states where it holds more than one
    class."""
    batches: list[list[LinkClass]] = []
    size = 0
    for link in sorted(group, key=lambda link: -link.horizon):  # stable
        layer = math.comb(link.age_cap + 1 + link.memory, link.memory)
        if not batches or size + layer > chunk:
            batches.append([])
            size = 0
        batches[-1].append(link)
        size += layer
    return batches


def _solve_batch(
    links: list[LinkClass],
    shared: SharedMenus,
    state_sets: dict[tuple[int, int], _States],
    keep_values: bool,
) -> dict[LinkClass, Policy]:
    """One batch (same memory, demand and window; longest horizon first)."""
    m, demand, window = links[0].memory, links[0].demand, links[0].window
    width = demand + 1
    sets = []
    for link in links:
        if (link.age_cap, m) not in state_sets:
            state_sets[link.age_cap, m] = _States(link.age_cap, m)
        sets.append(state_sets[link.age_cap, m])
    base = np.concatenate([[0], np.cumsum([st.size for st in sets])]).astype(np.int64)
    total = int(base[-1])
    horizon = np.array([link.horizon for link in links], dtype=np.int64)
    blocks: list[list[_Block]] = [[] for _ in links]
    # κ(a) and F(a) of every class over its ages 0..A, end to end.
    caps = np.array([st.cap for st in sets], dtype=np.int64)
    tables = (
        np.concatenate([[0], np.cumsum(caps + 1)]),
        np.concatenate(
            [link.value(np.arange(st.cap + 1)) for link, st in zip(links, sets, strict=True)]
        ),
        np.concatenate(
            [link.fidelity(np.arange(st.cap + 1)) for link, st in zip(links, sets, strict=True)]
        ),
    )
    stacked = [_stack(n, links, sets, base, tables, shared, blocks) for n in range(m + 1)]
    layers = int(horizon[0]) + 1
    # Without keep_values only V_{τ−1} and V_τ are needed: two layers, used in turn.
    values = np.empty((layers if keep_values else 2, width, total))
    actions = np.full((layers, width, total), -1, dtype=np.int16)
    for k, link in enumerate(links):
        values[0, :, base[k] : base[k + 1]] = -link.penalty * np.arange(width, dtype=float)[:, None]
    free_r0 = all(link.memory_cost == 0.0 for link in links)
    # Scratch arrays reused across slots (fresh temporaries of this size would cost a
    # page fault per page, every slot).
    most = max(int(block.rows[-1]) for block in stacked)
    widest = max(c.cols.size for block in stacked for c in block.columns)
    v0_buf = np.empty((widest, most))
    v1_buf = np.empty((widest, most))
    best_value = np.empty(most)
    best_action = np.empty(most, dtype=np.int16)
    better = np.empty(most, dtype=bool)
    for tau in range(1, layers):
        active = int(np.count_nonzero(horizon >= tau))  # a prefix: sorted by horizon
        prev = values[(tau - 1) % len(values)]
        now = values[tau % len(values)]
        for block in stacked:
            rows = int(block.rows[active])
            where = block.where[:rows]
            for r in range(width):
                if r == 0 and free_r0:
                    # No demand left, no memory cost: worth 0, first action (docstring).
                    now[0, where] = 0.0
                    actions[tau, 0, where] = block.columns[0].cols[0]
                    continue
                c = block.columns[min(r, block.n) if tau <= window else 0]
                k, a = c.cols.size, c.first_attempt
                v0, v1 = v0_buf[:k, :rows], v1_buf[: k - a, :rows]
                if c.r_drop.any():
                    for j in range(k):  # column j goes to r − |C_j|
                        prev[r - c.r_drop[j]].take(c.next0[j, :rows], out=v0[j], mode="clip")
                    for j in range(a, k):
                        prev[r - c.r_drop[j]].take(
                            c.next1[j - a, :rows], out=v1[j - a], mode="clip"
                        )
                else:  # nothing consumed: every column stays at r
                    prev[r].take(c.next0[:, :rows], out=v0, mode="clip")
                    prev[r].take(c.next1[:, :rows], out=v1, mode="clip")
                # q = (key − cost) + V0 + p·g·(V1 − V0), as in mdp._q_values; the
                # non-attempt columns have g = 0 and V1 = V0, a zero term. q is built
                # in v0's buffer, column-major (one row per action).
                v1 -= v0[a:]
                v1 *= c.step[:, :rows]
                q = v0
                np.add(c.gain[:, :rows], q, out=q)
                q[a:] += v1
                # The first maximum over the actions in menu order (np.argmax's rule:
                # ties follow the menu order), one column at a time.
                top, pick, gt = best_value[:rows], best_action[:rows], better[:rows]
                top[:] = q[0]
                pick[:] = c.cols[0]
                for j in range(1, k):
                    np.greater(q[j], top, out=gt)
                    np.copyto(top, q[j], where=gt)
                    np.copyto(pick, c.cols[j], where=gt)
                now[r, where] = top
                actions[tau, r, where] = pick
    out = {}
    for k, link in enumerate(links):
        span = slice(int(base[k]), int(base[k + 1]))
        out[link] = Policy(
            link,
            sets[k],
            blocks[k],
            values[: link.horizon + 1, :, span] if keep_values else None,
            actions[: link.horizon + 1, :, span],
        )
    return out


def _stack(
    n: int,
    links: list[LinkClass],
    sets: list[_States],
    base: NDArray[np.int64],
    tables: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    shared: SharedMenus,
    blocks: list[list[_Block]],
) -> _Stacked:
    """Block n of every class of the batch, stacked; appends each class's own
    :class:`~qceas.scheduling.mdp._Block` (views of the stacked arrays) to ``blocks``."""
    found = [_menu_and_transitions(st, n, shared) for st in sets]
    menu = found[0][0]
    counts = np.array([st.ages[n].shape[0] for st in sets], dtype=np.int64)
    rows = np.concatenate([[0], np.cumsum(counts)])
    row_class = np.repeat(np.arange(len(links)), counts)
    # Each row's ages as indices into the batch's tables of κ and F (``tables``: where
    # each class's table starts, κ, F): the per-pair values of every state at once.
    table_start, kappa, fidelity = tables
    ages = np.concatenate([st.ages[n] for st in sets]) + table_start[row_class][:, None]
    worth = kappa[ages]
    key = menu.consumed_sums(worth)
    fid = menu.consumed_sums(fidelity[ages])
    unusable = menu.unusable(worth)
    cost = np.array([menu.cost(link) for link in links]).reshape(len(links), -1)
    for k, st in enumerate(sets):
        part = slice(int(rows[k]), int(rows[k + 1]))
        blocks[k].append(
            _Block(
                n=n,
                start=int(st.offset[n]),
                stop=int(st.offset[n + 1]),
                menu=menu,
                key=key[part],
                fid=fid[part],
                unusable=unusable[part],
                next0=found[k][1],
                next1=found[k][2],
                cost=cost[k],
                cols=menu.cols,
            )
        )
    shift = base[:-1][row_class][:, None]
    next0 = np.concatenate([f[1] for f in found]) + shift
    next1 = np.concatenate([f[2] for f in found]) + shift
    # Same operations as mdp._q_values: key − cost, and p·g as p times the 0/1 attempt.
    gain = key - cost[row_class]
    p_row = np.array([link.success_probability for link in links])[row_class]
    columns = []
    for cols in menu.cols:
        attempt = menu.attempt[cols]
        first = int(np.argmax(attempt)) if attempt.any() else cols.size
        if not np.all(attempt[first:]) or np.any(attempt[:first]):
            raise AssertionError("menu: attempt actions must follow the others")  # _Menu.build
        usable = (unusable[:, None] & menu.bits[cols]) == 0
        columns.append(
            _Columns(
                cols=cols,
                r_drop=menu.count[cols],
                gain=np.ascontiguousarray(np.where(usable, gain[:, cols], -np.inf).T),
                step=np.ascontiguousarray((p_row[:, None] * attempt[None, first:]).T),
                next0=np.ascontiguousarray(next0[:, cols].T, dtype=np.int32),
                next1=np.ascontiguousarray(next1[:, cols[first:]].T, dtype=np.int32),
                first_attempt=first,
            )
        )
    starts = np.array([st.offset[n] for st in sets], dtype=np.int64)
    where = np.arange(int(rows[-1])) - rows[:-1][row_class] + (base[:-1] + starts)[row_class]
    return _Stacked(n=n, where=where, rows=rows, columns=tuple(columns))
