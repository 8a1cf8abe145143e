r"""Each person's own within-person slope, set against their moderator value.

For person :math:`j` with centred moderator value :math:`w_{c,j}` the slope in draw
:math:`s` is the fixed part plus the person's own deviation,

.. math::

    \beta_j^{(s)} = \Big(\gamma_{10}^{(s)} + \gamma_{11}^{(s)} w_{c,j} + u_{1j}^{(s)}\Big)
                    \cdot \frac{s_y}{s_x},

so its posterior carries the uncertainty of the fixed effects and of the person's
deviation (which is shrunk toward the population line, the more so the fewer diaries the
person wrote). A person's slope is *credibly positive* when the lower limit of its
``prob`` credible interval lies above zero. Two shares summarise the persons:

- the share of persons whose slope is credibly positive (a count over persons of a
  per-person decision), and
- the posterior of the share of persons whose slope is positive,
  :math:`\pi^{(s)} = \frac1J\sum_j[\beta_j^{(s)} > 0]`, with its mean and interval.

The slopes are computed and summarised by blocks of persons (:data:`BLOCK_NUMBERS` draws x
persons numbers at a time), so the step holds a block's draws, never those of every person
at once: at a national panel's size (100,000 persons x 4,000 draws) these would be 3.2 GB
per copy. Each person's summary and each draw's count of positive slopes are the same
numbers, in the same order of operations, as from all draws at once.
:attr:`PersonSlopes.draws` computes all of them when read (for plots and checks of a few
persons; the report does not read it).

``bambi.interpret.slopes(model, idata, wrt=x, average_by=person)`` computes the same person
slopes by finite differences of the model's mean on the observed rows, averaged per person;
:func:`person_slopes_bambi` runs it as a cross-check. The closed form here is exact and
needs no prediction over the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from ambidex_bayes.errors import AmbidexError, ModelError
from ambidex_bayes.moderation.curve import (
    STANDARDISED_CONVENTION,
    Scale,
    check_scale,
    slope_scales,
    summarise_draws,
)
from ambidex_bayes.moderation.factor_levels import coded_effect
from ambidex_bayes.moderation.pair import pair_parts
from ambidex_bayes.moderation.slopes import moderator_by_person, refuse_nonfinite, transform_of
from ambidex_bayes.posterior import (
    DRAW_SUMMARY_COLUMNS,
    SAMPLE_DIMS,
    Fitted,
    get_scalar,
    get_variable,
    posterior_dataset,
    resolve_prob,
)

if TYPE_CHECKING:
    import bambi

    from ambidex_bayes.prepare import PreparedData
    from ambidex_bayes.terms import ModerationTerms

__all__ = ["BambiFitted", "PersonSlopes", "SlopeParts", "person_slopes", "person_slopes_bambi"]

#: Draws x persons numbers computed and summarised at a time (16 MB of float64: 500 persons
#: of 4 chains x 1,000 draws). As :data:`ambidex_bayes.memory.PERSON_SLOPE_BLOCK_NUMBERS`.
BLOCK_NUMBERS = 2_000_000

#: Columns of :attr:`PersonSlopes.table`, in order.
PERSON_COLUMNS: tuple[str, ...] = (
    "person",
    "moderator",
    "moderator_centred",
    "n_diaries",
    *DRAW_SUMMARY_COLUMNS,
    "credibly_positive",
    "credibly_negative",
    "scale",
)

#: Columns of :attr:`PersonSlopes.shares`, in order.
SHARE_COLUMNS: tuple[str, ...] = ("quantity", "value", "ci_lower", "ci_upper", "n_persons")


@dataclass(frozen=True)
class PersonSlopes:
    """Every observed person's slope with its uncertainty.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per person: ``person``, ``moderator`` (raw), ``moderator_centred``,
        ``n_diaries``, ``mean, median, sd, ci_lower, ci_upper, p_positive`` of the slope,
        ``credibly_positive`` / ``credibly_negative`` (the interval excludes zero) and
        ``scale``. ``attrs``: ``ci_prob, x_name, y_name, moderator_name, scale``.
    draws : xarray.DataArray
        Slope draws, dims ``(chain, draw, person)``, attrs ``scale`` and ``ci_prob``:
        computed from the fit's draws each time it is read (chains x draws x persons
        numbers, not held by the result; see the module docstring).
    shares : pandas.DataFrame
        Rows ``"credibly positive"`` and ``"credibly negative"`` (share of persons, with
        ``ci_lower``/``ci_upper`` NaN) and ``"positive (posterior share)"`` (posterior mean
        of the share of persons with a positive slope, with its interval).
    description : str
        What the slopes are, in words.
    parts : SlopeParts
        What the slope draws are made of (the fixed parts' draws, the person effects, each
        person's moderator value and the factor to the units), from which :attr:`draws`
        and the blocks of persons are computed.
    """

    table: pd.DataFrame
    shares: pd.DataFrame
    description: str
    parts: SlopeParts = field(repr=False, compare=False)

    @property
    def draws(self) -> xr.DataArray:
        """Every person's slope draws, dims ``(chain, draw, person)`` (computed now)."""
        return self.parts.all_draws()

    @property
    def share_credibly_positive(self) -> float:
        """Share of persons whose slope is credibly positive."""
        return float(self.table["credibly_positive"].mean())


@dataclass(frozen=True)
class SlopeParts:
    r"""What the persons' slope draws are made of, to compute them by blocks of persons.

    Block :math:`[a, b)` is :math:`\big((\gamma_{10} + u_{1j}) + \gamma_{11} w_{c,j} +
    \delta_{l(j)}\big)\cdot f` for :math:`a \le j < b`, in this order of operations (the
    order of the whole-array computation it replaces, so the numbers are the same), with
    :math:`\delta_{l(j)}` the coded interaction of person :math:`j`'s level of a factor
    moderator and :math:`f` the factor to the slopes' units.

    Attributes
    ----------
    slope : numpy.ndarray
        Draws of :math:`\gamma_{10}`, ``(chain, draw)``.
    effects : xarray.DataArray
        The person slope effects :math:`u_{1j}`, dims ``(chain, draw, person_dim)``; read
        from the fit's file block by block when the fit holds them on disk.
    interaction : numpy.ndarray or None
        Draws of :math:`\gamma_{11}`, ``(chain, draw)``, with a numeric moderator.
    centred : numpy.ndarray
        Each person's centred moderator value (NaN with a factor moderator).
    shift : numpy.ndarray or None
        The coded interaction per level, ``(chain, draw, level)``, with a factor moderator.
    level_index : numpy.ndarray or None
        Each person's level (index into ``shift``'s last axis).
    factor : float
        Factor from the model's scale to the slopes' units.
    ids : list of str
        The persons, in the order of ``effects``.
    attrs : dict
        ``scale`` and ``ci_prob`` of the draws.
    """

    slope: np.ndarray
    effects: xr.DataArray
    interaction: np.ndarray | None
    centred: np.ndarray
    shift: np.ndarray | None
    level_index: np.ndarray | None
    factor: float
    ids: list[str]
    attrs: dict[str, object]

    @property
    def block_persons(self) -> int:
        """Persons per block: :data:`BLOCK_NUMBERS` over the draws, at least one."""
        return max(1, BLOCK_NUMBERS // max(int(self.slope.size), 1))

    def block(self, start: int, stop: int) -> np.ndarray:
        """The slope draws of persons ``start`` to ``stop - 1``, ``(chain, draw, persons)``."""
        dim = self.effects.dims[-1]
        own = np.asarray(self.effects.isel({dim: slice(start, stop)}).values)
        values = self.slope[..., None] + own
        del own
        if self.interaction is not None:
            values = values + self.interaction[..., None] * self.centred[start:stop]
        if self.shift is not None and self.level_index is not None:
            values = values + self.shift[..., self.level_index[start:stop]]
        values *= self.factor
        return values

    def blocks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(start, stop, draws)`` of each block of persons, in order."""
        step = self.block_persons
        for start in range(0, len(self.ids), step):
            stop = min(start + step, len(self.ids))
            yield start, stop, self.block(start, stop)

    def all_draws(self) -> xr.DataArray:
        """Every person's slope draws as one DataArray ``(chain, draw, person)``."""
        values = self.block(0, len(self.ids))
        coords = {
            dim: self.effects[dim].values for dim in SAMPLE_DIMS if dim in self.effects.coords
        }
        draws = xr.DataArray(
            values,
            dims=(*SAMPLE_DIMS, "person"),
            coords={**coords, "person": self.ids},
            name="person_slope",
        )
        draws.attrs = dict(self.attrs)
        return draws


def _person_column(prepared: PreparedData) -> str:
    return prepared.roles.get("person", prepared.mapping.person)


def _level_by_person(
    frame: pd.DataFrame, person: str, terms: ModerationTerms, ids: list[str]
) -> list[str]:
    """Each person's level of the factor moderator (its first row's value)."""
    column = str(terms.w_column)
    if column not in frame.columns:
        raise ModelError(
            f"The prepared rows lack the factor column {column!r}, so each person's level of "
            "the moderator is unknown."
        )
    first = frame[column].astype(str).groupby(frame[person].astype(str), sort=False).first()
    levels = [str(first.get(p, "")) for p in ids]
    unknown = sorted({lv for lv in levels if lv not in terms.moderator_levels})
    if unknown:
        raise ModelError(
            f"Person(s) have level(s) {unknown} of {column!r}, which are not among the factor's "
            f"levels {list(terms.moderator_levels)}."
        )
    return levels


def person_slopes(
    fit: Fitted,
    *,
    prob: float | None = None,
    scale: Scale = "original",
    focal: str | None = None,
    moderator: str | None = None,
) -> PersonSlopes:
    r"""Each observed person's slope :math:`\gamma_{10} + \gamma_{11} w_{c,j} + u_{1j}`.

    See the module docstring for the formula and the shares. The moderator term is left
    out when the model has no cross-level interaction (then every person's slope is
    :math:`\gamma_{10} + u_{1j}`).

    Parameters
    ----------
    fit : Fitted
        The fit (:class:`~ambidex_bayes.fit.FitResult`, or
        :class:`~ambidex_bayes.posterior.PosteriorDraws`): posterior, terms and the
        data the model was fitted on.
        Needs the within-person slope and person-specific slopes (M2 or M3).
    prob : float, optional
        Width of the credible intervals; default ``constants.CI_PROB`` at call time.
    scale : {"original", "standardised"}
        Units of the slopes (see :mod:`ambidex_bayes.moderation.curve`).
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name (e.g. ``"leader_support"``); default the first.
        With a factor moderator each person's slope adds the interaction terms coded for
        the person's level; ``moderator`` and ``moderator_centred`` are then NaN and
        ``attrs["levels_by_person"]`` holds each person's level (``attrs["levels"]`` the levels).

    Returns
    -------
    PersonSlopes

    Raises
    ------
    ModelError
        Without person-specific slopes, or when the posterior's persons are not those of
        the prepared data.

    Examples
    --------
    ``m3`` is model M3 fitted to the example (``ab.fit(ab.load_spec("M3"), data)``), 97
    persons:

    >>> persons = ab.person_slopes(m3)
    >>> persons.table.shape
    (97, 13)
    >>> persons.table[["person", "moderator", "n_diaries"]].head(3)
      person  moderator  n_diaries
    0   P001        4.0          5
    1   P002        3.0          5
    2   P003        3.0          5
    >>> persons.shares["quantity"].tolist()
    ['credibly positive', 'credibly negative', 'positive (posterior share)']
    """
    idata, terms, prepared = pair_parts(fit, "person_slopes", focal, moderator)
    check_scale(scale)
    prob = resolve_prob(prob)
    if terms.slope is None or terms.x_column is None:
        raise ModelError(
            "The model has no within-person slope term (terms.slope is None), so persons have "
            "no slopes to show."
        )
    if terms.group_slope is None:
        raise ModelError(
            "The model has no person-specific slopes (terms.group_slope is None): every "
            "person shares the population slope. Use a model with a random slope (M2, M3)."
        )
    posterior = posterior_dataset(idata)
    u1 = get_variable(posterior, terms.group_slope, "person slope effects")
    if terms.person_dim not in u1.dims:
        raise ModelError(
            f"The person slope effects {terms.group_slope!r} lack the person dimension "
            f"{terms.person_dim!r} (dims: {list(u1.dims)})."
        )
    ids = [str(v) for v in u1[terms.person_dim].values]
    person = _person_column(prepared)
    frame = prepared.frame
    if person not in frame.columns or len(frame) == 0:
        raise ModelError(
            f"The prepared data hold no rows with the person column {person!r}; person slopes "
            "need the rows the model was fitted on."
        )
    counts = frame[person].astype(str).value_counts()
    unknown = [p for p in ids if p not in counts.index]
    if unknown:
        shown = ", ".join(repr(p) for p in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ModelError(
            f"{len(unknown)} person(s) of the posterior are not in the prepared data "
            f"({shown}); the fit and the prepared data do not belong together."
        )

    slope = get_scalar(posterior, terms.slope, "within-person slope")
    moderator = np.full(len(ids), np.nan)
    centred = np.full(len(ids), np.nan)
    w_name = None
    person_levels: list[str] | None = None
    if terms.factor_moderator:
        w_name = terms.w_column
        person_levels = _level_by_person(frame, person, terms, ids)
    elif terms.w_column is not None:
        tw = transform_of(prepared, terms.w_column, "moderator")
        w_name = tw.source
        raw = moderator_by_person(terms, prepared).reindex(ids)
        moderator = raw.to_numpy(dtype=float)
        centred = (moderator - float(tw.centre)) / float(tw.scale)
    if u1.ndim != 3:
        raise ModelError(
            f"The person slope effects {terms.group_slope!r} have dims {list(u1.dims)}; "
            f"(chain, draw, {terms.person_dim}) was expected."
        )
    g11 = shift = level_index = None
    if terms.interaction is not None:
        g11 = get_scalar(posterior, terms.interaction, "cross-level interaction").values
    coded = coded_effect(posterior, terms.interaction_terms, terms, "cross-level interaction")
    if coded is not None and person_levels is not None:
        shift = coded.values
        level_index = np.array([terms.moderator_levels.index(lv) for lv in person_levels])
    factor = float(prepared.slope_to_original(terms.x_column, terms.y_column))
    if scale == "standardised":
        factor *= slope_scales(terms, prepared).within_to_standardised
    parts = SlopeParts(
        slope=slope.values,
        effects=u1.transpose(*SAMPLE_DIMS, terms.person_dim),
        interaction=g11,
        centred=centred,
        shift=shift,
        level_index=level_index,
        factor=factor,
        ids=ids,
        attrs={"scale": scale, "ci_prob": prob},
    )
    table, share_draws = _summarise_by_blocks(parts, prob)
    table.insert(0, "person", ids)
    table.insert(1, "moderator", moderator)
    table.insert(2, "moderator_centred", centred)
    table.insert(3, "n_diaries", counts.reindex(ids).to_numpy(dtype=int))
    table["credibly_positive"] = table["ci_lower"] > 0
    table["credibly_negative"] = table["ci_upper"] < 0
    table["scale"] = scale
    table = table[list(PERSON_COLUMNS)]
    x_name = transform_of(prepared, terms.x_column, "level-1 predictor").source
    y_name = transform_of(prepared, terms.y_column, "outcome").source
    table.attrs.update(
        {
            "ci_prob": prob,
            "x_name": x_name,
            "y_name": y_name,
            "moderator_name": w_name,
            "scale": scale,
        }
    )

    q = np.quantile(share_draws, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0])
    n = len(ids)
    shares = pd.DataFrame(
        [
            ("credibly positive", float(table["credibly_positive"].mean()), np.nan, np.nan, n),
            ("credibly negative", float(table["credibly_negative"].mean()), np.nan, np.nan, n),
            ("positive (posterior share)", float(share_draws.mean()), q[0], q[1], n),
        ],
        columns=list(SHARE_COLUMNS),
    )
    shares.attrs["ci_prob"] = prob

    formula = "g10 + g11*w_j + u1j" if terms.moderated else "g10 + u1j"
    if terms.interaction_terms:
        formula = "g10 + (coded level of the person)*g11 + u1j"
    if person_levels is not None:
        table.attrs["levels_by_person"] = dict(zip(ids, person_levels, strict=True))
        table.attrs["levels"] = tuple(terms.moderator_levels)
    units = (
        f"in original units of {y_name} per unit of {x_name}"
        if scale == "original"
        else f"standardised ({STANDARDISED_CONVENTION})"
    )
    description = (
        f"Each observed person's own within-person slope of {y_name} on {x_name}, {formula} "
        f"(fixed part plus the person's deviation, shrunk toward the population line), "
        f"{units}. {shares.loc[0, 'value']:.0%} of the {n} persons have a credibly positive "
        f"slope ({prob:.0%} interval above zero) and {shares.loc[1, 'value']:.0%} a credibly "
        f"negative one; the posterior share of persons with a positive slope is "
        f"{shares.loc[2, 'value']:.0%} ({prob:.0%} interval {q[0]:.0%} to {q[1]:.0%})."
    )
    return PersonSlopes(table=table, shares=shares, description=description, parts=parts)


def _summarise_by_blocks(parts: SlopeParts, prob: float) -> tuple[pd.DataFrame, np.ndarray]:
    r"""Each person's summary of their slope draws, and each draw's share of persons with a
    positive slope, :math:`\pi^{(s)} = \frac1J\sum_j[\beta_j^{(s)} > 0]`, computed one
    block of persons at a time (:meth:`SlopeParts.blocks`).

    Returns
    -------
    tuple of (pandas.DataFrame, numpy.ndarray)
        The summary columns of :func:`~ambidex_bayes.moderation.curve.summarise_draws`, one
        row per person, and the ``chains x draws`` shares.

    Raises
    ------
    ModelError
        Some slope draws are not finite (the message names the persons, as for all draws
        at once).
    """
    n = len(parts.ids)
    columns: dict[str, np.ndarray] = {}
    positive = np.zeros(int(parts.slope.size), dtype=np.int64)
    for start, stop, block in parts.blocks():
        values = block.reshape(-1, stop - start)
        if not np.isfinite(values).all():
            del block, values
            refuse_nonfinite(
                parts.all_draws().values.reshape(-1, n),
                [f"person {p}" for p in parts.ids],
                "person's slope",
                "the fit has non-finite draws of the slope, the interaction or the person "
                "effects. Check the fit's convergence report and fit again.",
            )
        rows = summarise_draws(values, prob)
        for key in rows[0]:
            column = columns.setdefault(key, np.empty(n))
            column[start:stop] = [row[key] for row in rows]
        positive += np.count_nonzero(values > 0, axis=1)
    return pd.DataFrame(columns), positive / n


class BambiFitted(Fitted, Protocol):
    """A :class:`~ambidex_bayes.posterior.Fitted` that also has its Bambi model
    (:class:`~ambidex_bayes.fit.FitResult` has)."""

    @property
    def bambi_model(self) -> bambi.Model:
        """Bambi's model of the formula."""
        ...


#: Copies of Bambi's dense rows x persons design of the person effects that
#: ``bambi.interpret.slopes`` holds at once (the design and its finite-difference twin).
DENSE_DESIGN_COPIES = 2


def _check_dense_design_memory(prepared: PreparedData, person: str, terms: ModerationTerms) -> None:
    """Refuse, before Bambi builds it, a dense person-effect design that cannot fit."""
    from ambidex_bayes.memory import check_memory

    frame = prepared.frame
    rows, persons = len(frame), int(frame[person].nunique())
    effects = sum(name is not None for name in (terms.group_intercept, terms.group_slope))
    check_memory(
        DENSE_DESIGN_COPIES * 8 * rows * persons * max(effects, 1),
        what=(
            f"person_slopes_bambi: Bambi's dense design of the person effects ({rows:,} rows x "
            f"{persons:,} persons x {max(effects, 1)} effects)"
        ),
        advice="Use person_slopes, which computes the same slopes in closed form from the "
        "person effects' draws.",
    )


def person_slopes_bambi(
    fit: BambiFitted,
    *,
    prob: float | None = None,
    focal: str | None = None,
    moderator: str | None = None,
) -> pd.DataFrame:
    """Person slopes from ``bambi.interpret.slopes`` averaged by person, as a cross-check.

    Runs ``bambi.interpret.slopes(model, idata, wrt=<within-person predictor>,
    average_by=<person>)`` on the observed rows: the derivative of the model's mean with
    respect to the within-person predictor, per row and draw (finite differences), averaged
    over each person's rows. The model is linear in that predictor, so this equals
    :math:`\\gamma_{10} + \\gamma_{11} w_{c,j} + u_{1j}` of :func:`person_slopes` (Bambi
    reports the posterior mean and an equal-tailed interval).

    Parameters
    ----------
    fit : BambiFitted
        A fit with ``bambi_model``, ``idata``, ``terms`` and ``prepared``
        (a :class:`~ambidex_bayes.fit.FitResult`).
    prob : float, optional
        Width of the credible intervals.
    focal : str, optional
        The level-1 predictor, by column name (e.g. ``"uncertainty"``); default the first.
    moderator : str, optional
        The moderator, by column name; default the first (the derivative does not depend
        on which moderator is named: it is taken from the whole model).

    Returns
    -------
    pandas.DataFrame
        Columns ``person, mean, ci_lower, ci_upper``, original units.

    Raises
    ------
    ModelError
        A latent-centred fit (Bambi's model of its formula is the observed model).
    """
    idata, terms, prepared = pair_parts(fit, "person_slopes_bambi", focal, moderator)
    if (getattr(fit, "meta", None) or {}).get("centring") == "latent":
        # Bambi's model of the formula is the observed model of the prepared columns
        raise ModelError(
            "person_slopes_bambi cannot cross-check a latent-centred fit: Bambi's model of "
            "its formula uses the observed person means, not the latent ones the fit "
            "estimated. Use person_slopes, which computes each person's slope of the latent "
            "within part (x minus the person's latent mean) from the draws."
        )
    if not hasattr(fit, "bambi_model"):
        raise AmbidexError(
            f"person_slopes_bambi needs a FitResult (with .bambi_model); got {type(fit).__name__}."
        )
    prob = resolve_prob(prob)

    if terms.x_column is None:
        raise ModelError("The model has no within-person predictor.")
    person = _person_column(prepared)
    _check_dense_design_memory(prepared, person, terms)

    import bambi

    out = bambi.interpret.slopes(
        fit.bambi_model,
        idata,
        wrt=terms.x_column,
        average_by=person,
        prob=prob,
        use_hdi=False,
    )
    summary = out.summary
    lower = [c for c in summary.columns if str(c).startswith("lower")]
    upper = [c for c in summary.columns if str(c).startswith("upper")]
    if person not in summary.columns or len(lower) != 1 or len(upper) != 1:
        raise ModelError(
            f"bambi.interpret.slopes returned unexpected columns {list(summary.columns)}."
        )
    factor = float(prepared.slope_to_original(terms.x_column, terms.y_column))
    return pd.DataFrame(
        {
            "person": summary[person].astype(str).to_numpy(),
            "mean": summary["estimate"].to_numpy(dtype=float) * factor,
            "ci_lower": summary[lower[0]].to_numpy(dtype=float) * factor,
            "ci_upper": summary[upper[0]].to_numpy(dtype=float) * factor,
        }
    )
