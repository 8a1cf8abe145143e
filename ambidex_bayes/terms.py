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
simple slopes and figures never guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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

    def to_dict(self) -> dict[str, str | None]:
        """JSON-serialisable form, for the attributes of a saved fit."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, str | None]) -> ModerationTerms:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["other_fixed"] = tuple(d.get("other_fixed") or ())
        return cls(**d)

    @property
    def fixed(self) -> tuple[str, ...]:
        """Fixed-effect variables present in the model, in reading order."""
        names = (self.intercept, self.slope, self.between, self.moderator, self.interaction)
        return tuple(n for n in names if n is not None) + tuple(self.other_fixed)

    @property
    def random_sds(self) -> tuple[str, ...]:
        """Person-effect SD variables present in the model."""
        return tuple(n for n in (self.group_intercept_sd, self.group_slope_sd) if n is not None)
