"""Further CLI commands, one module each.

Each module defines ``NAME`` (the command), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; :mod:`ambidex_bayes.cli` imports them by
name and registers every one listed in its ``COMMAND_MODULES``. The options and helpers the
commands share live in :mod:`ambidex_bayes.commands._options`; no command imports the CLI.
"""
