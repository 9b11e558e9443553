"""Upgrades without downtime (docs/operations.md): a migration after the first
release only expands the schema, so the previous release's code keeps working
while it runs. A contraction (drop, rename, a new NOT NULL without a default,
a column tightened to NOT NULL) waits a release and is listed in CONTRACTIONS
with the release whose code no longer needs the old shape."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
# The schema of the first release (0.1.0): migrations up to its head are not checked.
FIRST_RELEASE_HEAD = "c2d9e8f1a7b3"
# revision -> why the contraction is safe now (which release stopped using the old shape).
CONTRACTIONS: dict[str, str] = {}

DROPS = {"drop_table", "drop_column", "rename_table"}


def contractions(source: str) -> list[str]:
    """What upgrade() does that code of the release before could trip over."""
    tree = ast.parse(source)
    upgrade = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
        ),
        None,
    )
    found: list[str] = []
    for call in ast.walk(upgrade) if upgrade else []:
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            continue
        name = call.func.attr
        keywords = {k.arg: k.value for k in call.keywords}
        if name in DROPS:
            found.append(f"{name}()")
        elif name == "alter_column":
            if "new_column_name" in keywords:
                found.append("alter_column(new_column_name=...)")
            if _is_false(keywords.get("nullable")):
                found.append("alter_column(nullable=False)")
        elif name == "add_column":
            column = next((a for a in call.args if isinstance(a, ast.Call)), None)
            column_keywords = {k.arg: k.value for k in column.keywords} if column else {}
            if (
                _is_false(column_keywords.get("nullable"))
                and "server_default" not in column_keywords
            ):
                found.append("add_column(NOT NULL without server_default)")
    return found


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _chain() -> list[tuple[str, str]]:
    """(revision, source) from the first migration to the head."""
    by_parent: dict[str | None, tuple[str, str]] = {}
    for path in VERSIONS.glob("*.py"):
        source = path.read_text()
        module = ast.parse(source)
        values = {
            target.id: node.value.value
            for node in module.body
            if isinstance(node, ast.AnnAssign | ast.Assign)
            for target in ([node.target] if isinstance(node, ast.AnnAssign) else node.targets)
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant)
        }
        by_parent[values.get("down_revision")] = (values["revision"], source)
    chain, parent = [], None
    while parent in by_parent:
        revision, source = by_parent[parent]
        chain.append((revision, source))
        parent = revision
    return chain


def test_every_migration_since_the_first_release_only_expands() -> None:
    revisions = [revision for revision, _ in _chain()]
    assert FIRST_RELEASE_HEAD in revisions
    since = _chain()[revisions.index(FIRST_RELEASE_HEAD) + 1 :]
    for revision, source in since:
        if revision in CONTRACTIONS:
            continue
        assert contractions(source) == [], (
            f"migration {revision} contracts the schema while the previous release may "
            "still run: split it (expand now, contract a release later; docs/operations.md) "
            "or list it in CONTRACTIONS with the reason"
        )


ADDITIVE = """
def upgrade():
    op.create_table("note", sa.Column("id", sa.Integer(), nullable=False))
    op.add_column("job", sa.Column("tag", sa.String(), nullable=True))
    op.add_column("job", sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_job_tag", "job", ["tag"])

def downgrade():
    op.drop_column("job", "tag")
    op.drop_table("note")
"""


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ('op.drop_column("job", "tag")', "drop_column()"),
        ('op.drop_table("note")', "drop_table()"),
        ('op.rename_table("note", "memo")', "rename_table()"),
        ('batch_op.alter_column("tag", new_column_name="label")', "new_column_name"),
        ('batch_op.alter_column("tag", nullable=False)', "alter_column(nullable=False)"),
        (
            'op.add_column("job", sa.Column("tag", sa.String(), nullable=False))',
            "add_column(NOT NULL without server_default)",
        ),
    ],
)
def test_the_check_names_each_kind_of_contraction(statement: str, named: str) -> None:
    assert contractions(ADDITIVE) == []
    source = ADDITIVE.replace("def downgrade", f"    {statement}\n\ndef downgrade", 1)
    assert any(named in found for found in contractions(source))
