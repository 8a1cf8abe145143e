"""ambidex_bayes: Bayesian multilevel analysis of daily-diary studies.

Within-person slopes, their moderation by person-level variables (cross-level
interactions), and the checks a methodologist reports with them.

One import gives every verb a notebook needs::

    import ambidex_bayes as ab

    diary = ab.load_diary("diaries.sav", "mapping.toml")
    data = ab.prepare(diary)
    m3 = ab.fit(ab.load_spec("M3"), data, settings=ab.SamplerSettings(backend="nutpie"))
    ab.summary(m3)
    ab.simple_slopes(m3)
    ab.plot_moderation_curve(ab.moderation_curve(m3), johnson_neyman=ab.johnson_neyman(m3))

The names are loaded on first use (:pep:`562`): ``import ambidex_bayes`` itself imports
neither PyMC nor Bambi nor ArviZ, so the command line starts fast. ``__all__`` lists them;
the families' own faces stay reachable as ``ab.data``, ``ab.datasets``, ``ab.results``,
``ab.moderation``, ``ab.checks``, ``ab.priors`` and ``ab.design``.

Five verbs share their names with modules: ``ab.fit``, ``ab.prepare``, ``ab.simulate``,
``ab.report`` and ``ab.multiverse`` are always the functions. Reach the modules by their
full names (``from ambidex_bayes.fit import FitResult``, or
``importlib.import_module("ambidex_bayes.fit")``).

Examples
--------
>>> import ambidex_bayes as ab
>>> "simple_slopes" in ab.__all__
True
>>> diary = ab.load_diary(ab.example_path(), ab.example_mapping_path())
>>> diary.mapping.outcome, diary.mapping.level1, diary.mapping.level2
('innovation', ('uncertainty',), ('leader_support',))
"""

from __future__ import annotations

import difflib
import importlib
import sys
import types

__version__ = "0.1.0"

