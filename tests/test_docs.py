"""The documents say what the code does: the settings table (docs/settings.md) and the
command table (README.md) are checked against the declared settings and the commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from rivalry.server.cli import EXIT_CODES, main
from rivalry.server.settings import SETTINGS

ROOT = Path(__file__).parent.parent


def _rendered(value: object) -> str:
    if value == "":
        return "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def settings_table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (ROOT / "docs" / "settings.md").read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`") and cells[1].startswith("`RIVALRY_"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2])
    return rows


def test_the_settings_table_lists_every_setting_with_its_variable_and_default() -> None:
    table = settings_table()
    assert set(table) == {s.name for s in SETTINGS}, "docs/settings.md and the settings differ"
    for setting in SETTINGS:
        env, default = table[setting.name]
        assert env == setting.env, setting.name
        assert default == _rendered(setting.default), setting.name


def command_table() -> dict[str, str]:
    """Each command the README's table names, with its usage as the table gives it (a
    row may show several: `rivalry queries`, `rivalry query --canned NAME`)."""
    rows: dict[str, str] = {}
    for line in (ROOT / "README.md").read_text("utf-8").splitlines():
        if line.startswith("| `rivalry "):
            for usage in re.findall(r"`rivalry ([^`]*)`", line.split("|")[1]):
                name, _, rest = usage.partition(" ")
                rows[name] = rows.get(name, "") + " " + rest
    return rows


def test_the_readme_names_every_command_and_only_options_they_have() -> None:
    table = command_table()
    assert isinstance(main, click.Group)
    assert set(table) == set(main.commands), "the README's command table and the commands differ"
    for name, row in table.items():
        command = main.commands[name]
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", row):
            assert option in known, f"rivalry {name} has no option {option}"


def test_the_readme_gives_every_exit_code() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    claims = text[text.index("Exit codes:"):]
    claims = claims[:claims.index("\n\n")]
    for code in {0, *EXIT_CODES.values()}:
        assert re.search(rf"(?<![\d.]){code} [a-z]", claims), f"exit code {code} not described"
