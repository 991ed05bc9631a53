"""Engines (``qceas.engine``): any batching, either engine, the same numbers.

* property: splitting the nodes into batches (and a node's rows over chunks) changes
  no bit of any node's loss, gradient, accuracy or QFI, with shots, noise kinds and
  teleported-gate errors mixed;
* contract over every registered engine: ``evaluate_nodes`` equals the model's own
  call bit for bit and fails with the model's messages;
* Ray: a private Ray (2 CPUs, loopback only), the ``quick`` scenario on it and on the
  local engine: identical tables; the test stops Ray itself;
* bad input: an unreachable cluster address is a clear error and writes nothing.
"""

from __future__ import annotations

import itertools
import pickle
import re
import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qceas.qnn.model as model_module
from qceas.config import ConfigError, EngineConfig, from_dict
from qceas.engine import ENGINES, Engine, make_engine, merge, node_batches
from qceas.engine.base import NODES_PER_BATCH, NodeInputs, evaluate_batches, nodes_per_batch
from qceas.experiments import resolve, run_experiment
from qceas.qnn import QNN, NoiseModel
from qceas.qnn.partition import Partition, teleported_block
from qceas.training.scenario import build_scenario
from qceas.training.trainer import Trainer

KINDS = [
    {"shots": 50},
    {"depolarizing": 0.05, "readout_error": 0.02, "shots": 80},
    {"depolarizing": 0.1},
    {},
    {"amplitude_damping": 0.03, "shots": 50},
    {"depolarizing": 0.02, "shots": 30},
]


def _nodes(seed: int = 0, count: int = 6) -> tuple[QNN, np.ndarray, list, list, list]:
    """``count`` nodes of every kind in turn: exact and sampled, pure and noisy, with
    and without a teleported-gate error, shards of 1 to 6 samples."""
    rng = np.random.default_rng(seed)
    model = QNN(4, 2, n_classes=3)
    params = model.init_params(rng=rng)
    noises = [NoiseModel.build(4, **KINDS[k % len(KINDS)]) for k in range(count)]
    sizes = [[3, 5, 2, 4, 6, 1][k % 6] for k in range(count)]
    shards = [(rng.uniform(-np.pi, np.pi, size=(s, 4)), rng.integers(0, 3, size=s)) for s in sizes]
    block = teleported_block(model.ansatz, Partition.contiguous(4, 2), 0.8)
    blocks = [block if k % 3 == 1 else None for k in range(count)]
    return model, params, shards, noises, blocks


def _streams(n: int, seed: int = 7) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, k]) for k in range(n)]


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    for name in ("loss", "gradient", "accuracy", "samples"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.qfi is None) == (b.qfi is None)
    if a.qfi is not None:
        np.testing.assert_array_equal(a.qfi, b.qfi)


def test_node_batches_cover_the_nodes_in_order() -> None:
    assert node_batches(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert node_batches(2, 5) == [slice(0, 2)]
    with pytest.raises(ValueError, match="per_batch >= 1"):
        node_batches(3, 0)


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.sets(st.integers(1, 5), max_size=5),
    budget=st.sampled_from([model_module.CHUNK_BUDGET, 1 << 12, 1]),
    qfi=st.booleans(),
)
def test_any_batching_draws_the_same_shots(cuts: set[int], budget: int, qfi: bool) -> None:
    """Nodes split over calls, and a node's rows over chunks, draw the same shots: the
    numbers agree but for rounding (a row's last bits depend on the rows it shares a
    BLAS call with, which is why the engines fix the batches)."""
    model, params, shards, noises, blocks = _nodes()
    whole = model.evaluate_nodes(
        params, shards, noises, qfi=qfi, node_rngs=_streams(6), blocks=blocks
    )
    bounds = [0, *sorted(cuts), 6]
    original = model_module.CHUNK_BUDGET
    model_module.CHUNK_BUDGET = budget  # small budgets split a node's rows over chunks
    try:
        parts = evaluate_batches(
            model,
            params,
            NodeInputs(shards, noises, _streams(6), blocks),
            qfi,
            [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)],
        )
    finally:
        model_module.CHUNK_BUDGET = original
    split = merge(parts, None)
    for name in ("loss", "gradient", "accuracy", "qfi"):
        if getattr(whole, name) is not None:
            np.testing.assert_allclose(
                getattr(split, name), getattr(whole, name), rtol=1e-12, atol=1e-13
            )