#: Public name -> ``"module:attribute"``. Names point at the package faces
#: (``ambidex_bayes.data``, ``.results``, ``.moderation``, ``.priors``, ``.design``) where
#: those re-export them, so that moves inside a family do not reach this table.
_EXPORTS: dict[str, str] = {
    # data: read, validate, prepare; the bundled example; simulated studies
    "load_diary": "ambidex_bayes.data:load_diary",
    "ColumnMapping": "ambidex_bayes.data:ColumnMapping",
    "DiaryData": "ambidex_bayes.data:DiaryData",
    "prepare": "ambidex_bayes.prepare:prepare",
    "PreparedData": "ambidex_bayes.prepare:PreparedData",
    "load_example": "ambidex_bayes.datasets:load_example",
    "example_path": "ambidex_bayes.datasets:example_path",
    "example_mapping_path": "ambidex_bayes.datasets:example_mapping_path",
    "example_truth": "ambidex_bayes.datasets:example_truth",
    "simulate": "ambidex_bayes.simulate:simulate_diary",
    "reference_design": "ambidex_bayes.simulate:reference_design",
    "SimulationDesign": "ambidex_bayes.simulate:SimulationDesign",
    # models and fitting
    "load_spec": "ambidex_bayes.spec:load_spec",
    "ladder_specs": "ambidex_bayes.ladder:ladder_specs",
    "ModelSpec": "ambidex_bayes.spec:ModelSpec",
    "SamplerSettings": "ambidex_bayes.fit:SamplerSettings",
    "fit": "ambidex_bayes.fit:fit",
    "load_fit": "ambidex_bayes.fit:load_fit",
    "FitResult": "ambidex_bayes.fit:FitResult",
    "build_model": "ambidex_bayes.model:build_model",
    "PosteriorDraws": "ambidex_bayes.posterior:PosteriorDraws",
    # results and moderation
    "summary": "ambidex_bayes.results:posterior_summary",
    "icc": "ambidex_bayes.results:icc",
    "simple_slopes": "ambidex_bayes.moderation:simple_slopes",
    "SimpleSlopes": "ambidex_bayes.moderation:SimpleSlopes",
    "slope_differences": "ambidex_bayes.moderation:slope_differences",
    "standardise_simple_slopes": "ambidex_bayes.moderation:standardise_simple_slopes",
    "moderation_lines": "ambidex_bayes.moderation:moderation_lines",
    "moderation_curve": "ambidex_bayes.moderation:moderation_curve",
    "ModerationCurve": "ambidex_bayes.moderation:ModerationCurve",
    "johnson_neyman": "ambidex_bayes.moderation:johnson_neyman",
    "JohnsonNeyman": "ambidex_bayes.moderation:JohnsonNeyman",
    "person_slopes": "ambidex_bayes.moderation:person_slopes",
    "PersonSlopes": "ambidex_bayes.moderation:PersonSlopes",
    "within_between": "ambidex_bayes.moderation:within_between",
    "WithinBetween": "ambidex_bayes.moderation:WithinBetween",
    "moderation_results": "ambidex_bayes.moderation:moderation_results",
    # checks: posterior predictive checks, model comparison, explained variance
    "ppc": "ambidex_bayes.checks.ppc:posterior_predictive",
    "PredictiveDraws": "ambidex_bayes.checks.ppc:PredictiveDraws",
    "statistic_checks": "ambidex_bayes.checks.ppc:statistic_checks",
    "person_checks": "ambidex_bayes.checks.ppc:person_checks",
    "flagged_persons": "ambidex_bayes.checks.ppc:flagged_persons",
    "person_intervals": "ambidex_bayes.checks.ppc:person_intervals",
    "range_check": "ambidex_bayes.checks.ppc:range_check",
    "density_overlay": "ambidex_bayes.checks.ppc:density_overlay",
    "loo_pit_values": "ambidex_bayes.checks.ppc:loo_pit_values",
    "loo_pit_tree": "ambidex_bayes.checks.loo_pit:loo_pit_tree",
    "loo_pit_uniformity": "ambidex_bayes.checks.loo_pit:loo_pit_uniformity",
    "loo": "ambidex_bayes.checks.comparison:psis_loo",
    "LooResult": "ambidex_bayes.checks.comparison:LooResult",
    "loo_table": "ambidex_bayes.checks.comparison:loo_table",
    "kfold": "ambidex_bayes.checks.comparison:kfold_by_person",
    "compare": "ambidex_bayes.checks.comparison:compare_fits",
    "Comparison": "ambidex_bayes.checks.comparison:Comparison",
    "compare_models": "ambidex_bayes.checks.comparison:compare_models",
    "r2": "ambidex_bayes.checks.r2:explained_variance",
    "r2_table": "ambidex_bayes.checks.r2:r2_table",
    "variance_decomposition": "ambidex_bayes.checks.r2:variance_decomposition",
    "slope_variance_explained": "ambidex_bayes.checks.r2:slope_variance_explained",
    # priors
    "available_prior_sets": "ambidex_bayes.priors:available_prior_sets",
    "read_prior_set": "ambidex_bayes.priors:read_prior_set",
    "load_prior_set": "ambidex_bayes.priors:load_prior_set",
    "prior_predictive_check": "ambidex_bayes.priors:prior_predictive_check",
    "prior_predictive_table": "ambidex_bayes.priors:prior_predictive_table",
    "compare_priors": "ambidex_bayes.priors:compare_priors",
    "PriorComparison": "ambidex_bayes.priors:PriorComparison",
    # study design
    "power": "ambidex_bayes.design:run_power",
    "PowerConfig": "ambidex_bayes.design:PowerConfig",
    "power_tasks": "ambidex_bayes.design:power_tasks",
    "power_table": "ambidex_bayes.design:power_table",
    "describe_power": "ambidex_bayes.design:describe_power",
    "sbc": "ambidex_bayes.design:run_sbc",
    "SBCConfig": "ambidex_bayes.design:SBCConfig",
    "sbc_ranks": "ambidex_bayes.design:sbc_ranks",
    "sbc_calibration": "ambidex_bayes.design:sbc_calibration",
    # many analyses at once: one model over a grid of choices
    "multiverse": "ambidex_bayes.multiverse:run_multiverse",
    "MultiverseConfig": "ambidex_bayes.multiverse:MultiverseConfig",
    "DataSet": "ambidex_bayes.multiverse:DataSet",
    "describe_multiverse": "ambidex_bayes.multiverse:describe_multiverse",
    # the whole analysis and its report
    "report": "ambidex_bayes.workflow:report",
    "run_analysis": "ambidex_bayes.pipeline:run_analysis",
    "analysis_from_fits": "ambidex_bayes.pipeline:analysis_from_fits",
    "Analysis": "ambidex_bayes.pipeline:Analysis",
    "write_report": "ambidex_bayes.report:write_report",
    # figures (each draws what its compute twin returned)
    "plot_icc": "ambidex_bayes.results:plot_icc",
    "plot_fixed_effects": "ambidex_bayes.results:plot_fixed_effects",
    "plot_simple_slopes": "ambidex_bayes.results:plot_simple_slopes",
    "plot_moderation_lines": "ambidex_bayes.results:plot_moderation_lines",
    "plot_moderation_curve": "ambidex_bayes.moderation:plot_moderation_curve",
    "plot_boundary_posterior": "ambidex_bayes.moderation:plot_boundary_posterior",
    "plot_person_slopes": "ambidex_bayes.moderation:plot_person_slopes",
    "plot_ppc_density": "ambidex_bayes.checks.plots:plot_ppc_density",
    "plot_ppc_statistics": "ambidex_bayes.checks.plots:plot_ppc_statistics",
    "plot_person_intervals": "ambidex_bayes.checks.plots:plot_person_intervals",
    "plot_loo_pit": "ambidex_bayes.checks.plots:plot_loo_pit",
    "plot_pareto_k": "ambidex_bayes.checks.plots:plot_pareto_k",
    "plot_comparison": "ambidex_bayes.checks.plots:plot_comparison",
    "plot_variance_decomposition": "ambidex_bayes.checks.plots:plot_variance_decomposition",
    "plot_prior_predictive": "ambidex_bayes.priors:plot_prior_predictive",
    "plot_prior_slopes": "ambidex_bayes.priors:plot_prior_slopes",
    "plot_prior_forest": "ambidex_bayes.priors:plot_prior_forest",
    "plot_prior_sensitivity": "ambidex_bayes.priors:plot_prior_sensitivity",
    "plot_bf_sensitivity": "ambidex_bayes.priors:plot_bf_sensitivity",
    "plot_power_curve": "ambidex_bayes.design:plot_power_curve",
    "plot_sbc_ecdf": "ambidex_bayes.design:plot_sbc_ecdf",
    "plot_rank_histograms": "ambidex_bayes.design:plot_rank_histograms",
    "plot_multiverse": "ambidex_bayes.multiverse:plot_multiverse",
}

#: The families' own faces, reachable as ``ab.<name>`` without an import of their own.
_SUBPACKAGES: tuple[str, ...] = (
    "checks",
    "data",
    "datasets",
    "design",
    "moderation",
    "priors",
    "results",
)

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    """Import the module behind ``name`` on first use and keep the object (:pep:`562`)."""
    target = _EXPORTS.get(name)
    if target is not None:
        module_name, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    close = difflib.get_close_matches(name, [*_EXPORTS, *_SUBPACKAGES], n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise AttributeError(
        f"module {__name__!r} has no attribute {name!r}.{hint} "
        f"The public names are listed in ambidex_bayes.__all__."
    )


def __dir__() -> list[str]:
    """The public names, the families' faces and the module's own attributes."""
    return sorted({*globals(), *__all__, *_SUBPACKAGES})


class _FrontDoor(types.ModuleType):
    """The package module: importing a submodule never replaces a verb of the same name.

    Importing ``ambidex_bayes.fit`` (say, for :class:`SamplerSettings`) would otherwise bind
    the module to ``ambidex_bayes.fit`` and hide the function ``ab.fit``.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the submodule stays importable by its full name (sys.modules)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _FrontDoor
