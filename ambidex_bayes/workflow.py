"""The whole analysis in one call: data in, report folder out.

:func:`report` is :func:`ambidex_bayes.pipeline.run_analysis` (load, validate, prepare, fit
the model ladder, summarise) followed by :func:`ambidex_bayes.report.write_report`
(Markdown, figures, tables), as ``ambidex-bayes run`` does. Given an
:class:`~ambidex_bayes.pipeline.Analysis` made earlier, it only writes the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ambidex_bayes.pipeline import Analysis, run_analysis

if TYPE_CHECKING:
    import pandas as pd

    from ambidex_bayes.data import ColumnMapping
    from ambidex_bayes.fit import SamplerSettings
    from ambidex_bayes.spec import ModelSpec

__all__ = ["report"]


def report(
    source: str | os.PathLike[str] | pd.DataFrame | Analysis,
    out_dir: str | os.PathLike[str],
    *,
    mapping: ColumnMapping | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    specs: Sequence[ModelSpec] | None = None,
    settings: SamplerSettings | None = None,
    detrend: bool = False,
    standardize: bool = False,
    moderator_values: Sequence[float] | None = None,
    cache_dir: str | os.PathLike[str] | bool | None = None,
    sheet: str | int | None = None,
    title: str | None = None,
    progressbar: bool = True,
    verbose: bool = True,
    centring: str | None = None,
) -> Path:
    """Run the analysis of a diary data set and write its report folder.

    Parameters
    ----------
    source : path, DataFrame or Analysis
        The diary data (CSV, Parquet, Excel, SPSS ``.sav``), or an analysis from
        :func:`~ambidex_bayes.pipeline.run_analysis` or
        :func:`~ambidex_bayes.pipeline.analysis_from_fits`, whose report is then written
        without fitting anything.
    out_dir : path
        The report folder: a new path, an empty folder or a report written earlier (it is
        replaced as a whole; see :func:`ambidex_bayes.report.write_report`).
    mapping : ColumnMapping, dict or path
        Which column plays which role (a mapping TOML file, a dict or a
        :class:`~ambidex_bayes.data.ColumnMapping`); needed unless ``source`` is an analysis.
    specs : sequence of ModelSpec, optional
        Models to fit; default the bundled ladder M0 -> M3.
    settings : SamplerSettings, optional
        Backend, draws, tuning steps, chains and seed of every fit.
    detrend, standardize : bool
        Passed to :func:`ambidex_bayes.prepare.prepare`.
    moderator_values : sequence of float, optional
        Raw moderator values of the simple slopes (default mean and ±1 SD over persons).
    cache_dir : path or False, optional
        Folder of saved fits (default ``constants.CACHE_DIR``); fits of the same inputs are
        loaded from it instead of sampled. ``False`` neither reads nor writes saved fits.
    sheet : str or int, optional
        Excel only: sheet name or 0-based position.
    title : str, optional
        Title of ``report.md``.
    progressbar, verbose : bool
        Show the sampler's progress bar; print the data's compliance, notes and the
        convergence reports.
    centring : {"observed", "latent", "auto"}, optional
        Person-mean centring of the level-1 predictor in every model that has one (M1-M3 of
        the ladder; M0 is fitted as it is); default each spec's own (``"auto"`` for the
        bundled M1-M3, ``"observed"`` for spec files without a ``centring`` key). See
        :func:`ambidex_bayes.pipeline.run_analysis`. The report states each model's centring.

    Returns
    -------
    Path
        The report file, ``out_dir/report.md``; figures are in ``out_dir/figures``, tables
        in ``out_dir/tables``.

    Raises
    ------
    AmbidexError
        ``mapping`` is missing for a data source, or is given with an analysis.
    OutputError
        ``out_dir`` may not be replaced, or cannot be written (checked before fitting).

    Examples
    --------
    The model ladder's last rung on the bundled example (``settings`` and ``cache`` are
    those ``m3`` was fitted with, so the fit is read from the cache):

    >>> path = ab.report(
    ...     ab.example_path(),
    ...     tmp / "report",
    ...     mapping=ab.example_mapping_path(),
    ...     specs=[ab.load_spec("M3")],
    ...     settings=settings,
    ...     cache_dir=cache,
    ...     progressbar=False,
    ...     verbose=False,
    ... )
    >>> path.name
    'report.md'
    >>> sorted(p.name for p in path.parent.iterdir() if p.is_dir())
    ['figures', 'tables']
    """
    from ambidex_bayes import constants
    from ambidex_bayes.errors import AmbidexError
    from ambidex_bayes.output_paths import check_report_folder
    from ambidex_bayes.report import write_report

    if isinstance(source, Analysis):
        if mapping is not None:
            raise AmbidexError(
                "report: an Analysis carries its own column mapping; leave mapping= out."
            )
        return write_report(source, out_dir, title=title)
    if mapping is None:
        raise AmbidexError(
            "report needs the column mapping of the data: "
            "report(source, out_dir, mapping='mapping.toml')."
        )
    # the report folder replaces what is there: never the data, the mapping or the fit cache
    cache = constants.CACHE_DIR if cache_dir is None else cache_dir
    inputs = [
        source if isinstance(source, str | os.PathLike) else None,
        mapping if isinstance(mapping, str | os.PathLike) else None,
        Path(cache) if isinstance(cache, str | os.PathLike) else None,
    ]
    check_report_folder(out_dir, inputs=inputs)  # before any fit, not after
    analysis = run_analysis(
        source,
        mapping,
        specs=specs,
        settings=settings,
        detrend=detrend,
        standardize=standardize,
        moderator_values=moderator_values,
        cache_dir=cache_dir,
        progressbar=progressbar,
        verbose=verbose,
        sheet=sheet,
        centring=centring,
    )
    return write_report(analysis, out_dir, title=title, inputs=inputs)
