"""Model specs and prior sets: reviewable TOML files, typed and validated on load.

A model spec names a Bambi-style formula whose column names are *roles* filled in from the
prepared data (so one spec serves any diary data set), a family, whether person effects are
correlated, and optional prior overrides. Example (``models/m3_cross_level.toml``)::

    name = "M3"
    title = "Cross-level interaction"
    formula = "{y} ~ 1 + {x_within} + {x_between} + {w} + {x_within}:{w} + ({x_within} | {person})"
    family = "gaussian"
    correlated = true

    [priors]
    corr = { dist = "LKJ", eta = 2.0 }

Roles available in formulas: ``{y}``, ``{person}``, ``{x_within}``, ``{x_between}``, ``{w}``,
and for every level-1 predictor *k* ``{x<k>_within}``/``{x<k>_between}``, for every moderator
``{w<k>}``. Prior keys are posterior variable names written with the same roles, e.g.
``"{x_within}:{w}"``, ``"1|{person}_sigma"``, ``"sigma"``, and ``"corr"`` for the LKJ prior.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambidex_bayes.errors import SpecError

__all__ = [
    "PriorSpec",
    "ModelSpec",
    "load_spec",
    "load_prior_set",
    "ladder_specs",
    "models_dir",
    "DISTRIBUTIONS",
    "FAMILIES",
]

#: Prior distributions a spec may name, with their parameters (required, optional).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Normal": (("mu", "sigma"), ()),
    "StudentT": (("nu", "mu", "sigma"), ()),
    "HalfNormal": (("sigma",), ()),
    "HalfStudentT": (("nu", "sigma"), ()),
    "HalfCauchy": (("beta",), ()),
    "Exponential": (("lam",), ()),
    "Gamma": (("alpha", "beta"), ()),
    "LKJ": (("eta",), ()),
}

#: Positive distributions (valid for SDs).
POSITIVE_DISTRIBUTIONS = frozenset(
    {"HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "Gamma"}
)

#: Likelihood families supported by the model builder.
FAMILIES = ("gaussian", "t")

_SPEC_KEYS = {
    "name",
    "title",
    "description",
    "formula",
    "family",
    "correlated",
    "include_controls",
    "priors",
}


#: Names users often write for a distribution's parameters (brms/Stan/scipy habits).
_SYNONYMS = {
    "sd": "sigma",
    "scale": "sigma",
    "loc": "mu",
    "mean": "mu",
    "df": "nu",
    "lambda": "lam",
    "rate": "lam",
    "shape": "alpha",
}


def _hint(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str:
    if _SYNONYMS.get(word) in choices:
        return f" Did you mean {_SYNONYMS[word]!r}?"
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class PriorSpec:
    """A prior distribution named by its PyMC name and parameters.

    Parameters
    ----------
    dist : str
        One of :data:`DISTRIBUTIONS`.
    params : mapping of str to float
        The distribution's parameters, e.g. ``{"mu": 0.0, "sigma": 1.0}``.
    """

    dist: str
    params: Mapping[str, float]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str) -> PriorSpec:
        """Build from ``{"dist": "Normal", "mu": 0, "sigma": 1}``, checking every name."""
        if not isinstance(d, Mapping):
            raise SpecError(
                f"{where}: a prior must be a table like {{ dist = 'Normal', mu = 0, sigma = 1 }}."
            )
        if "dist" not in d:
            raise SpecError(
                f"{where}: the prior has no 'dist' (one of {', '.join(DISTRIBUTIONS)})."
            )
        dist = str(d["dist"])
        if dist not in DISTRIBUTIONS:
            raise SpecError(
                f"{where}: unknown distribution {dist!r}.{_hint(dist, list(DISTRIBUTIONS))} "
                f"Known: {', '.join(DISTRIBUTIONS)}."
            )
        required, optional = DISTRIBUTIONS[dist]
        params: dict[str, float] = {}
        for key, value in d.items():
            if key == "dist":
                continue
            if key not in required + optional:
                raise SpecError(
                    f"{where}: {dist} has no parameter {key!r}.{_hint(key, required + optional)} "
                    f"Its parameters are {', '.join(required + optional)}."
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"{where}: parameter {key!r} must be a number, got {value!r}.")
            params[key] = float(value)
        missing = [p for p in required if p not in params]
        if missing:
            raise SpecError(f"{where}: {dist} needs {', '.join(missing)}.")
        for key in ("sigma", "beta", "lam", "nu", "eta", "alpha"):
            if key in params and params[key] <= 0:
                raise SpecError(
                    f"{where}: parameter {key!r} of {dist} must be > 0, got {params[key]}."
                )
        return cls(dist=dist, params=params)

    def to_dict(self) -> dict[str, Any]:
        """The TOML/JSON form ``{"dist": ..., **params}``."""
        return {"dist": self.dist, **self.params}

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({args})"


@dataclass(frozen=True)
class ModelSpec:
    """A model of the ladder (or any user model), as read from a spec file.

    Attributes
    ----------
    name : str
        Short name used in tables and file names (e.g. ``"M3"``).
    title : str
        One line saying what the model is.
    formula : str
        Bambi formula template with role placeholders.
    family : str
        ``"gaussian"`` or ``"t"`` (Student-t for robustness).
    correlated : bool
        Whether person effects of one grouping factor are correlated (LKJ prior). Bambi
        itself has no correlated person effects; this toolkit builds them.
    include_controls : bool
        Add the mapping's day-level controls to the formula.
    priors : mapping of str to PriorSpec
        Prior overrides keyed by (templated) parameter name; the rest get defaults.
    source : str
        File the spec came from (for messages).
    """

    name: str
    formula: str
    title: str = ""
    description: str = ""
    family: str = "gaussian"
    correlated: bool = True
    include_controls: bool = False
    priors: Mapping[str, PriorSpec] = field(default_factory=dict)
    source: str = "<spec>"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "<spec>") -> ModelSpec:
        """Validate a parsed spec file; unknown keys fail with a suggestion."""
        unknown = [k for k in d if k not in _SPEC_KEYS]
        if unknown:
            key = unknown[0]
            raise SpecError(
                f"{source}: unknown key {key!r}.{_hint(key, _SPEC_KEYS)} "
                f"Allowed keys: {', '.join(sorted(_SPEC_KEYS))}."
            )
        for key in ("name", "formula"):
            if key not in d:
                raise SpecError(f'{source}: the spec has no {key!r}; add e.g. {key} = "...".')
            if not isinstance(d[key], str) or not d[key].strip():
                raise SpecError(f"{source}: {key!r} must be a non-empty string.")
        family = str(d.get("family", "gaussian"))
        if family not in FAMILIES:
            raise SpecError(
                f"{source}: unknown family {family!r}.{_hint(family, FAMILIES)} "
                f"Supported: {', '.join(FAMILIES)}."
            )
        for key in ("correlated", "include_controls"):
            if key in d and not isinstance(d[key], bool):
                raise SpecError(f"{source}: {key!r} must be true or false, got {d[key]!r}.")
        raw_priors = d.get("priors", {}) or {}
        if not isinstance(raw_priors, Mapping):
            raise SpecError(f"{source}: [priors] must be a table.")
        priors = {
            str(k): PriorSpec.from_dict(v, where=f"{source}: prior {k!r}")
            for k, v in raw_priors.items()
        }
        if "corr" in priors and priors["corr"].dist != "LKJ":
            raise SpecError(
                f"{source}: prior 'corr' must be an LKJ distribution, e.g. {{ dist = 'LKJ', eta = 2 }}."
            )
        spec = cls(
            name=d["name"].strip(),
            formula=" ".join(d["formula"].split()),
            title=str(d.get("title", "")),
            description=str(d.get("description", "")),
            family=family,
            correlated=bool(d.get("correlated", True)),
            include_controls=bool(d.get("include_controls", False)),
            priors=priors,
            source=source,
        )
        spec.placeholders()  # checks the template syntax
        return spec

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-serialisable form; ``from_dict(to_dict())`` gives the same spec."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "formula": self.formula,
            "family": self.family,
            "correlated": self.correlated,
            "include_controls": self.include_controls,
            "priors": {k: v.to_dict() for k, v in self.priors.items()},
        }

    def fingerprint(self) -> str:
        """Hash of everything that changes the model (not the source path)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def placeholders(self) -> set[str]:
        """Role names used by the formula template."""
        found = set(re.findall(r"\{([^{}]*)\}", self.formula))
        bad = [p for p in found if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p)]
        if bad:
            raise SpecError(f"{self.source}: formula placeholder {{{bad[0]}}} is not a role name.")
        return found

    def with_priors(
        self, priors: Mapping[str, PriorSpec], *, label: str | None = None
    ) -> ModelSpec:
        """A copy whose priors are updated by ``priors`` (a prior set)."""
        merged = {**self.priors, **priors}
        return ModelSpec(
            name=self.name if label is None else f"{self.name}[{label}]",
            formula=self.formula,
            title=self.title,
            description=self.description,
            family=self.family,
            correlated=self.correlated,
            include_controls=self.include_controls,
            priors=merged,
            source=self.source,
        )

    def render(self, fields: Mapping[str, str], *, controls: tuple[str, ...] = ()) -> str:
        """Fill the role placeholders with the prepared data's column names.

        Raises
        ------
        SpecError
            When the formula uses a role the data do not have (e.g. ``{w}`` without a
            level-2 moderator in the column mapping).
        """
        missing = sorted(self.placeholders() - set(fields))
        if missing:
            role = missing[0]
            raise SpecError(
                f"{self.source}: the formula uses {{{role}}}, but the data have no such role."
                f"{_hint(role, list(fields))} Available roles: {', '.join(sorted(fields))}. "
                "A missing {w} means the column mapping declares no level-2 moderator."
            )
        formula = self.formula.format(**fields)
        if self.include_controls and controls:
            lhs, rhs = formula.split("~", 1)
            fixed, sep, rest = rhs.partition("(")
            fixed = fixed.rstrip().rstrip("+").rstrip()
            extra = " + ".join(controls)
            formula = f"{lhs}~{fixed} + {extra}" + (f" + {sep}{rest}" if sep else "")
        return formula

    def render_priors(self, fields: Mapping[str, str]) -> dict[str, PriorSpec]:
        """Prior overrides with role placeholders filled in."""
        out = {}
        for key, prior in self.priors.items():
            try:
                out[key.format(**fields)] = prior
            except KeyError as err:
                raise SpecError(
                    f"{self.source}: prior key {key!r} uses the role {err.args[0]!r}, which the "
                    f"data do not have. Available roles: {', '.join(sorted(fields))}."
                ) from None
        return out


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SpecError(f"{path}: no such spec file.")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML ({err}).") from None


