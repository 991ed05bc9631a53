"""Every random stream of a run, in one table.

A run draws from many independent streams, each seeded by the scenario seed (and,
for the streams of one strategy's run, the strategy's name) plus a *tag* of its own,
so that adding a draw to one stream leaves every other stream as it was: adding an
adversary does not change the data split, a fault plan does not change the shots.
numpy's ``SeedSequence`` mixes the entropy list, so distinct lists give independent
streams (O'Neill, PCG; numpy's parallel-RNG guidance).

The tags are part of what determines the numbers: changing one changes the results
of every config that draws from it. New streams take new tags.

=========  ===========================  =============================================
tag        entropy                      what it draws
=========  ===========================  =============================================
(none)     [seed]                       the data, its split and θ_0 (``build_scenario``)
101        [seed, 101]                  the network: positions, links, memories
102        [seed, 102]                  uniform ready times of the demand
103        [seed, 103]                  a ``qceas network`` simulation (every policy)
104        [seed, 104]                  compute slowdowns (``ready: compute``)
105        [seed, 105]                  the links of teleported gates (partitions)
106        [seed, 106]                  which nodes are faulty
107        [seed, 107, t]               whether a straggler is late in round t
108        [seed, 108]                  a repeater-chain simulation (every policy)
0xB12      [seed, 0xB12]                the Byzantine nodes
(none)     [seed, crc(s)]               a strategy's run: minibatches, attacks, keys
0x4E7      [seed, crc(s), 0x4E7]        its key-supply network simulation
0x6A7E     [seed, crc(s), 0x6A7E]       its gate-pair link simulation
0x5407     [seed, crc(s), 0x5407, t, k] node k's shots in round t
0xDBA      [seed, h(p), 0xDBA, k]       batch k of ``qceas consensus`` grid point p
=========  ===========================  =============================================

crc(s) is the CRC-32 of the strategy's name (``zlib.crc32``); h(p) is the first 16 hex
digits of the SHA-256 of the point's values, instances, ``count_alpha`` and seed, mod
2^63 (``qceas.experiments.consensus_run``).
"""

from __future__ import annotations

import zlib

import numpy as np

NETWORK = 101
#: ``qceas consensus``: batch k of a grid point (``qceas.agreement.digest``).
CONSENSUS = 0xDBA
READY_TIMES = 102
NETWORK_SIMULATION = 103
SLOWDOWNS = 104
GATE_LINKS = 105
FAULTY_NODES = 106
STRAGGLERS = 107
CHAIN_SIMULATION = 108
BYZANTINE = 0xB12
KEY_NETWORK = 0x4E7
GATE_PAIRS = 0x6A7E
SHOTS = 0x5407


def stream(seed: int, tag: int, *more: int) -> np.random.Generator:
    """The scenario stream ``tag`` of ``seed`` (``more``: a round, a node)."""
    return np.random.default_rng([seed, tag, *more])


def run_entropy(seed: int, strategy: str) -> list[int]:
    """The entropy of one strategy's run on ``seed``: stable across runs and machines."""
    return [seed, zlib.crc32(strategy.encode())]


def run_stream(seed: int, strategy: str, *tags: int) -> np.random.Generator:
    """A stream of one strategy's run (no tag: its own main stream)."""
    return np.random.default_rng([*run_entropy(seed, strategy), *tags])


__all__ = [
    "BYZANTINE",
    "CHAIN_SIMULATION",
    "CONSENSUS",
    "FAULTY_NODES",
    "GATE_LINKS",
    "GATE_PAIRS",
    "KEY_NETWORK",
    "NETWORK",
    "NETWORK_SIMULATION",
    "READY_TIMES",
    "SHOTS",
    "SLOWDOWNS",
    "STRAGGLERS",
    "run_entropy",
    "run_stream",
    "stream",
]
