"""The methods paragraph of an analysis, in plain words to paste into a paper.

:func:`methods_paragraph` reads everything it states from the fits of the analysis: the
package versions recorded with each fit, the models and their formulas, the priors actually
used (with their source), the centring of the prepared data and the reliability of the
person means, the sampler settings (backend, chains, draws, tuning, target acceptance,
seed, fast path or full NUTS) and the convergence diagnostics; the Pareto k of PSIS-LOO
when a LOO table is given. Nothing is computed here.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ambidex_bayes import constants

if TYPE_CHECKING:
    from ambidex_bayes.fit import FitResult
    from ambidex_bayes.pipeline import Analysis
    from ambidex_bayes.prepare import PreparedData

__all__ = ["methods_paragraph", "sampler_settings_of"]

#: Package names as a paper prints them.
_PACKAGE_NAMES = {
    "ambidex_bayes": "ambidex_bayes",
    "bambi": "Bambi",
    "pymc": "PyMC",
    "pytensor": "PyTensor",
    "arviz": "ArviZ",
    "arviz-stats": "arviz-stats",
    "nutpie": "nutpie",
    "numpyro": "NumPyro",
    "jax": "JAX",
}


def _join(items: Sequence[str], word: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _number(value: float) -> str:
    return f"{value:.3g}"


def sampler_settings_of(fit: FitResult) -> dict[str, Any]:
    """The settings the kept draws were sampled with (a second try's when there was one)."""
    rescue = fit.meta.get("rescue")
    if isinstance(rescue, Mapping) and isinstance(rescue.get("settings"), Mapping):
        return dict(rescue["settings"])
    return dict(fit.meta.get("settings") or {})


def _version(versions: Mapping[str, str], package: str) -> str:
    version = versions.get(package)
    name = _PACKAGE_NAMES.get(package, package)
    return f"{name} {version}" if version else ""


def _software(fits: Mapping[str, FitResult]) -> str:
    first = next(iter(fits.values()))
    versions: Mapping[str, str] = first.meta.get("versions") or {}
    python = first.meta.get("python") or platform.python_version()
    text = (
        f"The analyses were run in Python {python} with "
        f"{_version(versions, 'ambidex_bayes') or 'ambidex_bayes'}, which builds the models "
        f"in {_version(versions, 'bambi') or 'Bambi'} on "
        f"{_version(versions, 'pymc') or 'PyMC'}"
        + (f" ({_version(versions, 'pytensor')})" if versions.get("pytensor") else "")
        + f" and summarises the posteriors with {_version(versions, 'arviz') or 'ArviZ'}"
        + (f" ({_version(versions, 'arviz-stats')})" if versions.get("arviz-stats") else "")
        + "."
    )
    differing = []
    for package in _PACKAGE_NAMES:
        seen: dict[str, list[str]] = {}
        for name, fit in fits.items():
            value = (fit.meta.get("versions") or {}).get(package)
            if value:
                seen.setdefault(value, []).append(name)
        if len(seen) > 1:
            differing.append(
                _join(
                    [
                        f"{_PACKAGE_NAMES[package]} {v} ({', '.join(models)})"
                        for v, models in seen.items()
                    ]
                )
            )
    if differing:
        text += f" The fits were made with different package versions: {'; '.join(differing)}."
    return text


def _family(spec_family: str) -> str:
    return {"gaussian": "a Gaussian", "t": "a Student-t"}.get(spec_family, f"a {spec_family}")


def _models(fits: Mapping[str, FitResult]) -> str:
    first = next(iter(fits.values()))
    prepared = first.prepared
    frame = prepared.frame
    person = prepared.mapping.person
    n_persons = int(frame[person].nunique()) if person in frame else 0
    families = sorted({_family(f.spec.family) for f in fits.values()})
    described = [f"{name} ({fit.spec.title}; {fit.formula})" for name, fit in fits.items()]
    kind = "a Bayesian multilevel model" if len(fits) == 1 else "Bayesian multilevel models"
    return (
        f"The outcome, {prepared.mapping.outcome}, was analysed in {len(frame)} diaries from "
        f"{n_persons} persons (diaries nested in persons) with {kind} with "
        f"{_join(families, 'or')} likelihood: {'; '.join(described)}."
    )


def _centring(prepared: PreparedData) -> str:
    parts = []
    reliability = dict(prepared.person_mean_reliability)
    for transform in prepared.transforms.values():
        scaled = (
            f", then divided by {_number(transform.scale)} (standardised)"
            if transform.scale != 1.0
            else ""
        )
        if transform.kind == "within_centred":
            parts.append(
                f"the level-1 predictor {transform.source} was centred within person (each "
                f"diary's deviation from the person's own mean, {transform.column}){scaled}"
            )
        elif transform.kind == "person_mean":
            lam = reliability.get(transform.source)
            parts.append(
                f"the person mean of {transform.source} entered as a level-2 predictor, "
                f"centred at its mean over persons ({_number(transform.centre)}; "
                f"{transform.column}){scaled}"
                + (
                    f"; the reliability of the observed person means was lambda = {lam:.2f}"
                    if lam is not None
                    else ""
                )
            )
        elif transform.kind == "grand_centred":
            parts.append(
                f"the moderator {transform.source} was centred at its mean over persons "
                f"({_number(transform.centre)}; {transform.column}){scaled}"
            )
        elif transform.kind == "control":
            parts.append(
                f"the control {transform.source} was centred at {_number(transform.centre)} "
                f"({transform.column}){scaled}"
            )
        elif transform.kind == "outcome" and scaled:
            parts.append(f"the outcome {transform.source} was centred and{scaled[1:]}")
    parts.extend(coding.describe() for coding in prepared.factor_codings.values())
    if not parts:
        return ""
    text = "Centring: " + "; ".join(parts) + "."
    if prepared.detrend:
        text += " Each person's linear trend over occasions was removed before centring."
    return text


def _prior_list(priors: Mapping[str, Mapping[str, Any]]) -> str:
    by_source: dict[str, list[str]] = {}
    for name, info in priors.items():
        by_source.setdefault(str(info.get("source", "")), []).append(
            f"{name} ~ {info.get('prior')}"
        )
    return "; ".join(
        f"{', '.join(items)} [{source}]" if source else ", ".join(items)
        for source, items in by_source.items()
    )


def _priors(fits: Mapping[str, FitResult], main: str) -> str:
    reference = fits[main].priors
    text = f"Priors of {main}: {_prior_list(reference)}."
    others = []
    for name, fit in fits.items():
        if name == main:
            continue
        differ = {
            p: info
            for p, info in fit.priors.items()
            if p not in reference or reference[p].get("prior") != info.get("prior")
        }
        others.append((name, differ))
    same = [name for name, differ in others if not differ]
    if same:
        text += f" {_join(same)} used the same priors for the parameters they share with {main}."
    for name, differ in others:
        if differ:
            text += f" {name} differed in: {_prior_list(differ)}."
    return text


def _backend(settings: Mapping[str, Any], versions: Mapping[str, str]) -> str:
    backend = settings.get("backend")
    if backend == "nutpie":
        return f"nutpie's NUTS sampler ({_version(versions, 'nutpie') or 'nutpie'})"
    if backend == "numpyro":
        return (
            f"NumPyro's NUTS sampler ({_join([_version(versions, 'numpyro'), _version(versions, 'jax')])})"
            if versions.get("numpyro")
            else "NumPyro's NUTS sampler"
        )
    if backend == "pymc":
        return "PyMC's own NUTS sampler"
    return f"the {backend} backend"


def _method(meta: Mapping[str, Any]) -> str:
    method = str(meta.get("method", ""))
    if method.startswith("fast path"):
        return (
            "on the fast path (the person effects integrated out analytically while sampling "
            "and drawn exactly from their conditional posterior afterwards)"
        )
    if method.startswith("full NUTS"):
        return "with full NUTS over all parameters, person effects included"
    return method


def _sampling(fits: Mapping[str, FitResult]) -> str:
    groups: dict[tuple, list[str]] = {}
    for name, fit in fits.items():
        s = sampler_settings_of(fit)
        versions = fit.meta.get("versions") or {}
        key = (
            _backend(s, versions),
            s.get("chains"),
            s.get("draws"),
            s.get("tune"),
            s.get("target_accept"),
            s.get("seed"),
            _method(fit.meta),
        )
        groups.setdefault(key, []).append(name)
    sentences = []
    for (backend, chains, draws, tune, target, seed, method), names in groups.items():
        who = "Each model" if len(groups) == 1 and len(fits) > 1 else _join(names)
        if len(fits) == 1:
            who = "The model"
        sentences.append(
            f"{who} was sampled with {backend}: {chains} chains of {draws} draws after "
            f"{tune} tuning steps (target acceptance rate {target}, seed {seed}), {method}."
        )
    rescued = [n for n, f in fits.items() if isinstance(f.meta.get("rescue"), Mapping)]
    if rescued:
        sentences.append(
            f"{_join(rescued)} failed the convergence checks at first and "
            f"{'was' if len(rescued) == 1 else 'were'} sampled again with the settings above "
            "(longer tuning, higher target acceptance); only the second run's draws are used."
        )
    return " ".join(sentences)


def _diagnostics(fits: Mapping[str, FitResult], loo: pd.DataFrame | None) -> str:
    per_model = []
    for name, fit in fits.items():
        conv = fit.convergence
        table = conv.table
        rhat = float(table["rhat"].max()) if len(table) else float("nan")
        tail = float(table["ess_tail"].min()) if len(table) else float("nan")
        per_model.append(
            f"{name}: maximum R-hat {rhat:.3f}, minimum bulk ESS {conv.min_ess_bulk:.0f}, "
            f"minimum tail ESS {tail:.0f}, {conv.n_divergent} divergent transition"
            f"{'' if conv.n_divergent == 1 else 's'} of {conv.n_draws} draws"
        )
    failed = [name for name, fit in fits.items() if not fit.convergence.ok]
    text = (
        "Convergence was checked with the rank-normalised split R-hat (at most "
        f"{constants.RHAT_MAX}), bulk and tail effective sample sizes (at least "
        f"{constants.ESS_BULK_MIN:.0f} and {constants.ESS_TAIL_MIN:.0f}), divergent "
        f"transitions, saturated tree depth and E-BFMI (at least {constants.EBFMI_MIN}): "
        + "; ".join(per_model)
        + ". "
        + (
            f"{_join(failed)} failed at least one of these checks (see the report's "
            "convergence notes)."
            if failed
            else "Every model passed all checks."
        )
    )
    if loo is not None and len(loo) and {"model", "max_k", "n_high_k"} <= set(loo.columns):
        threshold = float(loo["k_threshold"].max()) if "k_threshold" in loo else None
        ks = [
            f"{row.model} {row.max_k:.2f} ({int(row.n_high_k)} above)"
            for row in loo.itertuples(index=False)
        ]
        text += (
            " Leave-one-out cross-validation used Pareto-smoothed importance sampling "
            "(PSIS-LOO); the largest Pareto k per model"
            + (f", with the threshold {threshold:.2f}," if threshold is not None else "")
            + f" was {_join(ks)}."
        )
    return text


def _latent_centring(fits: Mapping[str, FitResult]) -> str:
    """A sentence naming the fits with latent person-mean centring (empty without any)."""
    latent = [name for name, f in fits.items() if f.meta.get("centring") == "latent"]
    if not latent:
        return ""
    verb = "was" if len(latent) == 1 else "were"
    return (
        f"{_join(latent)} {verb} fitted with latent person-mean centring instead (as in "
        "Mplus): each person's mean of the level-1 predictor was a parameter of the model, "
        "the within part was the daily value minus it and the between part its deviation "
        "from the mean of the person means; missing daily values of the predictor on days "
        "with an outcome were imputed by the model."
        + _auto_reason(fits, latent)
        + _imputed_counts(fits, latent)
    )


def _auto_reason(fits: Mapping[str, FitResult], latent: Sequence[str]) -> str:
    """Why the automatic rule took latent centring for the ``latent`` fits it chose it for
    (their ``meta["centring_choice"]``; empty when none was chosen so)."""
    records = {
        name: fits[name].meta.get("centring_choice")
        for name in latent
        if isinstance(fits[name].meta.get("centring_choice"), Mapping)
    }
    values = {
        (r.get("reliability"), r.get("threshold"))
        for r in records.values()
        if isinstance(r.get("reliability"), float) and isinstance(r.get("threshold"), float)
    }
    if not records or len(values) != 1:
        return ""
    reliability, threshold = values.pop()
    verb = "was" if len(records) == 1 else "were"
    return (
        f" {_join(list(records))} {verb} centred so by the automatic rule, which takes latent "
        "centring where the reliability of the observed person means is below "
        f"{threshold:.2f} (here {reliability:.2f}; Lüdtke et al., 2008)."
    )


def _imputed_counts(fits: Mapping[str, FitResult], latent: Sequence[str]) -> str:
    """What the latent fits imputed, per predictor (see
    :func:`ambidex_bayes.centring_record.imputed_sentence`): once when every fit records the same,
    else per fit; empty when none records numbers."""
    from ambidex_bayes.centring_record import imputed_sentence

    each = {name: imputed_sentence(fits[name].meta) for name in latent}
    known = {name: text for name, text in each.items() if text}
    if not known:
        return ""
    if len(set(known.values())) == 1 and len(known) == len(each):
        return " " + next(iter(known.values()))
    return "".join(f" {name}: {text}" for name, text in known.items())


def methods_paragraph(analysis: Analysis, *, loo: pd.DataFrame | None = None) -> str:
    """A methods paragraph stating how the analysis was done, read from its fits.

    Parameters
    ----------
    analysis : Analysis
        The fits (with their specs, formulas, priors, metadata and convergence reports)
        and the prepared data.
    loo : pandas.DataFrame, optional
        :func:`ambidex_bayes.checks.comparison.loo_table` of the fits (``model, max_k,
        n_high_k, k_threshold``): adds the Pareto k diagnostics.

    Returns
    -------
    str
        One paragraph of plain text.
    """
    fits = analysis.fits
    if not fits:
        return "No model was fitted."
    main = analysis.moderation_model if analysis.moderation_model in fits else list(fits)[-1]
    prob = constants.CI_PROB
    for summary in analysis.summaries.values():
        prob = float(summary.attrs.get("ci_prob", prob))
        break
    parts = [
        _software(fits),
        _models(fits),
        _centring(next(iter(fits.values())).prepared),
        _latent_centring(fits),
        _priors(fits, main),
        _sampling(fits),
        _diagnostics(fits, loo),
        f"Estimates are posterior means with {prob * 100:g}% equal-tailed credible intervals.",
    ]
    return " ".join(p for p in parts if p)
