r"""Prior sets: reviewable TOML files of priors, some of them on the outcome's own scale.

A prior set is a file in the bundled ``ambidex_bayes/models/priors/`` (read by name, e.g.
``"sceptical"``) or anywhere else, with an optional ``name`` and ``description`` and up to
two tables of priors keyed like a model spec's ``[priors]`` (posterior variable names
written with roles: ``"{x_within}:{w}"``, ``"1|{person}_sigma"``, ``"sigma"``, ``"corr"``
for the LKJ shape). :func:`load_prior_set` is the one loader of prior sets, used by every
command that takes ``--priors``:

``[priors]``
    Absolute numbers, on the scale the model is fitted on.
``[relative]``
    Numbers *relative to the declared response ranges* of the variables involved, turned
    into absolute numbers when the set is resolved against prepared data
    (:meth:`PriorSet.resolve`). An empty set (no entries at all) means Bambi's data-scaled
    defaults.

Scale-relative numbers
----------------------
Each parameter has a *unit* on the model's scale. With :math:`R_v` the declared range
(highest minus lowest response) of the raw column behind role :math:`v` (the mapping's
``[ranges]`` or a scale's ``range``) and :math:`s_v` the scale the preparation divided it
by (1 unless standardised), one full range of :math:`v` is :math:`r_v = R_v / s_v` model
units, and

.. math::

    \text{unit}(\text{sigma}) = \text{unit}(\texttt{1|person\_sigma}) = r_y, \qquad
    \text{unit}(\beta_{v_1:\dots:v_k}) = \text{unit}(\texttt{v\_1|person\_sigma}) =
    \frac{r_y}{r_{v_1}\cdots r_{v_k}},

so a relative slope of 1 moves the outcome over its whole range when the predictor moves
over its whole range. A relative ``sigma`` (and HalfCauchy ``beta``) is multiplied by the
unit, a rate (Exponential ``lam``, Gamma ``beta``) is divided by it, a location ``mu`` is
multiplied by it, and shapes (``nu``, ``alpha``, ``eta``) are left as they are. The
intercept is a *position* on the outcome's scale: a relative ``mu`` of 0.5 is the middle of
the range, :math:`\mu = (\text{lo}_y + 0.5 R_y - c_y)/s_y` with the outcome's centre
:math:`c_y`. Example, outcome and predictor on 1-5 (:math:`R = 4`), not standardised:
``"{x_within}" = { dist = "Normal", mu = 0, sigma = 1 }`` in ``[relative]`` becomes
Normal(0, 1) per raw unit; ``"sigma" = { dist = "HalfNormal", sigma = 0.25 }`` becomes
HalfNormal(1.0).

A latent-centred fit takes a set's priors for the parameters it shares with the observed
model (:mod:`ambidex_bayes.model.latent_priors`); a key it has no parameter for is refused.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ambidex_bayes.errors import SpecError
from ambidex_bayes.spec import (
    POSITIVE_DISTRIBUTIONS,
    PriorSpec,
    check_prior_key_roles,
    check_spec_name,
    models_dir,
)

if TYPE_CHECKING:
    from ambidex_bayes.prepared_data import PreparedData
    from ambidex_bayes.spec import ModelSpec

__all__ = [
    "PriorSet",
    "prior_sets_dir",
    "available_prior_sets",
    "read_prior_set",
    "load_prior_set",
    "check_prior_keys",
    "applicable_priors",
    "spec_with_prior_set",
    "parameter_unit",
    "declared_range",
    "PARAM_UNITS",
]

_SET_KEYS = ("name", "description", "priors", "relative")

#: How each distribution parameter changes with the unit of its parameter, for
#: ``[relative]`` entries: "location" and "scale" are multiplied by the unit, "rate" is
#: divided by it, "shape" is left unchanged.
PARAM_UNITS: dict[tuple[str, str], str] = {
    ("Normal", "mu"): "location",
    ("Normal", "sigma"): "scale",
    ("StudentT", "mu"): "location",
    ("StudentT", "sigma"): "scale",
    ("StudentT", "nu"): "shape",
    ("HalfNormal", "sigma"): "scale",
    ("HalfStudentT", "sigma"): "scale",
    ("HalfStudentT", "nu"): "shape",
    ("HalfCauchy", "beta"): "scale",
    ("Exponential", "lam"): "rate",
    ("Gamma", "alpha"): "shape",
    ("Gamma", "beta"): "rate",
    ("LKJ", "eta"): "shape",
}


def prior_sets_dir() -> Path:
    """The bundled prior sets' folder, ``ambidex_bayes/models/priors/``."""
    return models_dir() / "priors"


