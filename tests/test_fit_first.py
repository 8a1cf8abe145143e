"""One calling convention: every analysis of ``results/`` and ``moderation/`` takes the fit first.

A public function of either package either takes a :class:`~ambidex_bayes.posterior.Fitted`
(a ``FitResult``, or ``PosteriorDraws`` for draws from elsewhere) as its first argument,
named ``fit``, or is listed below with the reason it takes something else. A new public
function therefore cannot silently bring back the ``(idata, terms, prepared)`` convention.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from types import SimpleNamespace

import pandas as pd
import pytest
from fake_posterior import as_fit, make_prepared, make_terms, moderation_draws

from ambidex_bayes.errors import AmbidexError
from ambidex_bayes.posterior import Fitted, PosteriorDraws

PACKAGES = ("ambidex_bayes.results", "ambidex_bayes.moderation")

#: The analyses: they read the draws of a fit.
FIT_FIRST = {
    "posterior_summary",
    "summary_roles",
    "icc",
    "icc_draws",
    "simple_slopes",
    "standardise_simple_slopes",
    "moderation_curve",
    "johnson_neyman",
    "boundary_draws",
    "moderation_lines",
    "person_slopes",
    "person_slopes_bambi",
    "within_between",
    "moderation_results",
}

#: Public functions that take no fit, and why.
NOT_FIT_FIRST = {
    "parameter_roles": "names parameters by role from the terms alone; reads no draws",
    "moderator_grid": "moderator values from the data and terms; reads no draws",
    "moderator_by_person": "moderator values from the data and terms; reads no draws",
    "observed_range": "moderator range from the data and terms; reads no draws",
    "slope_scales": "SDs of the data that define the standardised scale; reads no draws",
    "default_x_range": "predictor range from the data and terms; reads no draws",
    "observed_moderator_range": "moderator range from the data and terms; reads no draws",
    "transform_of": "how a prepared column was made, from the data alone; reads no draws",
    "extrapolation_of": "flags values outside a range; reads no draws",
    "extrapolation_message": "words for values outside a range; reads no draws",
    "refuse_nonfinite": "checks an array of draws already computed",
    "summarise_draws": "describes an array of draws already computed",
    "slope_differences": "works on the SimpleSlopes a fit gave, which hold their draws",
    "write_moderation_files": "saves the ModerationResults a fit gave",
    "report_section": "presents an analysis, which holds its fits by name",
    "focus_pair": "re-points an analysis, which holds its fits by name, at a chosen pair",
    "plot_moderation_lines": "plot twin: draws a computed table",
    "plot_simple_slopes": "plot twin: draws a computed result",
    "plot_icc": "plot twin: draws a computed table",
    "plot_fixed_effects": "plot twin: draws a computed table",
    "plot_moderation_curve": "plot twin: draws a computed result",
    "plot_boundary_posterior": "plot twin: draws a computed result",
    "plot_person_slopes": "plot twin: draws a computed result",
}


def public_functions() -> dict[str, Callable[..., object]]:
    """Every function in the ``__all__`` of the two packages and of their modules."""
    found: dict[str, Callable[..., object]] = {}
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules = [package] + [
            importlib.import_module(f"{name}.{info.name}")
            for info in pkgutil.iter_modules(package.__path__)
        ]
        for module in modules:
            for public in getattr(module, "__all__", ()):
                obj = getattr(module, public)
                if inspect.isfunction(obj):
                    found[public] = obj
    return found


def test_every_public_function_is_classified():
    functions = public_functions()
    unclassified = sorted(set(functions) - FIT_FIRST - set(NOT_FIT_FIRST))
    assert not unclassified, (
        f"New public function(s) {unclassified}: an analysis takes the fit first "
        "(add it to FIT_FIRST), anything else says why not (NOT_FIT_FIRST)."
    )
    assert FIT_FIRST <= set(functions), sorted(FIT_FIRST - set(functions))


@pytest.mark.parametrize("name", sorted(FIT_FIRST))
def test_analyses_take_the_fit_first(name):
    parameters = list(inspect.signature(public_functions()[name]).parameters.values())
    first, rest = parameters[0], parameters[1:]
    assert first.name == "fit"
    assert first.annotation in ("Fitted", "BambiFitted")
    assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    names = {p.name for p in parameters}
    assert not names & {"idata", "terms", "prepared"}, sorted(names)
    # options stay keyword-only; standardise_simple_slopes also takes the slopes to scale
    positional = [p.name for p in rest if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert positional == (["slopes"] if name == "standardise_simple_slopes" else [])


def test_no_public_function_takes_the_posterior_alone():
    for name, function in public_functions().items():
        assert "idata" not in inspect.signature(function).parameters, name


@pytest.mark.parametrize("name", sorted(FIT_FIRST - {"standardise_simple_slopes"}))
def test_the_bare_posterior_is_refused_with_the_call_to_write(name):
    tree, _ = moderation_draws(0)
    with pytest.raises(AmbidexError, match=rf"^{name} takes the fit first.*not {name}\(fit\.idata"):
        public_functions()[name](tree)


def test_standardise_simple_slopes_refuses_the_slopes_in_place_of_the_fit():
    from ambidex_bayes.moderation import simple_slopes, standardise_simple_slopes

    tree, _ = moderation_draws(0)
    slopes = simple_slopes(as_fit(tree, make_terms(), make_prepared()))
    with pytest.raises(AmbidexError, match="standardise_simple_slopes takes the fit first"):
        standardise_simple_slopes(slopes, slopes)  # type: ignore[arg-type]


def test_fit_result_and_posterior_draws_have_the_three_pieces():
    from ambidex_bayes.fit import FitResult

    fields = {f.name for f in dataclasses.fields(FitResult)}
    assert {"idata", "terms", "prepared"} <= fields
    draws = as_fit(moderation_draws(0)[0], make_terms(), make_prepared())
    assert isinstance(draws, PosteriorDraws)
    assert isinstance(draws, Fitted)
    with pytest.raises(dataclasses.FrozenInstanceError):
        draws.terms = make_terms()  # type: ignore[misc]


def test_any_object_with_the_three_pieces_is_a_fit():
    from ambidex_bayes.moderation import simple_slopes

    tree, _ = moderation_draws(2)
    terms, prepared = make_terms(), make_prepared()
    duck = SimpleNamespace(idata=tree, terms=terms, prepared=prepared)
    assert isinstance(duck, Fitted)
    pd.testing.assert_frame_equal(
        simple_slopes(duck, at=[2.5, 4.0]).table,
        simple_slopes(PosteriorDraws(tree, terms, prepared), at=[2.5, 4.0]).table,
    )


def test_terms_that_are_not_moderation_terms_are_refused():
    from ambidex_bayes.results import posterior_summary

    tree, _ = moderation_draws(0)
    odd = SimpleNamespace(idata=tree, terms=make_terms().to_dict(), prepared=make_prepared())
    with pytest.raises(AmbidexError, match="fit.terms must be the ModerationTerms"):
        posterior_summary(odd)
