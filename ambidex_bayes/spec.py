"""Model specs: reviewable TOML files, typed and validated on load.

A model spec names a Bambi-style formula whose column names are *roles* filled in from the
prepared data (so one spec serves any diary data set), a family, whether person effects are
correlated, and optional prior overrides. Example (the bundled
``ambidex_bayes/models/m3_cross_level.toml``)::

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

A spec may name ``optional_roles`` (``optional_roles = ["w", "x_between"]``): every term of
the formula that uses one of them is left out when the data lack that role (no level-2
moderator; a level-1 predictor whose person means do not vary), and so is every prior keyed
by it. The bundled M1 and M2 mark ``{w}`` and ``{x_between}`` optional, M3 only
``{x_between}``: M3 exists for ``{x_within}:{w}``, so
:func:`ambidex_bayes.ladder.ladder_specs` given the data's roles skips it when there is no
moderator.

Prior sets (files of such priors applied on top of a spec, bundled ones by name) are read by
:func:`ambidex_bayes.priors.sets.load_prior_set`.

This module holds :class:`ModelSpec`, :func:`load_spec` and the checks of names and prior
keys; :class:`PriorSpec` and the prior distributions live in :mod:`ambidex_bayes.prior_spec`
(re-exported here), the ladder of bundled models in :mod:`ambidex_bayes.ladder`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambidex_bayes.errors import SpecError
from ambidex_bayes.formula_guard import (
    check_template,
    is_group_term,
    quote_name,
    split_top_level,
)
from ambidex_bayes.prior_spec import (
    DISTRIBUTIONS,
    POSITIVE_DISTRIBUTIONS,
    PriorSpec,
    did_you_mean,
)

__all__ = [
    "PriorSpec",
    "ModelSpec",
    "load_spec",
    "models_dir",
    "check_spec_name",
    "check_prior_key_roles",
    "DISTRIBUTIONS",
    "POSITIVE_DISTRIBUTIONS",
    "FAMILIES",
]

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
    "optional_roles",
    "priors",
    "centring",
}

#: How a spec may centre its level-1 predictor (see :mod:`ambidex_bayes.centring`).
CENTRINGS = ("observed", "latent", "auto")


#: Characters a spec name may hold: it is used in file names (``summary_M3.csv``, saved fits)
#: and tables. Letters, digits, ``_ - .``, spaces and the brackets of a prior-set label
#: (``M3[sceptical]``, see :meth:`ModelSpec.with_priors`).
_NAME_CHARACTERS = re.compile(r"[\w.\- \[\]]+")
#: Longest spec name accepted (file names have limits too).
_MAX_NAME_LENGTH = 100


def check_spec_name(name: str, *, source: str, what: str = "spec name") -> str:
    """Return ``name`` if it is safe in file names and tables, else raise SpecError.

    Allowed: letters, digits, ``_``, ``-``, ``.``, inner spaces and square brackets, at most
    100 characters, not starting with ``.`` and without ``..``. Refused: path separators,
    control characters and anything else a file name would have to escape.
    """
    problem = None
    if not name:
        problem = "is empty"
    elif len(name) > _MAX_NAME_LENGTH:
        problem = f"is longer than {_MAX_NAME_LENGTH} characters"
    elif not _NAME_CHARACTERS.fullmatch(name):
        bad = next(c for c in name if not _NAME_CHARACTERS.fullmatch(c))
        problem = f"holds the character {bad!r}"
    elif name.startswith(".") or ".." in name:
        problem = "starts with '.' or holds '..'"
    elif name != name.strip():
        problem = "starts or ends with a space"
    if problem:
        raise SpecError(
            f"{source}: the {what} {name!r} {problem}; it is used in file names, so use "
            "letters, digits, spaces, '_', '-', '.' and [ ] only (e.g. name = \"M3\")."
        )
    return name


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
    optional_roles : tuple of str
        Roles whose terms (and priors) are left out when the data lack them, instead of
        failing (module docstring).
    centring : str
        ``"observed"`` (default), ``"latent"`` or ``"auto"``: how the level-1 predictor is
        split into within and between parts (:mod:`ambidex_bayes.centring`).
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
    optional_roles: tuple[str, ...] = ()
    centring: str = "observed"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "<spec>") -> ModelSpec:
        """Validate a parsed spec file; unknown keys fail with a suggestion."""
        unknown = [k for k in d if k not in _SPEC_KEYS]
        if unknown:
            key = unknown[0]
            raise SpecError(
                f"{source}: unknown key {key!r}.{did_you_mean(key, _SPEC_KEYS)} "
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
                f"{source}: unknown family {family!r}.{did_you_mean(family, FAMILIES)} "
                f"Supported: {', '.join(FAMILIES)}."
            )
        for key in ("correlated", "include_controls"):
            if key in d and not isinstance(d[key], bool):
                raise SpecError(f"{source}: {key!r} must be true or false, got {d[key]!r}.")
        centring = d.get("centring", "observed")
        if centring not in CENTRINGS:
            raise SpecError(
                f"{source}: 'centring' must be one of {', '.join(CENTRINGS)}, got {centring!r}."
            )
        name = check_spec_name(d["name"].strip(), source=source)
        formula = " ".join(d["formula"].split())
        check_template(formula, source=source)
        optional = _optional_roles(d.get("optional_roles", ()), formula, source)
        raw_priors = d.get("priors", {}) or {}
        if not isinstance(raw_priors, Mapping):
            raise SpecError(f"{source}: [priors] must be a table.")
        for key in raw_priors:
            check_prior_key_roles(str(key), source)
        priors = {
            str(k): PriorSpec.from_dict(v, where=f"{source}: prior {k!r}")
            for k, v in raw_priors.items()
        }
        if "corr" in priors and priors["corr"].dist != "LKJ":
            raise SpecError(
                f"{source}: prior 'corr' must be an LKJ distribution, e.g. {{ dist = 'LKJ', eta = 2 }}."
            )
        spec = cls(
            name=name,
            formula=formula,
            title=str(d.get("title", "")),
            description=str(d.get("description", "")),
            family=family,
            correlated=bool(d.get("correlated", True)),
            include_controls=bool(d.get("include_controls", False)),
            priors=priors,
            source=source,
            optional_roles=optional,
            centring=centring,
        )
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
            "optional_roles": list(self.optional_roles),
            # observed centring is left out, so that the fingerprint of such specs is unchanged
            **({"centring": self.centring} if self.centring != "observed" else {}),
        }

    def fingerprint(self) -> str:
        """Hash of everything that changes the model (not the source path).

        ``optional_roles`` is left out: on given data the model is the same with or
        without it (without it, a spec whose roles the data lack cannot be fitted at all),
        so marking roles optional keeps the fingerprint, and saved fits, of a spec.
        """
        d = self.to_dict()
        d.pop("optional_roles")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    def missing_roles(self, fields: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """The roles of the formula the data lack: ``(required, optional)``, each sorted."""
        missing = sorted(self.placeholders() - set(fields))
        optional = [r for r in missing if r in self.optional_roles]
        return [r for r in missing if r not in self.optional_roles], optional

    def dropped_terms(self, fields: Mapping[str, str]) -> list[str]:
        """The formula's terms (as templates) left out because the data lack an optional
        role they use."""
        _, optional = self.missing_roles(fields)
        return [t for t in _terms(self.formula) if set(_roles_in(t)) & set(optional)]

    def adaptation_note(self, fields: Mapping[str, str]) -> str | None:
        """A sentence saying which terms are left out on these data, or None."""
        dropped = self.dropped_terms(fields)
        if not dropped:
            return None
        _, optional = self.missing_roles(fields)
        return (
            f"{self.name}: the data have no {', '.join('{' + r + '}' for r in optional)}, so "
            f"the term(s) {', '.join(dropped)} are left out of its formula."
        )

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
        name = self.name if label is None else f"{self.name}[{label}]"
        return ModelSpec(
            name=check_spec_name(name, source=self.source),
            formula=self.formula,
            title=self.title,
            description=self.description,
            family=self.family,
            correlated=self.correlated,
            include_controls=self.include_controls,
            priors=merged,
            source=self.source,
            optional_roles=self.optional_roles,
            centring=self.centring,
        )

    def render(
        self,
        fields: Mapping[str, str],
        *,
        controls: tuple[str, ...] = (),
        factors: Mapping[str, tuple[str, ...]] | None = None,
    ) -> str:
        """Fill the role placeholders with the prepared data's column names.

        Column names are written so that the formula reads each as one name (see
        :func:`ambidex_bayes.formula_guard.quote_name`): ``innovation`` stays as it is,
        ``Innovation (daily)`` is put in backticks. Controls are added to the fixed part,
        before the first person-effect term.

        A role (or control) whose column is a key of ``factors``
        (``PreparedData.formula_columns()``: factors and split controls) is written as its
        columns: the one contrast column of a two-level factor, else ``(c1 + c2 + ...)``
        (a split control: ``(c_cw + c_pm)``; as a control, each column is a term of its
        own); formulae expands ``x_cw:(c1 + c2)`` into ``x_cw:c1 + x_cw:c2``, so the
        posterior has the fixed effects ``c1``, ``x_cw:c1``, ...

        Raises
        ------
        SpecError
            When the formula uses a role the data do not have (e.g. ``{w}`` without a
            level-2 moderator in the column mapping), or a column name holds a backtick.
        """
        missing, _ = self.missing_roles(fields)
        if missing:
            role = missing[0]
            advice = ""
            if re.fullmatch(r"w\d*", role):
                advice = (
                    " A missing {" + role + "} means the column mapping declares no level-2 "
                    "moderator: add one (level2 = [...]) or fit a model without it (the "
                    "bundled M2 is the random-slope model, which needs no moderator)."
                )
            elif re.fullmatch(r"x\d*_between", role):
                advice = (
                    " A missing {" + role + "} means the level-1 predictor has no "
                    "between-person part (its person means are the same for everyone)."
                )
            raise SpecError(
                f"{self.source}: the formula uses {{{role}}}, but the data have no such role."
                f"{did_you_mean(role, list(fields))} Available roles: {', '.join(sorted(fields))}."
                + advice
            )
        template = self.formula
        if self.dropped_terms(fields):
            lhs, _ = split_top_level(template, "~")
            dropped = set(self.dropped_terms(fields))
            kept = [t for t in _terms(template) if t not in dropped]
            template = f"{lhs.rstrip()} ~ {' + '.join(kept) if kept else '1'}"
        used = _roles_in(template)
        factors = factors or {}

        def written(column: str, role: str) -> str:
            if column not in factors:
                return _quoted(column, role, self.source)
            names = [_quoted(c, role, self.source) for c in factors[column]]
            return names[0] if len(names) == 1 else "(" + " + ".join(names) + ")"

        formula = template.format(**{k: written(v, k) for k, v in fields.items() if k in used})
        if self.include_controls and controls:
            lhs, rhs = split_top_level(formula, "~")
            terms = [t.strip() for t in split_top_level(rhs, "+")]
            first_group = next((i for i, t in enumerate(terms) if is_group_term(t)), len(terms))
            extra = [
                _quoted(n, "control", self.source)
                for c in controls
                for n in (factors[c] if c in factors else (c,))
            ]
            terms[first_group:first_group] = extra
            formula = f"{lhs.rstrip()} ~ {' + '.join(terms)}"
        return formula

    def render_priors(
        self,
        fields: Mapping[str, str],
        *,
        factors: Mapping[str, tuple[str, ...]] | None = None,
    ) -> dict[str, PriorSpec]:
        """Prior overrides with role placeholders filled in.

        A key using a factor role (its column a key of ``factors``) applies to each of the
        factor's terms: ``"{x_within}:{w}"`` with ``{w}`` coded as ``c1, c2`` gives the keys
        ``"x_cw:c1"`` and ``"x_cw:c2"``.
        """
        factors = factors or {}
        _, optional = self.missing_roles(fields)
        out = {}
        for key, prior in self.priors.items():
            if set(_roles_in(key)) & set(optional):
                continue  # a prior on a term left out (optional role the data lack)
            try:
                roles = [r for r in dict.fromkeys(re.findall(r"\{([^{}]*)\}", key))]
                choices = [
                    factors.get(fields[r], (fields[r],)) if r in fields else (None,) for r in roles
                ]
                for combination in itertools.product(*choices):
                    filled = {
                        r: v for r, v in zip(roles, combination, strict=True) if v is not None
                    }
                    out[key.format(**{**fields, **filled})] = prior
            except KeyError as err:
                raise SpecError(
                    f"{self.source}: prior key {key!r} uses the role {err.args[0]!r}, which the "
                    f"data do not have. Available roles: {', '.join(sorted(fields))}."
                ) from None
        return out


def _roles_in(text: str) -> list[str]:
    """The role placeholders of a template, in order of first use."""
    return list(dict.fromkeys(re.findall(r"\{([^{}]*)\}", text)))


def _terms(formula: str) -> list[str]:
    """The top-level ``+`` terms of a formula's right-hand side, stripped."""
    _, rhs = split_top_level(formula, "~")
    return [t.strip() for t in split_top_level(rhs, "+")]


