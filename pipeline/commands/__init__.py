"""CLI commands, one light module each (see pipeline.cli.COMMANDS)."""
