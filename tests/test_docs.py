"""Docs are tested: every command is in the README's table with help text, and the README's two
fresh-machine commands are the ones CI runs."""
from __future__ import annotations

import click

from tiesense import cli

from .conftest import ROOT


def commands(group: click.Group, prefix: str = "tiesense"):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", cmd


def test_every_command_has_help_and_a_line_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    found = list(commands(cli.main))
    assert len(found) >= 5
    for path, cmd in found:
        assert cmd.help and len(cmd.help) > 20, f"{path} has no help text"
        assert f"`{path}" in readme, f"{path} is missing from the README's command table"


def test_ci_runs_the_readme_test_command_word_for_word():
    readme = (ROOT / "README.md").read_text().splitlines()
    blocks = [readme[i + 1] for i, line in enumerate(readme[:40]) if line.strip() == "```" and i + 1 < len(readme)
              and readme[i + 1].startswith("scripts/")]
    assert len(blocks) == 2, "the README opens with two fresh-machine commands"
    demo, test = blocks
    assert demo.endswith("tiesense demo") and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text()