def test_a_nodes_shots_depend_on_its_own_stream_only() -> None:
    model, params, shards, noises, blocks = _nodes()
    a = model.evaluate_nodes(params, shards, noises, node_rngs=_streams(6), blocks=blocks)
    other = _streams(6)
    other[1] = np.random.default_rng(999)
    b = model.evaluate_nodes(params, shards, noises, node_rngs=other, blocks=blocks)
    changed = [not np.array_equal(a.gradient[k], b.gradient[k]) for k in range(6)]
    assert changed == [False, True, False, False, False, False]


# ------------------------------------------------------------------ engine contract
@pytest.fixture(params=ENGINES.names())
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "ray":
        return request.getfixturevalue("ray_engine")
    return make_engine(EngineConfig(name=request.param))


@pytest.mark.parametrize(
    ("qfi", "count"), [(False, 6), (True, 6), (False, 2 * NODES_PER_BATCH + 5)]
)
def test_every_engine_gives_the_numbers_of_the_fixed_batches(
    engine: Engine, qfi: bool, count: int
) -> None:
    model, params, shards, noises, blocks = _nodes(3, count)
    sizes = list(range(10, 10 + count))
    batches = node_batches(count, NODES_PER_BATCH)
    direct = merge(
        evaluate_batches(
            model, params, NodeInputs(shards, noises, _streams(count), blocks), qfi, batches
        ),
        sizes,
    )
    ran = engine.evaluate_nodes(
        model,
        params,
        shards,
        noises,
        qfi=qfi,
        node_rngs=_streams(count),
        data_sizes=sizes,
        blocks=blocks,
    )
    _assert_same(ran, direct)
    np.testing.assert_array_equal(ran.sizes, sizes)
    if count <= NODES_PER_BATCH:  # one batch: the model's own call
        _assert_same(
            ran,
            model.evaluate_nodes(
                params, shards, noises, qfi=qfi, node_rngs=_streams(count), blocks=blocks
            ),
        )


def test_batches_shrink_four_fold_per_qubit_above_the_dense_pauli_path() -> None:
    assert [nodes_per_batch(n) for n in range(1, 11)] == [64] * 5 + [16, 4, 1, 1, 1]


def test_every_engine_evaluates_the_smaller_batches_of_a_large_register(engine: Engine) -> None:
    """At 7 qubits a batch holds 4 nodes: every engine evaluates exactly those batches
    (same bits as evaluating them one by one), whatever its threads or tasks."""
    rng = np.random.default_rng(4)
    model = QNN(7, 1, n_classes=2, qfi_samples=1)
    params = model.init_params(rng=rng)
    count = 6
    noises = [NoiseModel.build(7, depolarizing=0.02 * (k + 1)) for k in range(count)]
    shards = [(rng.uniform(0, np.pi, (2, 7)), rng.integers(0, 2, 2)) for _ in range(count)]
    batches = node_batches(count, nodes_per_batch(7))
    assert batches == [slice(0, 4), slice(4, 6)]
    direct = merge(
        evaluate_batches(model, params, NodeInputs(shards, noises, None, None), True, batches),
        None,
    )
    ran = engine.evaluate_nodes(
        model, params, shards, noises, qfi=True, node_rngs=None, data_sizes=None, blocks=None
    )
    _assert_same(ran, direct)


