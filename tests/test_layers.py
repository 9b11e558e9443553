"""Dependencies point one way (docs/architecture.md): read from the source, every
import between Referral's packages, also one inside a function, goes to the
same layer or a lower one, and no packages import each other in a circle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import referral

PACKAGE = Path(referral.__file__).parent

# Bottom layer first. A package (or top-level module) may import its own layer
# and the layers below it, never one above.
LAYERS: dict[str, set[str]] = {
    "core": {
        "config",
        "paths",
        "logs",
        "db",
        "longlived",
        "tables",
        "errors",
        "ids",
        "money",
        "localtime",
        "spreadsheet",
        "listing",
        "append_only",
        "security",
        "cookie_sessions",
        "webapp",
        "forms",
        "navigation",
        "templating",
        "live",
        "idempotency",
        "restapi",
        "jobs",
        "mail",
        "events",
        "audit",
    },
    "accounts": {"auth", "businesses", "notifications"},
    "network": {"partnerships", "customers", "consent", "referrals"},
    "money": {"ledger", "commissions", "payments", "settlements", "leads"},
    "outreach": {"offers", "campaigns"},
    "insight": {"analytics", "integrations"},
    "app": {
        "__init__",
        "__main__",
        "domains",
        "views",
        "api_docs",
        "onboarding",
        "housekeeping",
        "cli",
        "demo",
        "devserver",
        "backup",
        "migrate",
        "serving",
    },
}
LAYER_OF = {unit: rank for rank, units in enumerate(LAYERS.values()) for unit in units}
LAYER_NAMES = list(LAYERS)


def unit_of(module: str) -> str:
    """`referral.payments.gateway` -> "payments"; the package itself -> "__init__"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    if source == "referral":  # `from referral import db, payments`
        return [f"referral.{alias.name}" for alias in node.names]
    return [source]


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where ("referral/x/y.py:12")."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        source = unit_of(module)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in imported_modules(node, module, path.name == "__init__.py"):
                if target == "referral" or not target.startswith("referral."):
                    continue
                if (destination := unit_of(target)) != source:
                    where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    edges[(source, destination)].append(where)
    return edges


def circles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, destination in edges:
        graph[source].add(destination)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        for other in sorted(graph[unit]):
            if other not in index:
                visit(other)
                low[unit] = min(low[unit], low[other])
            elif other in stack:
                low[unit] = min(low[unit], index[other])
        if low[unit] == index[unit]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == unit:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return found


def test_every_package_has_a_layer() -> None:
    units = {unit_of(module_name(path)) for path in PACKAGE.rglob("*.py")}

    assert sorted(units - set(LAYER_OF)) == [], "place it in LAYERS and docs/architecture.md"
    assert sorted(set(LAYER_OF) - units) == [], "LAYERS names a package that does not exist"


def test_no_import_points_up_a_layer() -> None:
    upward = [
        f"{where}: {source} ({LAYER_NAMES[LAYER_OF[source]]}) imports {destination} "
        f"({LAYER_NAMES[LAYER_OF[destination]]})"
        for (source, destination), places in sorted(import_edges().items())
        if LAYER_OF.get(destination, 0) > LAYER_OF.get(source, 0)
        for where in places
    ]

    assert upward == [], "\n".join(upward)


def test_no_packages_import_each_other_in_a_circle() -> None:
    edges = import_edges()
    found = []
    for component in circles(edges):
        members = set(component)
        found.append(
            f"circle of {len(component)}: "
            + "; ".join(
                f"{source} -> {destination} ({places[0]})"
                for (source, destination), places in sorted(edges.items())
                if source in members and destination in members
            )
        )

    assert found == [], "\n".join(found)


def module_edges() -> dict[tuple[str, str], list[str]]:
    """(importing module, imported module) -> where, for every module of the
    package; `from referral.jobs import queue` imports the module `queue`."""
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = imported_modules(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                targets += [f"{t}.{alias.name}" for t in targets for alias in node.names]
            for target in targets:
                if target in modules and target != module:
                    edges[(module, target)].append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    )
    return edges


def test_no_modules_import_each_other_in_a_circle() -> None:
    """Within a package too: a circle there is held together by an import
    hidden inside a function, and breaks when someone moves it to the top."""
    edges = module_edges()

    assert circles(edges) == [], "\n".join(
        f"{source} -> {destination} ({places[0]})"
        for component in circles(edges)
        for (source, destination), places in sorted(edges.items())
        if source in component and destination in component
    )


def test_the_reader_sees_imports_inside_functions() -> None:
    """The rule covers an import written inside a function, as a dodge would be."""
    tree = ast.parse("def f():\n    from referral.payments import gateway\n")
    (inner,) = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]

    assert imported_modules(inner, "referral.ledger.services", False) == ["referral.payments"]
    assert imported_modules(ast.parse("from .models import X").body[0], "referral.leads", True) == [
        "referral.leads.models"
    ]