def available_prior_sets() -> list[str]:
    """Names of the bundled prior sets (file stems, sorted)."""
    folder = prior_sets_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.exists() else []


@dataclass(frozen=True)
class PriorSet:
    """A named set of prior overrides, absolute and/or relative to the declared scales.

    Attributes
    ----------
    name : str
        Short name used in tables (the file stem unless the file says otherwise).
    priors : mapping of str to PriorSpec
        Absolute priors, keyed by templated parameter name.
    relative : mapping of str to PriorSpec
        Priors whose numbers are relative to the declared ranges (see the module notes).
    description : str
    source : str
        File the set came from (for messages).
    """

    name: str
    priors: Mapping[str, PriorSpec] = field(default_factory=dict)
    relative: Mapping[str, PriorSpec] = field(default_factory=dict)
    description: str = ""
    source: str = "<prior set>"

    @property
    def is_default(self) -> bool:
        """True when the set overrides nothing: Bambi's data-scaled defaults apply."""
        return not self.priors and not self.relative

    @property
    def keys(self) -> tuple[str, ...]:
        """Every parameter key the set names (absolute first, then relative)."""
        return tuple(self.priors) + tuple(self.relative)

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], *, name: str | None = None, source: str = "<prior set>"
    ) -> PriorSet:
        """Validate a parsed prior-set file; unknown keys and names fail with a hint."""
        if not isinstance(d, Mapping):
            raise SpecError(f"{source}: a prior set must be a table of keys.")
        unknown = [k for k in d if k not in _SET_KEYS]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, _SET_KEYS, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SpecError(
                f"{source}: unknown key {key!r}.{hint} Allowed keys: {', '.join(_SET_KEYS)}."
            )
        tables: dict[str, dict[str, PriorSpec]] = {}
        for table in ("priors", "relative"):
            raw = d.get(table, {}) or {}
            if not isinstance(raw, Mapping):
                raise SpecError(f"{source}: [{table}] must be a table of parameter = prior.")
            for key in raw:
                check_prior_key_roles(str(key), source)
            tables[table] = {
                str(k): PriorSpec.from_dict(v, where=f"{source}: [{table}] prior {k!r}")
                for k, v in raw.items()
            }
        both = sorted(set(tables["priors"]) & set(tables["relative"]))
        if both:
            raise SpecError(
                f"{source}: {both[0]!r} is given both in [priors] and in [relative]; "
                "keep one of them."
            )
        for table, priors in tables.items():
            for key, prior in priors.items():
                _check_key_dist(key, prior, f"{source}: [{table}]")
        for key, prior in tables["relative"].items():
            for param in prior.params:
                if (prior.dist, param) not in PARAM_UNITS:
                    raise SpecError(
                        f"{source}: [relative] prior {key!r}: {prior.dist} parameter {param!r} "
                        "has no known unit; give this prior in [priors] instead."
                    )
        given = name or str(d.get("name", "")).strip()
        if given:  # it labels the models fitted with the set, and their files
            check_spec_name(given, source=source, what="prior-set name")
        label = given or Path(source).stem
        return cls(
            name=label,
            priors=tables["priors"],
            relative=tables["relative"],
            description=str(d.get("description", "")).strip(),
            source=source,
        )

    def resolve(self, prepared: PreparedData | None = None) -> dict[str, PriorSpec]:
        """Absolute priors keyed by templated parameter name, ready for ``spec.with_priors``.

        Parameters
        ----------
        prepared : PreparedData, optional
            Needed when the set has ``[relative]`` entries: their roles, transforms and the
            mapping's declared ranges give each parameter's unit.

        Raises
        ------
        SpecError
            Relative entries without prepared data, a role the data do not have, or a
            variable without a declared range.
        """
        out = dict(self.priors)
        if not self.relative:
            return out
        if prepared is None:
            raise SpecError(
                f"{self.source}: the prior set {self.name!r} gives priors relative to the "
                "declared scales ([relative]); they can only be turned into numbers with the "
                "data at hand. Resolve it with the prepared data, e.g. "
                "PriorSet.resolve(prepared) or load_prior_set(..., prepared=prepared)."
            )
        fields = prepared.formula_fields()
        for key, prior in self.relative.items():
            if any(role not in fields for role in re.findall(r"\{([^{}]*)\}", key)):
                continue  # a term these data lack (no moderator, no between part)
            out[key] = _absolute(key, prior, prepared, self.source)
        return out


