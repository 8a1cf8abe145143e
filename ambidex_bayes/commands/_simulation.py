"""Options and the run step shared by the ``power`` and ``sbc`` commands."""

from __future__ import annotations

import argparse
from typing import Any

from ambidex_bayes import constants

__all__ = [
    "add_run_options",
    "add_design_option",
    "add_design_file_option",
    "add_centring_option",
    "add_every_predictor_option",
    "design_overrides",
    "sampler_fields",
    "run_options",
]


def _design_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, e.g. tau1=0.15, got {text!r}")
    value = value.strip()
    if value.lower() == "none":
        return key.strip(), None
    for kind in (int, float):
        try:
            return key.strip(), kind(value)
        except ValueError:
            pass
    return key.strip(), value


def add_design_option(parser: argparse.ArgumentParser) -> None:
    """``--set FIELD=VALUE`` (repeatable): change a field of the reference design."""
    parser.add_argument(
        "--set",
        dest="design",
        type=_design_value,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change the reference design, e.g. --set icc=0.3 --set tau1=0.15 "
        "(fields: see ambidex_bayes.simulate.SimulationDesign)",
    )


def add_centring_option(
    parser: argparse.ArgumentParser, *, what: str, choices: tuple[str, ...] | None = None
) -> None:
    """``--centring``: the centring of every fit of a run (``choices``: default all of
    observed, latent and auto)."""
    from ambidex_bayes.spec import CENTRINGS

    parser.add_argument(
        "--centring",
        choices=list(choices or CENTRINGS),
        help="centring of the daily predictor in every fit: observed person means or latent "
        f"ones estimated with the model (M1-M3); {what}",
    )


def add_every_predictor_option(parser: argparse.ArgumentParser) -> None:
    """``--every-predictor``: every level-1 predictor of the design in the model."""
    parser.add_argument(
        "--every-predictor",
        action="store_true",
        help="add the within and between parts of every further level-1 predictor of the "
        "design ([[predictors]] of --design) to the spec's formula, each with person means "
        "of its own",
    )


def add_design_file_option(parser: argparse.ArgumentParser) -> None:
    """``--design FILE``: design fields from a TOML file (tables for a factor moderator and
    further predictors)."""
    parser.add_argument(
        "--design",
        dest="design_file",
        metavar="FILE",
        help="TOML file of reference-design fields, e.g. w_col = false, [factor] with name, "
        "levels, shares and [factor.slopes.<predictor>], [[predictors]] with name, g10, g02, "
        "x_mean, x_sd_between and x_sd_within, mean_corr (correlation of the predictors' "
        "true person means); --set values override it",
    )


def _design_file(path: str) -> dict[str, Any]:
    """The design fields of a TOML file; ``false`` stands for None (TOML has no null)."""
    import tomllib

    from ambidex_bayes.errors import SpecError

    try:
        with open(path, "rb") as handle:
            values = tomllib.load(handle)
    except OSError as err:
        raise SpecError(f"cannot read the design file {path!r}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"the design file {path!r} is not valid TOML: {err}") from None
    return {key: (None if value is False else value) for key, value in values.items()}


def design_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The design fields of ``--design FILE`` (when the command has it) updated by the
    ``--set`` values (checked when the design is built)."""
    path = getattr(args, "design_file", None)
    base = _design_file(path) if path else {}
    return {**base, **dict(args.design)}


def add_run_options(parser: argparse.ArgumentParser, *, default_out: str) -> None:
    """Sampler, cluster and result-folder options."""
    g = parser.add_argument_group("running")
    g.add_argument(
        "--out",
        default=default_out,
        help=f"result folder; an interrupted run resumes from it (default {default_out})",
    )
    g.add_argument(
        "--restart", action="store_true", help="delete the results in --out and start afresh"
    )
    g.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler (tcp://HOST:8786), or 'serial' to run in "
        "this process; default: a local cluster with one worker per core",
    )
    g.add_argument("--workers", type=int, help="workers of the local cluster (default: cores)")
    g.add_argument("--backend", choices=["pymc", "nutpie", "numpyro"], help="NUTS backend")
    g.add_argument(
        "--draws",
        type=int,
        default=constants.DESIGN_DRAWS,
        help=f"draws per chain (default {constants.DESIGN_DRAWS})",
    )
    g.add_argument(
        "--tune",
        type=int,
        default=constants.DESIGN_TUNE,
        help=f"tuning steps per chain (default {constants.DESIGN_TUNE})",
    )
    g.add_argument(
        "--chains",
        type=int,
        default=constants.DESIGN_CHAINS,
        help=f"chains per fit (default {constants.DESIGN_CHAINS})",
    )
    g.add_argument("--seed", type=int, help="seed of the run (each simulation derives its own)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def sampler_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The options that go into a run's configuration (unset ones keep its defaults)."""
    fields = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    if args.backend:
        fields["backend"] = args.backend
    if args.seed is not None:
        fields["seed"] = args.seed
    return fields


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`ambidex_bayes.design.runner.run_in_folder` given on the command
    line."""
    return {
        "restart": args.restart,
        "scheduler": args.scheduler,
        "n_workers": args.workers,
        "progressbar": not args.no_progress,
    }
