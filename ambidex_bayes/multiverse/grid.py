"""The grid of a multiverse: which analyses to run, typed and checked before any fit.

A multiverse (Steegen et al., 2016) runs the same model under every combination of the
choices an analyst could defensibly have made, so that a reader sees how much the key
estimate depends on them. The grid here is the product

.. math::

    \\text{data sets} \\times \\text{prior sets} \\times \\text{centring}
    \\times \\text{controls} \\times \\text{detrend} \\times \\text{standardize},

each dimension a tuple of its values (one value: the dimension is held fixed). One *cell*
is one combination; it is fitted once (:mod:`.cells`) and becomes one row of the table
(:mod:`.run`).

Centring
--------
``"observed"``
    Each level-1 predictor is split into its deviation from the person's observed mean and
    that mean (:func:`ambidex_bayes.prepare.prepare`).
``"latent"``
    The person means are parameters of the model (latent person-mean centring, as in Mplus;
    :mod:`ambidex_bayes.centring`), for the models and preparations latent centring serves
    (:func:`ambidex_bayes.centring.latent_unavailable_reason`: M1-M3 with one level-1
    predictor and at most one numeric moderator, on the unstandardised, undetrended
    predictor); :func:`~ambidex_bayes.multiverse.run.check_inputs` refuses, before any fit, a
    grid whose latent cells it cannot fit. The cell's prior set applies to the parameters
    the latent model shares with the observed one; the predictor model's own keep their
    weakly informative defaults, scaled by the data
    (:mod:`ambidex_bayes.model.latent_priors`).
``"auto"``
    Latent centring where the reliability of the observed person means is below 0.7 and
    latent centring can fit the cell, observed centring otherwise; the table's
    ``centring_used`` says which.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ambidex_bayes import constants
from ambidex_bayes.design.tasks import RunConfig, Task, default_backend
from ambidex_bayes.engine.limits import sampler_problems
from ambidex_bayes.errors import SpecError

__all__ = [
    "CENTRINGS",
    "UNITS",
    "DataSet",
    "MultiverseConfig",
    "Cell",
    "multiverse_cells",
    "multiverse_tasks",
]

#: The centrings a cell can use, each with what it means.
CENTRINGS: dict[str, str] = {
    "observed": "person means as observed (within-person deviations from them)",
    "latent": "person means as parameters of the model (latent centring, M1-M3)",
    "auto": "latent centring where the observed person means are unreliable (below 0.7)",
}

#: Units of the key estimates: the raw variables' (``original``), or the prepared columns'
#: the model was fitted on (``model``: standardised units when the cell standardises).
UNITS: tuple[str, ...] = ("original", "model")

#: The grid's dimensions, in the order cells are listed (the slowest-varying first).
DIMENSIONS: tuple[str, ...] = (
    "dataset",
    "priors",
    "centring",
    "controls",
    "detrend",
    "standardize",
)


@dataclass(frozen=True)
class DataSet:
    """One data set of the grid: a diary file and its column mapping.

    Parameters
    ----------
    path : str
        The diary file (CSV, Parquet, Excel, SPSS ``.sav``). On a remote Dask cluster the
        workers read it, so it must be reachable under this path there too.
    mapping : str or dict
        The column-mapping TOML file, or the mapping itself (a dict as
        :meth:`ambidex_bayes.data.ColumnMapping.to_dict` gives it, or a ``ColumnMapping``).
    label : str, optional
        Its name in the table and the figure (default: the file name without suffix).
    sheet : str or int, optional
        Excel only: the sheet.
    """

    path: str
    mapping: str | Mapping[str, Any]
    label: str | None = None
    sheet: str | int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", os.fspath(self.path))
        mapping = self.mapping
        if hasattr(mapping, "to_dict"):  # a ColumnMapping
            mapping = mapping.to_dict()
        elif isinstance(mapping, os.PathLike):
            mapping = os.fspath(mapping)
        elif isinstance(mapping, Mapping):
            mapping = dict(mapping)
        object.__setattr__(self, "mapping", mapping)

    @property
    def name(self) -> str:
        """The label, or the file name without its suffix."""
        return self.label or Path(self.path).stem

    def column_mapping(self) -> Any:
        """The :class:`~ambidex_bayes.data.ColumnMapping` (read from its file if a path)."""
        from ambidex_bayes.data import ColumnMapping

        if isinstance(self.mapping, str):
            return ColumnMapping.from_toml(self.mapping)
        return ColumnMapping.from_dict(self.mapping, source=f"mapping of {self.name}")


def _data_set(value: DataSet | Mapping[str, Any]) -> DataSet:
    if isinstance(value, DataSet):
        return value
    if isinstance(value, Mapping):
        return DataSet(**dict(value))
    raise SpecError(
        f"each data set must be a DataSet(path, mapping), got {type(value).__name__}: {value!r}"
    )


@dataclass(frozen=True)
class MultiverseConfig(RunConfig):
    """Everything that defines a multiverse (its result folder refuses any other).

    Parameters
    ----------
    datasets : tuple of DataSet
        The data sets, each with its column mapping.
    priors : tuple of str
        Prior sets, by bundled name (``default``, ``weakly_informative``, ``informative``,
        ``sceptical``) or file.
    centring : tuple of str
        Centrings (see :data:`CENTRINGS`): ``"observed"``, ``"latent"``, ``"auto"``.
    controls : tuple of bool
        Without (False) and/or with (True) the mapping's day-level controls in the model.
    detrend, standardize : tuple of bool
        The options of :func:`ambidex_bayes.prepare.prepare` to try.
    spec : str
        The model every cell fits (name or file); it needs a within-person slope, and its
        cross-level interaction is the key estimate.
    units : {"original", "model"}
        Units of the key estimates (see :data:`UNITS`). In original units the cells that
        standardise and those that do not report the same quantity.
    backend, draws, tune, chains, target_accept, seed
        Sampler settings of every fit (defaults: those of a single analysis). Every cell
        uses the same seed, so that the choices are all that differ between two cells.
    prob : float
        Width of the credible intervals.
    """

    datasets: tuple[DataSet, ...] = ()
    priors: tuple[str, ...] = ("default",)
    centring: tuple[str, ...] = ("observed",)
    controls: tuple[bool, ...] = (False,)
    detrend: tuple[bool, ...] = (False,)
    standardize: tuple[bool, ...] = (False,)
    spec: str = "M3"
    units: str = "original"
    backend: str = field(default_factory=default_backend)
    draws: int = field(default_factory=lambda: constants.DRAWS)
    tune: int = field(default_factory=lambda: constants.TUNE)
    chains: int = field(default_factory=lambda: constants.CHAINS)
    target_accept: float = field(default_factory=lambda: constants.TARGET_ACCEPT)
    seed: int = constants.SEED
    prob: float = field(default_factory=lambda: constants.CI_PROB)

    def __post_init__(self) -> None:
        if isinstance(self.datasets, DataSet | Mapping):
            object.__setattr__(self, "datasets", (self.datasets,))
        object.__setattr__(self, "datasets", tuple(_data_set(d) for d in self.datasets))
        for name in ("priors", "centring", "controls", "detrend", "standardize"):
            value = getattr(self, name)
            if isinstance(value, str | bool | os.PathLike):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(
            self,
            "priors",
            tuple(os.fspath(p) if isinstance(p, os.PathLike) else p for p in self.priors),
        )
        problems = _config_problems(self)
        if problems:
            raise SpecError(
                "Invalid multiverse:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nFix the named choice(s) and run again."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with a SHA-256 of every input file: a result folder refuses to resume
        with data that changed since its run began."""
        values = asdict(self)
        values["input_sha256"] = [_file_digest(d) for d in self.datasets]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MultiverseConfig:
        """Inverse of :meth:`to_dict` (the digests are recomputed, not read)."""
        kept = {k: v for k, v in values.items() if k != "input_sha256"}
        return cls(**kept)

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        """Each dimension of the grid and its values (data sets and prior sets by label)."""
        return {
            "dataset": tuple(_labels([d.name for d in self.datasets])),
            "priors": tuple(_labels([_prior_name(p) for p in self.priors])),
            "centring": self.centring,
            "controls": self.controls,
            "detrend": self.detrend,
            "standardize": self.standardize,
        }


