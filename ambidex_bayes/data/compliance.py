"""How many diaries each person wrote, and how much is missing: the compliance summary."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ambidex_bayes.data.mapping import ColumnMapping
from ambidex_bayes.errors import DataError

__all__ = ["ComplianceSummary", "compliance_summary"]


def _diaries(n: int) -> str:
    return f"{n} diary" if n == 1 else f"{n} diaries"


@dataclass(frozen=True, eq=False)
class ComplianceSummary:
    """Diary counts and missingness of a validated diary table.

    Attributes
    ----------
    n_persons, n_diaries
        Persons and diary rows in the table (incomplete rows included).
    n_complete_persons, n_complete_diaries
        The same, counting only rows with every model column present (the rows a model uses).
    diaries_min, diaries_median, diaries_mean, diaries_max
        Diaries per person.
    diaries_table
        Columns ``n_diaries`` and ``n_persons``: how many persons wrote each number of diaries.
    n_single
        Persons with exactly one diary.
    missing
        Index: model columns; columns ``n_missing`` and ``share_missing`` (of all rows).
    """

    n_persons: int
    n_diaries: int
    n_complete_persons: int
    n_complete_diaries: int
    diaries_min: int
    diaries_median: float
    diaries_mean: float
    diaries_max: int
    diaries_table: pd.DataFrame
    n_single: int
    missing: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """A tidy two-column table (``statistic``, ``value``) for reports."""
        stats: list[tuple[str, object]] = [
            ("persons", self.n_persons),
            ("diaries", self.n_diaries),
            ("persons with a complete diary", self.n_complete_persons),
            ("complete diaries", self.n_complete_diaries),
            ("diaries per person: min", self.diaries_min),
            ("diaries per person: median", self.diaries_median),
            ("diaries per person: mean", self.diaries_mean),
            ("diaries per person: max", self.diaries_max),
            ("persons with one diary", self.n_single),
        ]
        stats += [
            (f"persons with exactly {_diaries(int(r.n_diaries))}", int(r.n_persons))
            for r in self.diaries_table.itertuples()
        ]
        for col, r in self.missing.iterrows():
            stats.append((f"missing {col}: count", int(r["n_missing"])))
            stats.append((f"missing {col}: share", float(r["share_missing"])))
        return pd.DataFrame(
            {
                "statistic": pd.Series([s for s, _ in stats], dtype="str"),
                "value": pd.Series([v for _, v in stats], dtype=object),
            }
        )

    def __str__(self) -> str:
        lines = [
            f"{self.n_persons} persons wrote {self.n_diaries} diaries "
            f"({self.n_complete_diaries} complete, from {self.n_complete_persons} persons).",
            f"Diaries per person: min {self.diaries_min}, median {self.diaries_median:g}, "
            f"mean {self.diaries_mean:.2f}, max {self.diaries_max}; "
            f"{self.n_single} person(s) with one diary.",
            "Persons by number of diaries: "
            + ", ".join(
                f"{int(r.n_diaries)}: {int(r.n_persons)}" for r in self.diaries_table.itertuples()
            ),
            "Missing values per column:",
        ]
        width = max((len(str(c)) for c in self.missing.index), default=0)
        for col, r in self.missing.iterrows():
            lines.append(
                f"  {str(col):<{width}}  {int(r['n_missing']):>6}  ({r['share_missing']:.1%})"
            )
        return "\n".join(lines)


def compliance_summary(frame: pd.DataFrame, mapping: ColumnMapping) -> ComplianceSummary:
    """Summarise diaries per person and missingness per model column.

    Parameters
    ----------
    frame
        A diary table, normally :attr:`ValidatedData.frame` (one row per diary).
    mapping
        The column mapping; its model columns are counted.

    Returns
    -------
    ComplianceSummary
    """
    cols = list(mapping.model_columns)
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise DataError(f"cannot summarise compliance: column(s) {absent} are not in the data")
    if len(frame) == 0:
        raise DataError("cannot summarise compliance: the data have no rows")
    counts = frame.groupby(mapping.person, sort=False).size()
    complete = frame[cols].notna().all(axis=1)
    per_count = counts.value_counts().sort_index()
    table = pd.DataFrame(
        {"n_diaries": per_count.index.astype("int64"), "n_persons": per_count.to_numpy()}
    )
    n_missing = frame[cols].isna().sum()
    missing = pd.DataFrame(
        {"n_missing": n_missing.astype("int64"), "share_missing": n_missing / len(frame)}
    )
    return ComplianceSummary(
        n_persons=int(counts.size),
        n_diaries=int(len(frame)),
        n_complete_persons=int(frame.loc[complete, mapping.person].nunique()),
        n_complete_diaries=int(complete.sum()),
        diaries_min=int(counts.min()),
        diaries_median=float(counts.median()),
        diaries_mean=float(counts.mean()),
        diaries_max=int(counts.max()),
        diaries_table=table,
        n_single=int((counts == 1).sum()),
        missing=missing,
    )
