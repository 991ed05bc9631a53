"""The floors of ``docs/architecture.md`` §2, checked on the import graph computed
from the source tree.

Two rules:

* **No upward import.** Every top-level part of ``qceas`` (a package or module) sits
  on a floor; a module imports only its own part and parts on lower floors. Every
  import counts, including those inside functions and under ``TYPE_CHECKING``: a
  reader follows them all.
* **No cycle.** The graph of modules, with an edge for every import that runs (all of
  them but those under ``if TYPE_CHECKING:``, which exist for annotations only), has
  no cycle: every module can be understood after the modules it imports.

The table below is the whole allowance; it shrinks as the code improves and never
grows to admit an arrow the floors forbid.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "qceas"

#: Floors, lowest first; a part may import parts of lower floors and itself.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"physics", "registry", "reproducibility", "_version"}),
    frozenset({"_rules", "streams"}),  # config rules (read plugin registries), stream tags
    frozenset({"qnn", "data", "attacks", "consensus", "agreement"}),
    frozenset({"network", "engine"}),
    frozenset({"scheduling"}),
    frozenset({"security", "partition"}),
    frozenset({"training"}),
    frozenset({"experiments"}),
    frozenset({"config"}),  # the whole config in one import, for users
    frozenset({"cli"}),
)
FLOOR_OF = {part: k for k, floor in enumerate(FLOORS) for part in floor}


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, package: str, modules: set[str]) -> list[tuple[str, bool]]:
    """``(module imported, runs at import or call time)`` for every import of ``path``
    that names a module of ``package`` (``from a import b`` names ``a.b`` where that
    is a module, else ``a``)."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, runs: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, runs)
            return
        if isinstance(node, ast.Import):
            found.extend((a.name, runs) for a in node.names if a.name.split(".")[0] == package)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == package
        ):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub if sub in modules else node.module, runs))
        for child in ast.iter_child_nodes(node):
            visit(child, runs)

    visit(tree, True)
    return found


def graph(root: Path) -> tuple[nx.DiGraph, nx.DiGraph]:
    """(every import, imports that run) between the modules under ``root``."""
    package = root.name
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    every, running = nx.DiGraph(), nx.DiGraph()
    every.add_nodes_from(paths)
    running.add_nodes_from(paths)
    for name, path in paths.items():
        for target, runs in imports(path, package, set(paths)):
            if target in (name, package):
                continue
            every.add_edge(name, target)
            if runs:
                running.add_edge(name, target)
    return every, running


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward_imports(every: nx.DiGraph) -> list[str]:
    """One line per import of a higher floor (or of a part with no floor)."""
    problems = []
    for a, b in every.edges:
        pa, pb = part_of(a), part_of(b)
        if pa == pb or b.count(".") == 0:
            continue
        if pa not in FLOOR_OF:
            problems.append(f"{a}: part {pa!r} has no floor; add it to FLOORS")
        elif pb not in FLOOR_OF or FLOOR_OF[pb] >= FLOOR_OF[pa]:
            problems.append(f"{a} imports {b}: floor of {pb!r} is not below {pa!r}")
    return sorted(set(problems))


def cycles(running: nx.DiGraph) -> list[list[str]]:
    """The strongly connected components of more than one module."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(running) if len(c) > 1)


EVERY, RUNNING = graph(SRC)


def test_the_graph_covers_every_module() -> None:
    assert len(EVERY) == sum(1 for _ in SRC.rglob("*.py"))
    assert EVERY.number_of_edges() > 200  # the parser sees the imports


@pytest.mark.parametrize("part", sorted({part_of(m) for m in EVERY if m != SRC.name}))
def test_every_part_imports_only_lower_floors(part: str) -> None:
    problems = [p for p in upward_imports(EVERY) if part_of(p.split(":")[0].split()[0]) == part]
    assert not problems, "\n".join(problems)


def test_the_import_graph_has_no_cycle() -> None:
    found = cycles(RUNNING)
    loops = []
    for component in found:
        edges = nx.find_cycle(RUNNING.subgraph(component))
        loops.append(" -> ".join([a for a, _ in edges] + [edges[0][0]]))
    assert not found, "import cycles (one loop of each): " + "; ".join(loops)


# ---------------------------------------------------------------- the checker itself
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "qceas"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in {p.parent for p in root.rglob("*.py")} | {root}:
        (folder / "__init__.py").touch()
    return root


def _lines(found: Iterable[str]) -> str:
    return "\n".join(found)


def test_the_checker_fails_on_a_deliberate_upward_import(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "physics/werner.py": "from qceas.training.trainer import Trainer\n",
            "training/trainer.py": "from qceas.physics import werner\nclass Trainer: ...\n",
        },
    )
    every, running = graph(root)
    found = upward_imports(every)
    assert found == [
        "qceas.physics.werner imports qceas.training.trainer: "
        "floor of 'training' is not below 'physics'"
    ], _lines(found)
    assert cycles(running) == [["qceas.physics.werner", "qceas.training.trainer"]]


def test_the_checker_counts_function_level_imports_but_not_type_checking_ones(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "qnn/a.py": "def f():\n    from qceas.qnn import b\n",
            "qnn/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from qceas.qnn.a import f\n",
            "qnn/c.py": "def g():\n    import qceas.qnn.d\n",
            "qnn/d.py": "from qceas.qnn.c import g\n",
            "data/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from qceas.network.y import Y\n",
            "network/y.py": "class Y: ...\n",
        },
    )
    every, running = graph(root)
    assert cycles(running) == [["qceas.qnn.c", "qceas.qnn.d"]]  # a <-> b is annotation only
    assert upward_imports(every) == [
        "qceas.data.x imports qceas.network.y: floor of 'network' is not below 'data'"
    ]