def _check_key_dist(key: str, prior: PriorSpec, where: str) -> None:
    """SDs need positive priors, ``corr`` an LKJ one, and no other parameter may be LKJ."""
    if key == "corr":
        if prior.dist != "LKJ":
            raise SpecError(
                f"{where} prior 'corr' must be an LKJ distribution, e.g. "
                "{ dist = 'LKJ', eta = 2 }."
            )
        return
    if prior.dist == "LKJ":
        raise SpecError(
            f"{where} prior {key!r}: LKJ is the prior of the correlation only (key 'corr')."
        )
    if _is_sd_key(key) and prior.dist not in POSITIVE_DISTRIBUTIONS:
        raise SpecError(
            f"{where} prior {key!r} is a standard deviation and needs a positive distribution "
            f"({', '.join(sorted(POSITIVE_DISTRIBUTIONS))}), not {prior.dist}."
        )


def _is_sd_key(key: str) -> bool:
    return key == "sigma" or (key.endswith("_sigma") and "|" in key)


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise SpecError(
            f"{path}: is a folder, not a prior-set file; give the path of a .toml file or a "
            f"bundled set's name ({', '.join(available_prior_sets())})."
        )
    from ambidex_bayes.toml_text import decode_toml_bytes

    try:
        # UTF-8 with or without a byte-order mark, or UTF-16 (Windows Notepad)
        return tomllib.loads(decode_toml_bytes(path.read_bytes(), path))
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML ({err}).") from None
    except OSError as err:
        raise SpecError(f"{path}: cannot read the prior-set file ({err}).") from None


def _find(source: str | Path) -> Path:
    path = Path(source)
    if path.exists():
        return path
    if path.suffix == "" and len(path.parts) == 1:
        candidate = prior_sets_dir() / f"{path.name}.toml"
        if candidate.exists():
            return candidate
        names = available_prior_sets()
        close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"no prior set {path.name!r}.{hint} Bundled sets: {', '.join(names) or 'none'}; "
            "or give the path of a prior-set TOML file."
        )
    raise SpecError(f"{path}: no such prior-set file.")


def read_prior_set(source: str | Path | PriorSet) -> PriorSet:
    """Read and validate a prior-set file, or a bundled set by name (``"sceptical"``).

    Distribution and parameter names are checked here (with "did you mean" hints); the
    parameter keys are checked against a model by :func:`check_prior_keys`.
    """
    if isinstance(source, PriorSet):
        return source
    path = _find(source)
    return PriorSet.from_dict(_read_toml(path), name=None, source=str(path))


