"""A fitted model as one object: :class:`FitResult`, saved to and loaded from one file.

Every route that samples (:func:`ambidex_bayes.fit.fit`, prior comparisons, power and SBC
runs) returns a :class:`FitResult`; :func:`load_fit` reads one back. The file holds the
posterior groups, the prepared data and, as attributes, the spec, formula, priors, the roles
of the posterior variables and the fit's metadata (see
:func:`ambidex_bayes.engine.cache.fit_meta`).

The draws of the person effects (chains x draws x persons per effect, most of a large
fit's memory) can stay in the file: :meth:`FitResult.load` with ``person_effects=False``
leaves them there, and :meth:`FitResult.hold_person_effects_on_disk` lets a fit just saved
drop its copy in memory (the fit cache does both, see
:class:`ambidex_bayes.engine.cache.CacheEntry`). Either way they are read from the file
whenever used, the same numbers as the copy in memory, so a job of many fits holds at once
only the draws it is working on.

Loading a fit and reading its posterior needs neither PyMC nor Bambi: the model-building
modules are imported only where a model is built (:attr:`FitResult.built`) or its formulas
are checked (:meth:`FitResult.load`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from ambidex_bayes.diagnostics import ConvergenceReport, check_convergence
from ambidex_bayes.engine.fit_file import check_fit_records
from ambidex_bayes.errors import FitFileError, SpecError
from ambidex_bayes.prepared_data import PreparedData
from ambidex_bayes.spec import ModelSpec
from ambidex_bayes.store import (
    PARTIAL_ROWS_GROUP,
    copy_file,
    dataset_to_frame,
    frame_to_dataset,
    load_datatree,
    partial_rows_parts,
    restore_partial_rows,
    save_datatree,
)
from ambidex_bayes.terms import ModerationTerms

if TYPE_CHECKING:
    import bambi
    import pandas as pd

    from ambidex_bayes.model.build import BuiltModel

__all__ = ["FitResult", "load_fit"]


@dataclass
class FitResult:
    """A fitted model: spec, prepared data, the models and the posterior.

    Attributes
    ----------
    spec : ModelSpec
    prepared : PreparedData
    idata : xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood``.
    terms : ModerationTerms
        Which posterior variable plays which role.
    formula : str
        The formula with the data's column names.
    priors : dict
        Every prior used, with its source (spec, Bambi's data-scaled default, ...).
    meta : dict
        Sampler settings, seed, package versions, data hash, timings.
    convergence : ConvergenceReport
    path : Path or None
        Where the fit is saved.
    """

    spec: ModelSpec
    prepared: PreparedData
    idata: xr.DataTree
    terms: ModerationTerms
    formula: str
    priors: dict[str, dict[str, Any]]
    meta: dict[str, Any]
    convergence: ConvergenceReport
    path: Path | None = None
    _built: BuiltModel | None = field(default=None, repr=False)

    @classmethod
    def from_model(
        cls,
        built: BuiltModel,
        prepared: PreparedData,
        idata: xr.DataTree,
        *,
        meta: dict[str, Any],
        convergence: ConvergenceReport,
        keep_model: bool = True,
    ) -> FitResult:
        """The fit of ``built`` (spec, roles, formula and priors come from it).

        Parameters
        ----------
        built : BuiltModel
            The model that was sampled.
        prepared : PreparedData
        idata : xarray.DataTree
            The completed posterior (log-likelihood added, internal variables dropped).
        meta : dict
            From :func:`ambidex_bayes.engine.cache.fit_meta`.
        convergence : ConvergenceReport
        keep_model : bool
            Keep ``built`` for :attr:`built`; ``False`` rebuilds it on first use (for a model
            whose prior values are changed afterwards, see :mod:`ambidex_bayes.engine.reuse`).
        """
        return cls(
            spec=built.spec,
            prepared=prepared,
            idata=idata,
            terms=built.terms,
            formula=built.formula,
            priors=built.priors,
            meta=meta,
            convergence=convergence,
            _built=built if keep_model else None,
        )

    @property
    def built(self) -> BuiltModel:
        """The Bambi and PyMC models (rebuilt on demand after loading; no sampling)."""
        if self._built is None:
            from ambidex_bayes.model.build import build_model

            self._built = build_model(self.spec, self.prepared)
        return self._built

    @property
    def bambi_model(self) -> bambi.Model:
        """Bambi's model of the formula, for ``predict`` and ``bambi.interpret``."""
        return self.built.bambi_model

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset."""
        return self.idata["posterior"].to_dataset()

    def prior_table(self) -> pd.DataFrame:
        """Every prior actually used (as brms' ``prior_summary``)."""
        from ambidex_bayes.model.prior_choice import prior_table

        return prior_table(self.priors)

    def save(self, path: str | Path) -> Path:
        """Save to one NetCDF file, atomically.

        Person effects held on disk (:meth:`hold_person_effects_on_disk`) are written too;
        they are read from their file as before, from the new one when it replaced theirs.
        """
        tree = self.idata.copy()
        tree["prepared_data"] = xr.DataTree(
            frame_to_dataset(self.prepared.frame.reset_index(drop=True), "__prepared_row__")
        )
        tree["person_means"] = xr.DataTree(
            frame_to_dataset(self.prepared.person_means, "__person__")
        )
        partial_rows, partial_record = partial_rows_parts(self.prepared)
        if partial_rows is not None:
            tree[PARTIAL_ROWS_GROUP] = xr.DataTree(partial_rows)
        prepared_meta = self.prepared.to_dict()
        prepared_meta.pop("person_means", None)
        attrs = {
            "spec": self.spec.to_dict(),
            "spec_source": self.spec.source,
            "formula": self.formula,
            "priors": self.priors,
            "terms": self.terms.to_dict(),
            "meta": self.meta,
            "prepared": prepared_meta,
            "convergence": self.convergence.to_dict(),
            "partial_rows": partial_record,
        }
        sources = self._person_effect_files()
        self.path = save_datatree(tree, path, attrs)
        if self.path.resolve() in sources:  # their file was replaced: read the new one
            self.hold_person_effects_on_disk()
        return self.path

    def hold_person_effects_on_disk(self) -> tuple[str, ...]:
        """Drop the person effects' draws from memory; read them from the fit's file on use.

        For a fit just saved (or loaded): each person-effect variable of the posterior is
        replaced by the same variable of :attr:`path`, read from the file whenever it is
        used (those already read from a file are pointed at :attr:`path`). Their values
        are the same (the file holds them as written), so every result computed from them
        is unchanged; the file must then stay in place (a changed or removed file is
        refused when the draws are read, with a :class:`~ambidex_bayes.errors.FitFileError`
        saying to load the fit again).

        Returns
        -------
        tuple of str
            The variables now held on disk (empty for a fit without a file or without
            person effects).

        Raises
        ------
        FitFileError
            The file does not hold those variables as the fit does (same dims and shape).
        """
        from ambidex_bayes.fit_reader import disk_variables

        if self.path is None or "posterior" not in self.idata.children:
            return ()
        posterior = self.idata["posterior"].to_dataset()
        names = _person_effect_names(posterior)
        if not names:
            return ()
        held = disk_variables(self.path, "posterior", names)
        for name, variable in held.items():
            mine = posterior[name].variable
            if variable.dims != mine.dims or variable.shape != mine.shape:
                raise FitFileError(
                    f"{self.path}: the file's {name!r} ({variable.dims}, {variable.shape}) is "
                    f"not the fit's ({mine.dims}, {mine.shape}); save the fit again."
                )
            posterior[name] = variable.copy(deep=False)
            posterior[name].attrs = dict(mine.attrs)
        self.idata["posterior"] = xr.DataTree(posterior)
        return names

    def _person_effect_files(self) -> set[Path]:
        """The files (resolved) the person effects are read from on use."""
        from ambidex_bayes.fit_reader import disk_file

        if "posterior" not in self.idata.children:
            return set()
        posterior = self.idata["posterior"].to_dataset()
        files = (disk_file(posterior[name].variable) for name in _person_effect_names(posterior))
        return {f.resolve() for f in files if f is not None}

    def save_copy(self, path: str | Path) -> Path:
        """Save to ``path`` by copying the file the fit was saved to or loaded from.

        The file at :attr:`path` is copied byte for byte (atomically; a hard link where the
        file system allows it, see :func:`ambidex_bayes.store.copy_file`), which is much
        faster than :meth:`save` for a large fit, since nothing is encoded or written again. Meant for a fit
        that is unchanged since it was saved or loaded, as the ``fit`` command's result,
        which is saved in the cache folder first; a fit without a file is saved with
        :meth:`save`.

        Returns
        -------
        Path
            ``path``, now also :attr:`path`.
        """
        if self.path is None or not self.path.is_file():
            return self.save(path)
        self.path = copy_file(self.path, path)
        return self.path

    @classmethod
    def load(
        cls, path: str | Path, *, log_likelihood: bool = True, person_effects: bool = True
    ) -> FitResult:
        """Load a fit saved by :meth:`save`; corrupt or foreign files raise FitFileError.

        Parameters
        ----------
        path : path
        log_likelihood : bool
            Read the pointwise log-likelihood (needed for LOO and model comparison). It is
            the largest part of a fit file; a summary of the posterior does without it.
        person_effects : bool
            Read the draws of the person effects (a draw per person, the largest part of
            the posterior). ``False`` leaves them in the file, read on first use (the file
            must then stay in place); the summary table and the convergence report do not
            use them.
        """
        skip = () if log_likelihood else ("log_likelihood",)
        lazy = None if person_effects else _person_effect
        tree, attrs = load_datatree(path, skip=skip, lazy=lazy)
        unread = () if person_effects else _unread_posterior(tree)
        check_fit_records(path, tree, unread=unread)
        frame = dataset_to_frame(tree["prepared_data"].to_dataset(), "__prepared_row__")
        frame.index = range(len(frame))
        person_means = dataset_to_frame(tree["person_means"].to_dataset(), "__person__")
        prepared_meta = dict(attrs["prepared"])
        prepared_meta["person_means"] = {
            "index": [str(i) for i in person_means.index],
            "columns": {str(c): person_means[c].tolist() for c in person_means.columns},
        }
        prepared = PreparedData.from_dict(prepared_meta, frame=frame)
        prepared = restore_partial_rows(prepared, tree, attrs.get("partial_rows"), attrs["meta"])
        idata = tree.copy()
        for group in ("prepared_data", "person_means", PARTIAL_ROWS_GROUP):
            if group in idata.children:
                del idata[group]
        from ambidex_bayes.model.formula import check_saved_formulas

        try:  # the stored formulas are code for formulae: check them before any use
            spec = ModelSpec.from_dict(attrs["spec"], source=attrs.get("spec_source", "<spec>"))
            check_saved_formulas(spec, prepared, attrs.get("formula", ""))
        except SpecError as err:
            raise FitFileError(
                f"{path}: the fit file is refused, its model formula is not safe to use: {err} "
                "Fit the model again from its spec file and data."
            ) from None
        convergence = check_convergence(idata, warn=False)
        return cls(
            spec=spec,
            prepared=prepared,
            idata=idata,
            terms=ModerationTerms.from_dict(attrs["terms"]),
            formula=attrs.get("formula", ""),
            priors=attrs.get("priors", {}),
            meta=attrs["meta"],
            convergence=convergence,
            path=Path(path),
        )


def _person_effect(group: str, dims: tuple[str, ...]) -> bool:
    """Whether a variable of ``group`` with ``dims`` holds person effects (a factor's levels,
    see :func:`ambidex_bayes.diagnostics.parameter_names`)."""
    return group == "posterior" and any(d.endswith("__factor_dim") for d in dims)


def _person_effect_names(posterior: xr.Dataset) -> tuple[str, ...]:
    """The person-effect variables of a posterior (see :func:`_person_effect`)."""
    return tuple(
        str(name)
        for name, var in posterior.data_vars.items()
        if _person_effect("posterior", tuple(str(d) for d in var.dims))
    )


def _unread_posterior(tree: xr.DataTree) -> tuple[str, ...]:
    """The posterior variables :func:`_person_effect` left in the file."""
    if "posterior" not in tree.children:
        return ()
    return _person_effect_names(tree["posterior"].to_dataset())


def load_fit(
    path: str | Path, *, log_likelihood: bool = True, person_effects: bool = True
) -> FitResult:
    """Load a saved fit (see :meth:`FitResult.load`).

    Parameters
    ----------
    path : str or Path
        A fit file written by :meth:`FitResult.save` (or ``ambidex-bayes fit --out``).
    log_likelihood : bool
        Read the pointwise log-likelihood (needed for LOO and model comparison); ``False``
        skips the largest part of the file when only the posterior is needed.
    person_effects : bool
        Read the draws of the person effects now; ``False`` reads them from the file on
        first use (for a summary, which does not use them).

    Returns
    -------
    FitResult

    Raises
    ------
    FitFileError
        The file is missing, unreadable, truncated or corrupt, of another format version,
        or not a fit of this toolkit; its structure and stored formulas are checked before
        anything in it is used.

    Examples
    --------
    >>> path = m3.save(tmp / "m3.nc")
    >>> again = ab.load_fit(path)
    >>> again.spec.name, again.posterior.sizes["draw"]
    ('M3', 200)
    """
    return FitResult.load(path, log_likelihood=log_likelihood, person_effects=person_effects)
