"""The test suite's own shape: helpers live in tests/support (or beside the tests
of one folder), never in a test module or a conftest another test imports."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imported_modules(path: Path) -> list[str]:
    """Every module a file imports (also inside functions), fully named."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
            modules += [f"{node.module}.{alias.name}" for alias in node.names]
    return modules


def _is_test_module_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def imports_of_tests() -> list[str]:
    """`file: module` for each test module or conftest imported by a file under tests/."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for module in _imported_modules(path):
            if _is_test_module_or_conftest(module):
                found.append(f"{path.relative_to(TESTS.parent)}: {module}")
    return found


def test_no_file_imports_a_test_module_or_a_conftest() -> None:
    assert imports_of_tests() == []


def test_the_check_sees_an_import_of_a_test_module_or_a_conftest(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "from tests.partnerships.test_api import api_client\n"
        "def f():\n    import tests.referrals.conftest\n"
        "from tests.support.api import api_client\n"
    )
    imported = [m for m in _imported_modules(source) if _is_test_module_or_conftest(m)]
    assert imported == ["tests.partnerships.test_api", "tests.referrals.conftest"]
