"""Names of the model's parameters, tied to the roles they play in the moderation model.

The posterior of every fit uses Bambi's naming, so that ArviZ summaries and
``bambi.interpret`` read it unchanged:

- common (fixed) effects are scalar variables named after their formula term, e.g.
  ``"Intercept"``, ``"uncertainty_cw"``, ``"uncertainty_cw:leader_support_c"``;
- person effects are variables named ``"1|person_id"`` and ``"uncertainty_cw|person_id"``
  with the dimension ``"person_id__factor_dim"``;
- their standard deviations are ``"1|person_id_sigma"`` and ``"uncertainty_cw|person_id_sigma"``;
- the correlation of two person effects (which Bambi does not have) is the scalar
  ``"corr(1|person_id,uncertainty_cw|person_id)"``;
- the residual standard deviation of a Gaussian model is ``"sigma"``.

:class:`ModerationTerms` records which of those names plays which role, so that summaries,
simple slopes and figures never guess. One :class:`ModerationTerms` describes one
(level-1 predictor, moderator) pair; :func:`ambidex_bayes.model.moderation_roles.terms_for`
gives those of any pair of a fit. A factor moderator enters the model as contrast columns;
its terms then record the levels, the reference, the contrast kind and the coding matrix
(:attr:`ModerationTerms.moderator_coding`), so that per-level slopes need nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

__all__ = ["ModerationTerms", "correlation_name", "group_term_name", "group_sd_name"]


def group_term_name(expr: str, factor: str) -> str:
    """Bambi's name of a person-effect variable: ``"1|person"`` or ``"x_cw|person"``."""
    return f"{expr}|{factor}"


def group_sd_name(expr: str, factor: str) -> str:
    """Bambi's name of the SD of a person effect: ``"x_cw|person_sigma"``."""
    return f"{group_term_name(expr, factor)}_sigma"


def correlation_name(term_a: str, term_b: str) -> str:
    """Name of the correlation between two person-effect variables."""
    return f"corr({term_a},{term_b})"


@dataclass(frozen=True)
class ModerationTerms:
    """Which posterior variable plays which role in the cross-level moderation model.

    Attributes left ``None`` are absent from the model (e.g. ``interaction`` in M2, every
    slope term in M0).

    Attributes
    ----------
    person_dim : str
        Dimension of person effects in the posterior, e.g. ``"person_id__factor_dim"``.
    x_column, w_column, y_column : str or None
        Columns of the prepared data holding the within-person centred level-1 predictor,
        the centred level-2 moderator and the (possibly standardised) outcome.
    slope : str or None
        Fixed within-person slope ``g10`` of ``x_column``.
    moderator : str or None
        Fixed effect ``g01`` of the moderator on the intercept.
    interaction : str or None
        Cross-level interaction ``g11`` (``x_column:w_column``).
    between : str or None
        Effect of the centred person mean of x (``g02``; contextual effect when the
        within-centred predictor is also in the model).
    group_intercept, group_slope : str or None
        Person-effect variables ``u0j`` and ``u1j``.
    group_intercept_sd, group_slope_sd : str or None
        Their standard deviations ``tau0`` and ``tau1``.
    correlation : str or None
        Correlation ``rho`` of ``u0j`` and ``u1j``.
    sigma : str or None
        Residual SD (Gaussian family).
    other_fixed : tuple of str
        Every other fixed effect in the model (controls, further predictors).
    moderator_levels : tuple of str
        Levels of a factor moderator (empty for a numeric moderator). With a factor,
        ``w_column`` is the factor's source column and ``moderator`` and ``interaction`` are
        None: the factor's effects are the contrast terms below.
    moderator_reference : str or None
        The factor's reference level (treatment coding) or the level coded -1 on every
        contrast column (sum coding).
    moderator_contrast : str or None
        ``"treatment"`` or ``"sum"``.
    moderator_terms : tuple of str
        Fixed effects of the factor's contrast columns (``g01`` per column).
    interaction_terms : tuple of str
        Cross-level interactions of the level-1 predictor with each contrast column, in the
        order of ``moderator_terms`` (``g11`` per column); empty without the interaction.
    moderator_coding : tuple of tuple of float
        Coding matrix: one row per level (in ``moderator_levels`` order), one column per
        contrast column. The within-person slope at level :math:`l` is
        :math:`\\gamma_{10} + \\sum_c C_{lc}\\,\\gamma_{11,c}`.
    """

    person_dim: str
    x_column: str | None = None
    w_column: str | None = None
    y_column: str | None = None
    intercept: str | None = "Intercept"
    slope: str | None = None
    moderator: str | None = None
    interaction: str | None = None
    between: str | None = None
    group_intercept: str | None = None
    group_slope: str | None = None
    group_intercept_sd: str | None = None
    group_slope_sd: str | None = None
    correlation: str | None = None
    sigma: str | None = "sigma"
    other_fixed: tuple[str, ...] = ()
    moderator_levels: tuple[str, ...] = ()
    moderator_reference: str | None = None
    moderator_contrast: str | None = None
    moderator_terms: tuple[str, ...] = ()
    interaction_terms: tuple[str, ...] = ()
    moderator_coding: tuple[tuple[float, ...], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable form, for the attributes of a saved fit.

        The factor fields appear only for a factor moderator, so the terms of a model with
        numeric moderators are saved exactly as before they existed.
        """
        d = asdict(self)
        if not self.moderator_levels:
            for name in _FACTOR_FIELDS:
                d.pop(name)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ModerationTerms:
        """Inverse of :meth:`to_dict`; also reads dicts saved before the factor fields."""
        d = dict(d)
        for name in ("other_fixed", "moderator_levels", "moderator_terms", "interaction_terms"):
            d[name] = tuple(str(v) for v in d.get(name) or ())  # type: ignore[union-attr]
        d["moderator_coding"] = tuple(
            tuple(float(v) for v in row)
            for row in d.get("moderator_coding") or ()  # type: ignore[union-attr]
        )
        return cls(**d)  # type: ignore[arg-type]

    @property
    def factor_moderator(self) -> bool:
        """Whether the moderator is a factor (its effects are contrast terms)."""
        return bool(self.moderator_levels)

    @property
    def moderated(self) -> bool:
        """Whether the model has the cross-level interaction (numeric or factor)."""
        return self.interaction is not None or bool(self.interaction_terms)

    @property
    def fixed(self) -> tuple[str, ...]:
        """Fixed-effect variables present in the model, in reading order."""
        names = (
            self.intercept,
            self.slope,
            self.between,
            self.moderator,
            *self.moderator_terms,
            self.interaction,
            *self.interaction_terms,
        )
        return tuple(n for n in names if n is not None) + tuple(self.other_fixed)

    @property
    def random_sds(self) -> tuple[str, ...]:
        """Person-effect SD variables present in the model."""
        return tuple(n for n in (self.group_intercept_sd, self.group_slope_sd) if n is not None)


#: The fields that describe a factor moderator (left out of :meth:`ModerationTerms.to_dict`
#: for a numeric one).
_FACTOR_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(ModerationTerms) if f.name.startswith(("moderator_", "interaction_t"))
)