def _file_digest(dataset: DataSet) -> str:
    """SHA-256 of the data file (and the mapping file, if any); empty for a missing file."""
    digest = hashlib.sha256()
    paths = [dataset.path] + ([dataset.mapping] if isinstance(dataset.mapping, str) else [])
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return ""
    return digest.hexdigest()


def _prior_name(source: str) -> str:
    """A prior set's label: its bundled name, or its file's name without the suffix."""
    return Path(source).stem if source else source


def _labels(names: Sequence[str]) -> list[str]:
    """``names`` made unique: a repeated name gets its position (``diary#2``)."""
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{name}#{i + 1}" if seen[name] > 1 else name for i, name in enumerate(names)]


def _flags(name: str, values: tuple[Any, ...]) -> list[str]:
    if not values:
        return [f"{name}: give at least one value (False, True or both)"]
    bad = [v for v in values if not isinstance(v, bool)]
    if bad:
        return [f"{name}: the values must be True or False, got {bad[0]!r}"]
    if len(set(values)) != len(values):
        return [f"{name}: each value once, got {list(values)}"]
    return []


def _config_problems(c: MultiverseConfig) -> list[str]:
    problems = []
    if not c.datasets:
        problems.append("datasets: give at least one DataSet(path, mapping)")
    for d in c.datasets:
        if not d.path:
            problems.append("datasets: a data set has an empty path")
        if not isinstance(d.mapping, str | dict) or not d.mapping:
            problems.append(f"datasets: {d.name} needs a column mapping (a file or a dict)")
    if not c.priors:
        problems.append("priors: give at least one prior set (e.g. 'default')")
    elif any(not isinstance(p, str) or not p.strip() for p in c.priors):
        problems.append(f"priors: prior sets are names or files, got {list(c.priors)}")
    elif len(set(c.priors)) != len(c.priors):
        problems.append(f"priors: each prior set once, got {list(c.priors)}")
    if not c.centring:
        problems.append(f"centring: give at least one of {', '.join(CENTRINGS)}")
    for value in c.centring:
        if value not in CENTRINGS:
            known = "; ".join(f"{k!r}: {v}" for k, v in CENTRINGS.items())
            problems.append(f"centring: unknown value {value!r}. Available: {known}.")
    if len(set(c.centring)) != len(c.centring):
        problems.append(f"centring: each value once, got {list(c.centring)}")
    for name in ("controls", "detrend", "standardize"):
        problems.extend(_flags(name, getattr(c, name)))
    if not isinstance(c.spec, str) or not c.spec.strip():
        problems.append("spec: give a model spec (a name such as M3, or a file)")
    if c.units not in UNITS:
        problems.append(f"units: {c.units!r} is not one of {', '.join(UNITS)}")
    if not isinstance(c.prob, int | float) or not 0 < c.prob < 1 or not math.isfinite(c.prob):
        problems.append(f"prob must lie between 0 and 1, got {c.prob}")
    problems.extend(
        sampler_problems(
            {
                "backend": c.backend,
                "draws": c.draws,
                "tune": c.tune,
                "chains": c.chains,
                "seed": c.seed,
                "target_accept": c.target_accept,
            }
        )
    )
    return problems