def load_prior_set(
    source: str | Path | PriorSet,
    *,
    prepared: PreparedData | None = None,
    model: Any | None = None,
) -> dict[str, PriorSpec]:
    """Read a prior set and turn it into absolute priors, checked against a model if given.

    The one loader of prior sets: ``ambidex-bayes fit --priors``, ``compare-priors``,
    ``prior-check``, ``power`` and ``sbc`` all read their sets through it (or through
    :func:`read_prior_set`, its reading half).

    Parameters
    ----------
    source : path, bundled name or PriorSet
    prepared : PreparedData, optional
        Resolves ``[relative]`` entries (see the module notes).
    model : BuiltModel, optional
        When given, every key must name a parameter of this model (an unknown key fails
        with a "did you mean" hint and the list of parameters); needs ``prepared`` for the
        roles.

    Returns
    -------
    dict of str to PriorSpec
        Keyed by templated parameter name; pass to ``spec.with_priors``.
    """
    prior_set = read_prior_set(source)
    priors = prior_set.resolve(prepared)
    if model is not None:
        if prepared is None:
            raise SpecError(
                "load_prior_set(model=...) also needs prepared= (the data's roles fill in the "
                "parameter names)."
            )
        check_prior_keys(
            priors,
            model,
            prepared.formula_fields(),
            source=prior_set.source,
            factors=prepared.formula_columns(),
        )
    return priors