@pytest.mark.parametrize("per_task", [2, None])
def test_ray_tasks_of_several_batches_give_the_same_numbers(
    ray_engine: Engine, per_task: int | None
) -> None:
    count = 2 * NODES_PER_BATCH + 5  # tasks of two batches and of one short batch
    model, params, shards, noises, blocks = _nodes(4, count)
    sized = make_engine(EngineConfig(name="ray", batches_per_task=per_task))  # same Ray
    ran, reference = (
        engine.evaluate_nodes(
            model,
            params,
            shards,
            noises,
            qfi=True,
            node_rngs=_streams(count),
            data_sizes=None,
            blocks=blocks,
        )
        for engine in (sized, make_engine(EngineConfig()))
    )
    sized.close()  # it found Ray running: leaves it to its owner
    assert ray_engine._ray.is_initialized()  # type: ignore[attr-defined]
    _assert_same(ran, reference)


def test_every_engine_fails_with_the_models_messages(engine: Engine) -> None:
    model, params, shards, noises, _ = _nodes()
    call = {"qfi": False, "node_rngs": None, "data_sizes": None, "blocks": None}
    with pytest.raises(ValueError, match=re.escape("noises: 5 noise models for 6 shards")):
        engine.evaluate_nodes(model, params, shards, noises[:5], **call)
    with pytest.raises(ValueError, match=r"rng: a numpy Generator \(or node_rngs"):
        engine.evaluate_nodes(model, params, shards, noises, **call)
    bad = [*shards[:3], (np.zeros((2, 3)), np.zeros(2, dtype=int)), *shards[4:]]
    with pytest.raises(
        ValueError, match=re.escape("x: shape (2, 3): must be (n_samples, 4) angles")
    ):
        engine.evaluate_nodes(model, params, bad, noises, **{**call, "node_rngs": _streams(6)})


def test_the_quick_scenario_is_identical_on_ray_and_locally(
    ray_engine: Engine, tmp_path: Path
) -> None:
    config = resolve("quick")  # 8 nodes, 200 shots, 30 rounds, fedavg and qfi
    local = run_experiment(config, tmp_path / "local", progress=False, plot=False)
    on_ray = run_experiment(config, tmp_path / "ray", progress=False, plot=False, engine=ray_engine)
    for table in ("metrics.csv", "node_metrics.csv"):
        assert (local.out / table).read_bytes() == (on_ray.out / table).read_bytes(), table
    assert local.summary["strategies"] == on_ray.summary["strategies"]


def test_a_checkpoint_written_on_ray_resumes_locally_with_the_same_numbers(
    ray_engine: Engine,
) -> None:
    config = from_dict({"training": {"rounds": 4, "batch_size": 5}}, base=resolve("quick"))
    scenario = build_scenario(config, 0)
    reference = Trainer(scenario, "qfi").run(4)
    trainer = Trainer(scenario, "qfi", ray_engine)
    records = trainer.run(2)
    saved = pickle.loads(pickle.dumps(trainer))
    assert type(saved.engine).__name__ == "LocalEngine"  # the connection is not saved
    records += [saved.step() for _ in range(2)]
    assert repr(records) == repr(reference)  # exact floats; NaN fields compare equal


# ---------------------------------------------------------------------- bad input
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket goes


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_cluster_is_a_clear_error(scheme: str) -> None:
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    with pytest.raises(ConfigError) as err:
        make_engine(EngineConfig(name="ray", address=address))
    message = str(err.value)
    assert message.startswith(f"engine.address = '{address}': no Ray cluster answers there")
    assert "ray start --head" in message


def test_ray_address_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(ConfigError, match=re.escape(f"RAY_ADDRESS = '{address}': no Ray")):
        make_engine(EngineConfig(name="ray"))


def test_a_malformed_address_is_named() -> None:
    with pytest.raises(ConfigError, match=re.escape("engine.address = 'headnode': not a")):
        make_engine(EngineConfig(name="ray", address="headnode"))