@dataclass(frozen=True)
class Cell:
    """One analysis of the grid: a value of every dimension.

    Attributes
    ----------
    dataset_index, priors_index : int
        Positions in ``config.datasets`` and ``config.priors``.
    dataset, priors : str
        Their labels (unique within the grid).
    prior_source : str
        The prior set's name or file, as given.
    centring : str
    controls, detrend, standardize : bool
    """

    dataset_index: int
    dataset: str
    priors_index: int
    priors: str
    prior_source: str
    centring: str
    controls: bool
    detrend: bool
    standardize: bool

    @property
    def cell_id(self) -> str:
        """A stable id: the positions and values of the choices (``d01-p02-observed-c0-t1-s0``
        for data set 1, prior set 2, observed centring, no controls, detrended, not
        standardised)."""
        return (
            f"d{self.dataset_index + 1:02d}-p{self.priors_index + 1:02d}-{self.centring}"
            f"-c{int(self.controls)}-t{int(self.detrend)}-s{int(self.standardize)}"
        )

    @property
    def label(self) -> str:
        """The choices in words: ``diary | sceptical | observed | controls: no | ...``."""
        yes = {True: "yes", False: "no"}
        return (
            f"{self.dataset} | {self.priors} | {self.centring} | controls: "
            f"{yes[self.controls]} | detrend: {yes[self.detrend]} | standardize: "
            f"{yes[self.standardize]}"
        )

    def choices(self) -> dict[str, Any]:
        """The cell's value of each dimension (the table's first columns)."""
        return {
            "cell": self.cell_id,
            "dataset": self.dataset,
            "priors": self.priors,
            "centring": self.centring,
            "controls": self.controls,
            "detrend": self.detrend,
            "standardize": self.standardize,
        }


def multiverse_cells(config: MultiverseConfig) -> list[Cell]:
    """Every cell of the grid, in grid order (data sets vary slowest, standardize fastest).

    Parameters
    ----------
    config : MultiverseConfig

    Returns
    -------
    list of Cell
        :math:`n_\\text{data} \\cdot n_\\text{priors} \\cdot n_\\text{centring} \\cdot
        n_\\text{controls} \\cdot n_\\text{detrend} \\cdot n_\\text{standardize}` cells.
    """
    dims = config.dimensions()
    cells = []
    for (d, dataset), (p, priors), centring, controls, detrend, standardize in itertools.product(
        enumerate(dims["dataset"]),
        enumerate(dims["priors"]),
        config.centring,
        config.controls,
        config.detrend,
        config.standardize,
    ):
        cells.append(
            Cell(
                dataset_index=d,
                dataset=dataset,
                priors_index=p,
                priors=priors,
                prior_source=config.priors[p],
                centring=centring,
                controls=controls,
                detrend=detrend,
                standardize=standardize,
            )
        )
    return cells


def multiverse_tasks(config: MultiverseConfig) -> list[Task]:
    """One task per cell (id :attr:`Cell.cell_id`, the run's seed, the cell's choices)."""
    return [
        Task(
            task_id=cell.cell_id,
            seed=int(config.seed),
            params={**asdict(cell), "label": cell.label},
        )
        for cell in multiverse_cells(config)
    ]