def check_prior_keys(
    priors: Mapping[str, PriorSpec],
    model: Any,
    fields: Mapping[str, str],
    *,
    source: str = "<prior set>",
    factors: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Fail when a prior key names no parameter of ``model`` (a :class:`BuiltModel`).

    The rendered key must be one of the model's parameters (``model.priors``), or ``corr``
    when the model has correlated person effects. The message suggests the closest name.
    """
    names = list(model.priors)
    has_corr = any(n.startswith("corr(") for n in names)
    valid = set(names) | ({"corr"} if has_corr else set())
    for key in priors:
        try:
            expanded = _rendered(key, fields, factors)
        except (KeyError, IndexError, ValueError) as err:
            raise SpecError(
                f"{source}: prior key {key!r} uses the role {err.args[0]!r}, which the data "
                f"do not have. Available roles: {', '.join(sorted(fields))}."
            ) from None
        rendered = next((r for r in expanded if r not in valid), None)
        if rendered is None:
            continue
        close = difflib.get_close_matches(rendered, sorted(valid), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"{source}: the prior for {key!r} ({rendered!r}) matches no parameter of "
            f"{model.formula!r}.{hint} Parameters: {', '.join(sorted(valid))}."
        )


def applicable_priors(
    priors: Mapping[str, PriorSpec],
    model: Any,
    fields: Mapping[str, str],
    *,
    factors: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, PriorSpec]:
    """The priors of a set that name parameters of ``model``; the others are left out.

    A prior set is usually written for the fullest model (M3); applied to a smaller model of
    the ladder, its priors for the parameters that model lacks (the interaction, the slope
    SD, the correlation) do not apply. A misspelt key is left out as well, so check a set
    against the model it was written for with :func:`check_prior_keys`.
    """
    names = set(model.priors)
    if any(n.startswith("corr(") for n in names):
        names.add("corr")
    return {
        k: v
        for k, v in priors.items()
        if any(name in names for name in _rendered(k, fields, factors, missing_ok=True))
    }


def _rendered(
    key: str,
    fields: Mapping[str, str],
    factors: Mapping[str, tuple[str, ...]] | None,
    *,
    missing_ok: bool = False,
) -> list[str]:
    """The parameter names of a prior key: a factor role (its column a key of ``factors``)
    gives one name per contrast column; a role the data lack gives none when
    ``missing_ok`` (else a KeyError)."""
    roles = list(dict.fromkeys(re.findall(r"\{([^{}]*)\}", key)))
    if missing_ok and any(r not in fields for r in roles):
        return []
    factors = factors or {}
    choices = [factors.get(fields[r], (fields[r],)) for r in roles]
    return [
        key.format(**{**fields, **dict(zip(roles, combination, strict=True))})
        for combination in itertools.product(*choices)
    ]


def spec_with_prior_set(spec: ModelSpec, prior_set: str, prepared: PreparedData) -> ModelSpec:
    """``spec`` with the priors of ``prior_set`` that apply to its parameters.

    A set written for M3 thus serves the smaller models of the ladder too (see
    :func:`applicable_priors`).
    """
    from ambidex_bayes.model.build import build_model

    resolved = load_prior_set(prior_set, prepared=prepared)
    base = build_model(spec, prepared)
    return spec.with_priors(
        applicable_priors(
            resolved, base, prepared.formula_fields(), factors=prepared.formula_columns()
        )
    )


# --- scale-relative priors ---------------------------------------------------------------


def declared_range(prepared: PreparedData, column: str) -> tuple[float, float]:
    """Declared ``(lo, hi)`` of the raw column behind a prepared column.

    Looks the raw column up in the mapping's ``[ranges]`` and, for scale scores, in the
    scale's ``range``.

    Raises
    ------
    SpecError
        When no range is declared (says how to declare one).
    """
    transform = prepared.transforms.get(column)
    raw = transform.source if transform is not None else column
    mapping = prepared.mapping
    if raw in mapping.ranges:
        return tuple(map(float, mapping.ranges[raw]))  # type: ignore[return-value]
    scale = mapping.scales.get(raw)
    if scale is not None and scale.range is not None:
        return tuple(map(float, scale.range))  # type: ignore[return-value]
    raise SpecError(
        f"a relative prior needs the declared range of {raw!r}, and the column mapping "
        f"declares none. Add it under [ranges] (e.g. {raw} = [1, 5]) or give this prior "
        "in absolute numbers under [priors]."
    )


def _range_in_model_units(prepared: PreparedData, column: str) -> float:
    if column in prepared.factor_codings:
        return 1.0  # a contrast column: one unit is one level against the reference
    lo, hi = declared_range(prepared, column)
    transform = prepared.transforms.get(column)
    scale = float(transform.scale) if transform is not None else 1.0
    return (hi - lo) / scale


def _column_of(factor: str, fields: Mapping[str, str], key: str, source: str) -> str:
    factor = factor.strip()
    if factor.startswith("{") and factor.endswith("}"):
        role = factor[1:-1]
        if role not in fields:
            raise SpecError(
                f"{source}: prior key {key!r} uses the role {role!r}, which the data do not "
                f"have. Available roles: {', '.join(sorted(fields))}."
            )
        return fields[role]
    return factor


def parameter_unit(key: str, prepared: PreparedData, *, source: str = "<prior set>") -> float:
    r"""One unit of the (templated) parameter ``key`` in model units, from declared ranges.

    ``sigma`` and ``1|{person}_sigma`` are in units of the outcome's range :math:`r_y`;
    a coefficient or person-slope SD of the product :math:`v_1 \cdots v_k` in units of
    :math:`r_y / (r_{v_1}\cdots r_{v_k})`; ``corr`` and ``nu`` have unit 1. The intercept's
    unit is :math:`r_y` (its location is handled as a position, see the module notes).
    """
    fields = prepared.formula_fields()
    if key in ("corr", "nu"):
        return 1.0
    r_y = _range_in_model_units(prepared, fields["y"])
    if key in ("sigma", "Intercept"):
        return r_y
    expr = key
    if _is_sd_key(key):
        expr = key[: -len("_sigma")].split("|", 1)[0]
        if expr.strip() == "1":
            return r_y
    unit = r_y
    for factor in expr.split(":"):
        unit /= _range_in_model_units(prepared, _column_of(factor, fields, key, source))
    return unit


def _absolute(key: str, prior: PriorSpec, prepared: PreparedData, source: str) -> PriorSpec:
    try:
        unit = parameter_unit(key, prepared, source=source)
    except SpecError as err:
        raise SpecError(f"{source}: [relative] prior {key!r}: {err}") from None
    params: dict[str, float] = {}
    for param, value in prior.params.items():
        kind = PARAM_UNITS[(prior.dist, param)]
        if key == "Intercept" and kind == "location":
            y = prepared.formula_fields()["y"]
            lo, hi = declared_range(prepared, y)
            transform = prepared.transforms.get(y)
            centre = float(transform.centre) if transform is not None else 0.0
            scale = float(transform.scale) if transform is not None else 1.0
            params[param] = (lo + value * (hi - lo) - centre) / scale
        elif kind in ("location", "scale"):
            params[param] = value * unit
        elif kind == "rate":
            params[param] = value / unit
        else:
            params[param] = value
        if not math.isfinite(params[param]):
            raise SpecError(f"{source}: [relative] prior {key!r}: {param} is not finite.")
    return PriorSpec(dist=prior.dist, params=params)
