"""Further CLI commands, one module each.

Each module defines ``NAME`` (the command), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; :mod:`ambidex_bayes.cli` registers every
module listed in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

#: Modules of this package that provide a command, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "moderation",
    "ppc",
    "compare",
    "compare_priors",
    "prior_check",
    "power",
    "sbc",
)
