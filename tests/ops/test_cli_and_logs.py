"""Every `medianest` subcommand documents itself, and file logs rotate and are pruned."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import click
from click.testing import CliRunner

from medianest.cli import app as cli_app


def registered_command_names() -> list[str]:
    assert isinstance(cli_app, click.Group)
    return sorted(cli_app.commands)


def test_every_registered_subcommand_answers_help_with_a_description():
    names = registered_command_names()
    assert {"serve", "migrate", "backup", "restore", "generate-secrets"} <= set(names)
    runner = CliRunner()
    for name in names:
        result = runner.invoke(cli_app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output, name
        command = cli_app.commands[name]
        assert (command.help or "").strip(), f"`medianest {name}` has no description"


def test_log_file_rotates_at_the_size_limit_and_keeps_only_the_configured_backups(tmp_path):
    log_file = tmp_path / "logs" / "medianest.log"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from medianest.core.logging import configure_logging, get_logger
        configure_logging(log_file=Path({str(log_file)!r}), max_bytes=2048, backups=2)
        log = get_logger("rotation-test")
        for number in range(300):
            log.info("filler", number=number, token="never-in-the-file")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

    files = sorted(p.name for p in log_file.parent.iterdir())
    assert files == ["medianest.log", "medianest.log.1", "medianest.log.2"]
    for path in log_file.parent.iterdir():
        assert path.stat().st_size <= 2048
    newest = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert newest[-1]["number"] == 299
    assert all(line["token"] == "[REDACTED]" for line in newest)