def models_dir() -> Path:
    """The repository's ``models/`` folder (specs and prior sets)."""
    return Path(__file__).resolve().parent.parent / "models"


def load_spec(path: str | Path) -> ModelSpec:
    """Read and validate one model spec file.

    ``path`` may also be a bare name (``"M3"`` or ``"m3_cross_level"``) of a spec in
    ``models/``.
    """
    path = Path(path)
    if not path.exists() and path.suffix == "" and models_dir().exists():
        for candidate in sorted(models_dir().glob("*.toml")):
            if candidate.stem.lower() == str(path).lower():
                path = candidate
                break
            spec_name = _read_toml(candidate).get("name", "")
            if str(spec_name).lower() == str(path).lower():
                path = candidate
                break
    return ModelSpec.from_dict(_read_toml(path), source=str(path))


def load_prior_set(path: str | Path) -> dict[str, PriorSpec]:
    """Read a prior-set file: a ``[priors]`` table as in a model spec."""
    path = Path(path)
    data = _read_toml(path)
    unknown = [k for k in data if k not in {"name", "description", "priors"}]
    if unknown:
        raise SpecError(
            f"{path}: unknown key {unknown[0]!r}.{_hint(unknown[0], ['name', 'description', 'priors'])}"
        )
    raw = data.get("priors", {})
    return {str(k): PriorSpec.from_dict(v, where=f"{path}: prior {k!r}") for k, v in raw.items()}


def ladder_specs(directory: str | Path | None = None) -> list[ModelSpec]:
    """The ladder M0 -> M3 from ``models/`` (files ``m0_*.toml`` ... ``m3_*.toml``)."""
    directory = Path(directory) if directory is not None else models_dir()
    files = sorted(p for p in directory.glob("m[0-9]_*.toml"))
    if not files:
        raise SpecError(f"{directory}: no ladder spec files (m0_*.toml ... m3_*.toml) found.")
    return [load_spec(p) for p in files]