def _optional_roles(value: Any, formula: str, source: str) -> tuple[str, ...]:
    """Check ``optional_roles``: a list of role names the formula uses (not y or person)."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SpecError(
            f"{source}: 'optional_roles' must be a list of role names, e.g. "
            f'optional_roles = ["w", "x_between"]; got {value!r}.'
        )
    used = _roles_in(formula)
    out = []
    for role in value:
        if not isinstance(role, str) or role not in used:
            raise SpecError(
                f"{source}: optional role {role!r} is not a role of the formula."
                f"{did_you_mean(str(role), used)} The formula uses: {', '.join(used)}."
            )
        if role in ("y", "person"):
            raise SpecError(f"{source}: the role {role!r} cannot be optional.")
        out.append(role)
    return tuple(dict.fromkeys(out))


def _quoted(name: str, role: str, source: str) -> str:
    """A column name written for a formula; a name that cannot be is a SpecError."""
    try:
        return quote_name(name)
    except SpecError as err:
        raise SpecError(f"{source}: the role {{{role}}}: {err}") from None


def check_prior_key_roles(key: str, source: str) -> None:
    """Refuse a prior key whose placeholders are not role names (``{x.y}``, ``{0}``, ``{}``):
    keys are filled in with ``str.format``."""
    found = re.findall(r"\{([^{}]*)\}", key)
    bad = [p for p in found if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p)]
    if bad:
        raise SpecError(f"{source}: prior key {key!r}: {{{bad[0]}}} is not a role name.")


def _read_toml(path: Path, what: str = "spec") -> dict[str, Any]:
    if path.is_dir():
        raise SpecError(
            f"{path}: is a folder, not a {what} file; give the path of a .toml file"
            + (" (or a bundled name such as M3)." if what == "spec" else ".")
        )
    if not path.exists():
        raise SpecError(f"{path}: no such {what} file.")
    from ambidex_bayes.toml_text import decode_toml_bytes

    try:
        # UTF-8 with or without a byte-order mark, or UTF-16 (Windows Notepad)
        return tomllib.loads(decode_toml_bytes(path.read_bytes(), path))
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: not valid TOML ({err}).") from None
    except OSError as err:
        raise SpecError(f"{path}: cannot read the {what} file ({err.strerror or err}).") from None


def models_dir() -> Path:
    """The bundled ``ambidex_bayes/models/`` folder (specs and prior sets).

    It ships inside the package, so a built wheel installed anywhere finds the ladder
    ``M0`` ... ``M3`` and the prior sets by name.
    """
    return Path(__file__).resolve().parent / "models"


def load_spec(path: str | Path) -> ModelSpec:
    """Read and validate one model spec file.

    Parameters
    ----------
    path : str or Path
        A spec file (TOML), or the bare name (``"M3"`` or ``"m3_cross_level"``) of a spec
        bundled in ``ambidex_bayes/models/``.

    Returns
    -------
    ModelSpec
        The model's name, formula template (roles in braces, filled in from the column
        mapping), title, priors and family.

    Raises
    ------
    SpecError
        The file is missing or not valid TOML, or its content is not a valid spec (the
        message names the file and the field).

    Examples
    --------
    >>> spec = ab.load_spec("M3")
    >>> spec.name
    'M3'
    >>> spec.formula
    '{y} ~ 1 + {x_within} + {x_between} + {w} + {x_within}:{w} + ({x_within} | {person})'
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
