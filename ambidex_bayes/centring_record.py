"""What a fit records and says about its centring: the centring line of summaries and
reports, and the record of what a latent-centred fit imputed.

:func:`centring_line` states a fit's centring and why it was used (an automatic choice's
grounds, the reliability of the observed person means); :func:`imputed_record` is what a
latent fit saves as ``meta["imputed"]``, which :func:`imputed_counts` reads back and
:func:`imputed_sentence` states. The choosing and fitting are :mod:`ambidex_bayes.centring`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ambidex_bayes import constants

if TYPE_CHECKING:
    from ambidex_bayes.model.latent_data import LatentData

__all__ = [
    "LATENT_BELOW",
    "centring_line",
    "imputed_record",
    "imputed_counts",
    "imputed_sentence",
]

#: ``centring="auto"`` takes latent centring below this reliability of the observed person
#: means (Lüdtke et al., 2008: the bias of the between effect is about 1 - reliability); the
#: threshold of the reliability warning, which says so.
LATENT_BELOW = constants.PERSON_MEAN_RELIABILITY_MIN


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def centring_line(meta: Mapping[str, Any], *, reliability: float | None = None) -> str:
    r"""The centring of a fit and why it was used (from its ``meta``), for summaries and reports.

    Parameters
    ----------
    meta : mapping
        A fit's ``meta``; fits without ``"centring"`` used observed centring.
        ``meta["person_mean_reliability"]`` is the reliability :math:`\lambda` of the
        observed person means of the level-1 predictor (see
        :mod:`ambidex_bayes.reliability`), recorded by fits of models with a between-person
        effect. ``meta["centring_choice"]`` (:func:`auto_choice`) records a centring chosen
        by ``centring="auto"``, with the :math:`\lambda` it was chosen on.
    reliability : float, optional
        :math:`\lambda` when ``meta`` does not record it (fits saved before it was
        recorded: the reliability in the fit's prepared data).

    Returns
    -------
    str
        Which person means centre the predictor and, when :math:`\lambda` is known, its
        value. A centring chosen by ``centring="auto"`` is said to be, with the ground:
        :math:`\lambda <` :data:`LATENT_BELOW` for latent centring, :math:`\lambda \ge`
        :data:`LATENT_BELOW` for observed centring, or, below it, why latent centring
        cannot fit the model. For an observed fit with :math:`\lambda <`
        :data:`LATENT_BELOW`, also what that costs: the between-person slope on observed
        means is pulled about :math:`1 - \lambda` of the way towards the within-person
        slope, :math:`E[\hat\beta_B] \approx \lambda \beta_B + (1 - \lambda) \beta_W`
        (Lüdtke et al., 2008), so towards zero when the within-person slope is small; and,
        when it was not chosen by ``"auto"``, the advice to fit with latent centring.

    Examples
    --------
    >>> centring_line({"centring": "latent", "person_mean_reliability": 0.49,
    ...                "centring_choice": {"asked": "auto", "reliability": 0.49}})
    "Centring: latent person means of the level-1 predictor (estimated with the model, as in Mplus), chosen by centring='auto' because the observed person means' reliability is lambda = 0.49 < 0.70."
    >>> centring_line({"person_mean_reliability": 0.85,
    ...                "centring_choice": {"asked": "auto", "reliability": 0.85}})
    "Centring: observed person means of the level-1 predictor, chosen by centring='auto' because their reliability is lambda = 0.85 >= 0.70."
    """
    choice = meta.get("centring_choice")
    auto = isinstance(choice, Mapping) and choice.get("asked") == "auto"
    recorded = _number(meta.get("person_mean_reliability"))
    if recorded is None and auto:
        recorded = _number(choice.get("reliability"))
    if recorded is not None:
        reliability = recorded
    if reliability is None or not math.isfinite(reliability):
        reliability = None
    if meta.get("centring") == "latent":
        imputed = meta.get("imputed")
        if isinstance(imputed, Mapping):  # a record of numbers and words (older fits: words)
            imputed = imputed.get("note") or imputed_sentence(meta)
        if auto:
            evidence = ", chosen by centring='auto'" + (
                " because the observed person means' reliability is lambda = "
                f"{reliability:.2f} < {LATENT_BELOW:.2f}."
                if reliability is not None
                else "."
            )
        else:
            evidence = "." + (
                f" The observed person means' reliability is lambda = {reliability:.2f} "
                f"(centring='auto' takes latent centring below {LATENT_BELOW:.2f})."
                if reliability is not None
                else ""
            )
        return (
            "Centring: latent person means of the level-1 predictor (estimated with the "
            "model, as in Mplus)" + evidence + (f" {imputed}" if imputed else "")
        )
    line = "Centring: observed person means of the level-1 predictor"
    if reliability is None:
        return line + (
            ", chosen by centring='auto' (their reliability is unknown)." if auto else "."
        )
    if reliability >= LATENT_BELOW:
        if auto:
            return line + (
                ", chosen by centring='auto' because their reliability is lambda = "
                f"{reliability:.2f} >= {LATENT_BELOW:.2f}."
            )
        return line + (
            f". Their reliability is lambda = {reliability:.2f} (at least {LATENT_BELOW:.2f}: "
            "centring='auto' keeps observed centring)."
        )
    line += (
        f". Their reliability is lambda = {reliability:.2f}, below {LATENT_BELOW:.2f}: the "
        f"between-person effect is biased, pulled about 1 - lambda = {1 - reliability:.0%} "
        "of the way towards the within-person slope (towards zero when that is small; "
        "Lüdtke et al., 2008)."
    )
    if auto:
        reason = choice.get("latent_unavailable")
        return line + (
            " centring='auto' kept observed centring because latent centring cannot fit "
            + (f"this model: {reason}." if isinstance(reason, str) and reason else "this model.")
        )
    return line + (
        " Latent centring is advised where it serves the model (a Gaussian M1-M3 with "
        "numeric predictors, moderator and controls, person slopes on one predictor): "
        "--centring latent, or centring='latent' in Python."
    )


def imputed_record(data: LatentData, n_prepared: int) -> dict[str, Any]:
    """``meta["imputed"]`` of a latent fit: what was imputed, per predictor, in numbers and
    in words.

    Parameters
    ----------
    data : LatentData
        The rows the latent model used.
    n_prepared : int
        Number of prepared rows (the rows observed centring uses).

    Returns
    -------
    dict
        ``predictors``: per level-1 predictor the latent model centres, in its order,
        ``{"predictor": name, "x_imputed": n, "x_only": m}`` (``n`` days with an outcome
        whose value of it was imputed, the length of its ``{x}_imputed``; ``m`` days with
        it but no outcome, informing its person means only). ``x_imputed`` (all imputed
        values, the sum of the ``n``) and ``x_only`` (days without an outcome with at least
        one predictor; equal to ``m`` with one predictor), ``outcome_rows`` (rows in the
        outcome model), ``prepared_rows`` and ``note`` (the counts in words). Records of
        fits saved before they counted every predictor hold the first predictor's counts
        only, as ``predictor``, ``x_imputed`` and ``x_only``; :func:`imputed_counts` reads
        both.
    """
    each = [data.predictor(p) for p in range(data.n_predictors)]
    return {
        "predictors": [
            {"predictor": v.names.x, "x_imputed": v.n_imputed, "x_only": len(v.x_only)}
            for v in each
        ],
        "x_imputed": sum(v.n_imputed for v in each),
        "x_only": len(data.x_only_person),
        "outcome_rows": len(data.y),
        "prepared_rows": int(n_prepared),
        "note": data.imputation_note(),
    }


def _count(value: Any) -> int | None:
    """``value`` when it is a count (a non-negative int, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def imputed_counts(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per predictor, what a latent fit imputed (from ``meta["imputed"]``, any form).

    Parameters
    ----------
    meta : mapping
        A fit's ``meta``. ``meta["imputed"]`` is the record of :func:`imputed_record`; a
        record of a fit saved before it counted every predictor (the first predictor's
        ``predictor``, ``x_imputed`` and ``x_only`` only) gives that predictor alone; a
        record of words only, or none, gives none.

    Returns
    -------
    list of dict
        ``{"predictor": name or None, "x_imputed": int, "x_only": int}`` per predictor
        (entries whose counts are not numbers are left out).
    """
    record = meta.get("imputed")
    if not isinstance(record, Mapping):
        return []
    each = record.get("predictors")
    entries = each if isinstance(each, list) else [record]
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        n, m = _count(entry.get("x_imputed")), _count(entry.get("x_only"))
        if n is None or m is None:
            continue
        name = entry.get("predictor")
        out.append(
            {"predictor": name if isinstance(name, str) else None, "x_imputed": n, "x_only": m}
        )
    return out


def imputed_sentence(meta: Mapping[str, Any]) -> str:
    """The counts of :func:`imputed_counts` in one sentence (empty when none are known).

    Examples
    --------
    >>> meta = {"imputed": {"predictors": [
    ...     {"predictor": "x", "x_imputed": 3, "x_only": 5},
    ...     {"predictor": "z", "x_imputed": 0, "x_only": 2}]}}
    >>> imputed_sentence(meta)
    "Imputed missing daily values on days with an outcome: 3 of 'x', 0 of 'z'; days with the predictor but no outcome (informing the person means only): 5 of 'x', 2 of 'z'."
    """
    counts = imputed_counts(meta)
    if not counts:
        return ""

    def of(key: str) -> str:
        return ", ".join(
            f"{c[key]} of {c['predictor']!r}" if c["predictor"] else str(c[key]) for c in counts
        )

    return (
        f"Imputed missing daily values on days with an outcome: {of('x_imputed')}; days with "
        f"the predictor but no outcome (informing the person means only): {of('x_only')}."
    )