def test_an_unreachable_cluster_writes_nothing(tmp_path: Path) -> None:
    config = from_dict(
        {"engine": {"name": "ray", "address": f"127.0.0.1:{_closed_port()}"}},
        base=resolve("quick"),
    )
    fresh = tmp_path / "fresh"
    with pytest.raises(ConfigError, match="no Ray cluster answers there"):
        run_experiment(config, fresh, progress=False, plot=False)
    assert not fresh.exists()
    # A finished directory is left exactly as it was.
    done = run_experiment(
        from_dict({"training": {"rounds": 2}}, base=resolve("quick")),
        tmp_path / "done",
        progress=False,
        plot=False,
    )
    before = {p: p.read_bytes() for p in done.out.rglob("*") if p.is_file()}
    again = from_dict({"training": {"rounds": 2}}, base=config)
    with pytest.raises(ConfigError, match="no Ray cluster answers there"):
        run_experiment(again, done.out, progress=False, plot=False)
    assert {p: p.read_bytes() for p in done.out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"name": "spark"}, "engine.name = 'spark': must be one of local, ray"),
        ({"num_cpus": 0}, "engine.num_cpus = 0: must be an integer in [1, 1000000]"),
        (
            {"batches_per_task": 2.5},
            "engine.batches_per_task = 2.5: must be an integer in [1, 1000000]",
        ),
        ({"address": ""}, "engine.address = '': must be a non-empty string or null"),
        (
            {"address": "10.0.0.1:6379", "num_cpus": 4},
            "engine.num_cpus = 4: applies only to a private Ray",
        ),
    ],
)
def test_bad_engine_sections_name_the_field(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict({"engine": section})


def test_the_engine_is_not_swept() -> None:
    with pytest.raises(ConfigError, match=re.escape("sweep.engine.name: the engine changes no")):
        from_dict({"sweep": {"engine.name": ["local", "ray"]}})


def test_num_cpus_with_a_cluster_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    with pytest.raises(ConfigError, match=re.escape("engine.num_cpus = 4: applies only to a")):
        make_engine(EngineConfig(name="ray", num_cpus=4))


def test_merge_refuses_mismatched_parts() -> None:
    model, params, shards, _, _ = _nodes()
    exact = [NoiseModel.build(4)] * 2
    with_qfi = model.evaluate_nodes(params, shards[:2], exact, qfi=True)
    without = model.evaluate_nodes(params, shards[2:4], exact)
    with pytest.raises(ValueError, match="some batches have a QFI and others not"):
        merge([with_qfi, without], None)
    with pytest.raises(ValueError, match=re.escape("data_sizes: shape (3,), need one size")):
        merge([with_qfi], [1, 2, 3])


def test_a_pickled_model_leaves_its_plan_cache_behind() -> None:
    model, params, shards, noises, _ = _nodes()
    bare = len(pickle.dumps(model))
    model.evaluate_nodes(params, shards, noises, node_rngs=_streams(6))
    assert "_plan_memo" in model.__dict__
    assert len(pickle.dumps(model)) == bare


def test_the_engine_changes_no_fingerprint() -> None:
    base = resolve("quick")
    ray = from_dict({"engine": {"name": "ray", "batches_per_task": 3}}, base=base)
    assert ray.fingerprint() == base.fingerprint()


def test_cluster_addresses_are_read_as_host_and_port() -> None:
    from qceas.engine import ray_engine

    assert ray_engine._host_port("auto") is None  # Ray finds the local cluster itself
    assert ray_engine._host_port("ray://head:10001") == ("head", 10001)
    assert ray_engine._host_port("10.1.2.3:6379") == ("10.1.2.3", 6379)
    assert ray_engine._host_port("head") == ("", -1)
    assert ray_engine._host_port("head:port") == ("", -1)


def test_cli_engine_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qceas.cli import main

    base = ["run", "quick", "--quiet", "--no-plots", "--rounds", "2"]
    assert main([*base, "--out", str(tmp_path / "local"), "--engine", "local"]) == 0
    assert (tmp_path / "local" / "metrics.csv").is_file()
    address = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    assert main([*base, "--out", str(tmp_path / "ray"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert f"qceas: error: RAY_ADDRESS = '{address}': no Ray cluster answers there" in err
    assert not (tmp_path / "ray").exists()
    with pytest.raises(SystemExit):
        main([*base, "--out", str(tmp_path / "x"), "--engine", "spark"])
    assert "invalid choice: 'spark'" in capsys.readouterr().err
