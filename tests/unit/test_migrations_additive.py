"""`relais migrate` is safe while old workers serve (docs/deploy.md, "Upgrades"): after the
last release's schema, a migration only adds. It may create tables, indexes and columns that
are nullable or have a server default (the old code inserts rows without them); it may not
drop or rename a table or a column, nor alter one (the old code still reads and writes it).
A breaking change waits for the next release line and is announced as such."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "migrations" / "versions"
# The newest revision of the last release (0.1.0 has not shipped yet: everything up to this
# one predates it). Move it at each release to that release's head.
LAST_RELEASE_HEAD = "0008"
FORBIDDEN = {"drop_table", "drop_column", "rename_table", "alter_column"}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _adds_a_column_old_code_can_ignore(call: ast.Call) -> bool:
    keywords = {k.arg: k.value for c in _calls(call) for k in c.keywords}
    nullable = keywords.get("nullable")
    return "server_default" in keywords or (
        isinstance(nullable, ast.Constant) and nullable.value is True
    )


def breaking_steps(source: str) -> list[str]:
    """What `upgrade()` does that code of the previous release could not live with."""
    module = ast.parse(source)
    upgrade = next(
        (n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    if upgrade is None:
        return []
    found = []
    for call in _calls(upgrade):
        name = _name(call)
        if name in FORBIDDEN:
            found.append(f"line {call.lineno}: {name}")
        elif name == "add_column" and not _adds_a_column_old_code_can_ignore(call):
            found.append(f"line {call.lineno}: add_column, neither nullable nor with a default")
    return found


def _revision(path: Path) -> str:
    return path.name.split("_", 1)[0]


def test_migrations_after_the_last_release_only_add() -> None:
    later = [p for p in sorted(VERSIONS.glob("*.py")) if _revision(p) > LAST_RELEASE_HEAD]
    problems = {p.name: breaking_steps(p.read_text(encoding="utf-8")) for p in later}
    assert not {name: steps for name, steps in problems.items() if steps}, (
        "a migration after the last release would break the workers still serving during an "
        f"upgrade: {problems}"
    )
    assert (VERSIONS / f"{LAST_RELEASE_HEAD}_one_session_table.py").exists()


@pytest.mark.parametrize(
    ("upgrade", "breaking"),
    [
        ("op.create_table('photo_note', sa.Column('id', sa.Integer()))", False),
        ("op.add_column('child', sa.Column('note', sa.Text(), nullable=True))", False),
        ("op.add_column('child', columns.text('note', nullable=True))", False),
        ("op.add_column('child', columns.flag('late', server_default='0'))", False),
        ("op.create_index('ix_child_note', 'child', ['note'])", False),
        ("op.add_column('child', columns.flag('late'))", True),
        ("op.add_column('child', sa.Column('n', sa.Integer(), nullable=False))", True),
        ("op.drop_column('child', 'note')", True),
        ("op.drop_table('photo_note')", True),
        ("op.rename_table('child', 'kid')", True),
        ("with op.batch_alter_table('child') as b:\n        b.alter_column('note')", True),
    ],
)
def test_the_rule_tells_adding_from_breaking(upgrade: str, breaking: bool) -> None:
    downgrade = "def downgrade() -> None:\n    op.drop_table('x')\n"  # undoing may drop
    source = f"def upgrade() -> None:\n    {upgrade}\n\n\n{downgrade}"
    assert bool(breaking_steps(source)) is breaking
