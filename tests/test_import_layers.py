"""The import direction of ARCHITECTURE §2, checked on the source tree.

Lower layers never import higher ones: ``physics`` and ``reproducibility`` (the
one-BLAS-thread scope every layer's entry points enter) import nothing of ours; ``qnn``,
``data`` (and later ``network``, ``attacks``, ``consensus``, ``security``) import only
``physics``, ``registry`` and themselves; ``config`` may also read the plugin
registries of ``qnn``, ``data``, ``attacks``, ``training``, ``network`` and
``scheduling`` to validate names; ``network`` may read ``config`` (to build a
network from its section);
``engine`` runs ``qnn`` evaluations where a config's ``engine`` section says;
``training`` composes the lower layers; nothing imports ``experiments`` or ``cli`` but
themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "qceas"

LOW = {"physics", "registry", "reproducibility"}
ALLOWED: dict[str, set[str]] = {
    "physics": {"physics"},
    "registry": {"registry"},
    "reproducibility": {"reproducibility"},
    "qnn": {"qnn"} | LOW,
    "data": {"data"} | LOW,
    "network": {"network"} | LOW | {"config"},
    "attacks": {"attacks"} | LOW | {"config"},
    "consensus": {"consensus"} | LOW | {"config"},
    "security": {"security"} | LOW | {"config"},
    "scheduling": {"scheduling", "network"} | LOW | {"config"},
    "config": {
        "config",
        "qnn",
        "data",
        "training",
        "attacks",
        "network",
        "scheduling",
        "engine",
    }
    | LOW,
    "engine": {"engine", "qnn", "config"} | LOW,
    "training": {
        "engine",
        "training",
        "qnn",
        "data",
        "config",
        "consensus",
        "attacks",
        "security",
        "network",
        "scheduling",
    }
    | LOW,
    "experiments": {
        "engine",
        "experiments",
        "training",
        "qnn",
        "data",
        "config",
        "network",
        "scheduling",
    }
    | LOW,
    "cli": {"cli", "experiments", "training", "config", "network", "engine"} | LOW,
}


def _layer(module_path: Path) -> str:
    rel = module_path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "qceas" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    layer = _layer(path)
    assert layer in ALLOWED, f"{layer}: new top-level module, add it to the layer table"
    illegal = _imported_layers(path) - ALLOWED[layer]
    assert not illegal, f"{path.relative_to(SRC)} ({layer}) imports {sorted(illegal)}"
