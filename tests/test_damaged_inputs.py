"""Damaged, oversized or foreign inputs get a clear error (or warning), never a traceback,
a hang or silent nonsense.

Saved fits are copies of the session's real M3 fit, damaged in ``tmp_path``; nothing is
sampled here.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import xarray as xr

from ambidex_bayes.errors import FitFileError
from ambidex_bayes.fit import FitResult
from ambidex_bayes.spec import models_dir

# --------------------------------------------------------------------------- saved fits


def _rewrite(
    source: Path,
    target: Path,
    *,
    attrs: dict[str, object] | None = None,
    edit: Callable[[xr.DataTree], None] | None = None,
) -> Path:
    """Write a copy of the fit file ``source`` with some root attributes or groups changed
    (an attribute set to None is removed)."""
    with xr.open_datatree(source, engine="h5netcdf") as tree:
        tree = tree.load()
    new_attrs = dict(tree.attrs)
    for key, value in (attrs or {}).items():
        if value is None:
            new_attrs.pop(key, None)
        else:
            new_attrs[key] = value
    tree.attrs = new_attrs
    if edit is not None:
        edit(tree)
    tree.to_netcdf(target, engine="h5netcdf")
    return target


def _record(source: Path, key: str) -> object:
    with xr.open_datatree(source, engine="h5netcdf") as tree:
        return json.loads(tree.attrs[key])


def _drop_columns(group: str, count: int | None) -> Callable[[xr.DataTree], None]:
    def edit(tree: xr.DataTree) -> None:
        ds = tree[group].to_dataset()
        names = list(ds.data_vars)
        tree[group] = xr.DataTree(ds.drop_vars(names if count is None else names[:count]))

    return edit


def _edit_group(
    group: str, change: Callable[[xr.Dataset], xr.Dataset]
) -> Callable[[xr.DataTree], None]:
    def edit(tree: xr.DataTree) -> None:
        tree[group] = xr.DataTree(change(tree[group].to_dataset()))

    return edit


def _drop_group(group: str) -> Callable[[xr.DataTree], None]:
    def edit(tree: xr.DataTree) -> None:
        del tree[group]

    return edit


@pytest.fixture
def saved_fit(m3_fit, tmp_path) -> Path:
    """A copy of the real M3 fit's file."""
    return Path(shutil.copy(m3_fit.path, tmp_path / "m3.nc"))


def _with_meta(source: Path, **changes: object) -> dict[str, object]:
    meta = _record(source, "meta")
    for key, value in changes.items():
        meta[key] = value
    return {"meta": json.dumps(meta)}


def _with_setting(source: Path, key: str, value: object) -> dict[str, object]:
    meta = _record(source, "meta")
    meta["settings"] = {**meta["settings"], key: value}
    return {"meta": json.dumps(meta)}


def _unknown_prior(source: Path) -> dict[str, object]:
    priors = _record(source, "priors")
    first = next(iter(priors))
    priors[first] = {"prior": "Foo(a=1)", "source": "spec"}
    return {"priors": json.dumps(priors)}


def _unknown_spec_prior(source: Path) -> dict[str, object]:
    spec = _record(source, "spec")
    spec["priors"] = {"sigma": {"dist": "Foo", "a": 1}}
    return {"spec": json.dumps(spec)}


def _prepared_version(source: Path) -> dict[str, object]:
    prepared = _record(source, "prepared")
    prepared["version"] = 99
    return {"prepared": json.dumps(prepared)}


# case -> (attributes changed from the saved file, group edit, words the message must hold)
_FIT_CASES: dict[str, tuple[Callable[[Path], dict] | None, Callable | None, str]] = {
    "spec is not JSON": (lambda s: {"spec": "{not json"}, None, "'spec' record is not valid"),
    "meta is not JSON": (lambda s: {"meta": "{not json"}, None, "'meta' record is not valid"),
    "prepared is not JSON": (
        lambda s: {"prepared": "{not json"},
        None,
        "'prepared' record is not valid",
    ),
    "spec is a list": (lambda s: {"spec": "[1, 2]"}, None, "'spec' record is a list"),
    "spec is text": (lambda s: {"spec": '"M3"'}, None, "'spec' record is text"),
    "terms is a list": (lambda s: {"terms": "[1]"}, None, "'terms' record is a list"),
    "terms has an unknown entry": (
        lambda s: {"terms": json.dumps({**_record(s, "terms"), "foo": "x"})},
        None,
        "unknown entries ['foo']",
    ),
    "meta is a list": (lambda s: {"meta": "[1]"}, None, "'meta' record is a list"),
    "prepared is a list": (lambda s: {"prepared": "[1]"}, None, "'prepared' record is a list"),
    "priors is a list": (lambda s: {"priors": "[1]"}, None, "'priors' record is a list"),
    "formula is a number": (lambda s: {"formula": "5"}, None, "'formula' record is a number"),
    "no meta record": (lambda s: {"meta": None}, None, "lacks its 'meta' record"),
    "prior of unknown distribution": (_unknown_prior, None, "unknown distribution 'Foo'"),
    "spec prior of unknown distribution": (
        _unknown_spec_prior,
        None,
        "unknown distribution 'Foo'",
    ),
    "sampler settings are text": (
        lambda s: _with_meta(s, settings="fast"),
        None,
        "sampler settings are text",
    ),
    "draws is text": (
        lambda s: _with_setting(s, "draws", "many"),
        None,
        "'draws' is 'many', expected a number",
    ),
    "fast_path is a number": (
        lambda s: _with_setting(s, "fast_path", 3),
        None,
        "'fast_path' is 3, expected true/false",
    ),
    "draws out of range": (
        lambda s: _with_setting(s, "draws", -5),
        None,
        "sampler settings are out of range",
    ),
    "target acceptance out of range": (
        lambda s: _with_setting(s, "target_accept", 1.5),
        None,
        "sampler settings are out of range",
    ),
    "prepared-data record of another version": (_prepared_version, None, "version 99"),
    "prepared rows lack columns": (
        None,
        _drop_columns("prepared_data", 2),
        "prepared data lack the column(s)",
    ),
    "person means lack columns": (
        None,
        _drop_columns("person_means", None),
        "person means lack the column(s)",
    ),
    "no sample statistics": (None, _drop_group("sample_stats"), "lacks its 'sample_stats'"),
    "posterior without chains": (
        None,
        _edit_group("posterior", lambda ds: ds.isel(chain=0)),
        "has dimensions ('draw',)",
    ),
    "posterior without draws": (
        None,
        _edit_group("posterior", lambda ds: ds.isel(draw=slice(0, 0))),
        "holds no draws",
    ),
    "posterior draws as text": (
        None,
        _edit_group("posterior", lambda ds: ds.assign(sigma=ds["sigma"].astype(str))),
        "'sigma' holds <U",
    ),
    "posterior draws all missing": (
        None,
        _edit_group("posterior", lambda ds: ds.assign(sigma=ds["sigma"] * float("nan"))),
        "'sigma' has no finite draw",
    ),
    "sample statistics without divergences": (
        None,
        _edit_group(
            "sample_stats",
            lambda ds: ds.drop_vars([v for v in ("diverging", "divergences") if v in ds]),
        ),
        "do not say which transitions diverged",
    ),
    "fewer prepared rows than fitted": (
        None,
        _edit_group("prepared_data", lambda ds: ds.isel(__prepared_row__=slice(0, 10))),
        "holds 10 prepared rows, but the fit used",
    ),
    "outcome stored as text": (
        None,
        _edit_group("prepared_data", lambda ds: ds.assign(innovation=ds["innovation"].astype(str))),
        "'innovation' (y) holds text",
    ),
    "posterior lacks a term": (
        None,
        lambda t: t.__setitem__(
            "posterior",
            xr.DataTree(t["posterior"].to_dataset().drop_vars("uncertainty_cw:leader_support_c")),
        ),
        "posterior lacks the variable(s) uncertainty_cw:leader_support_c",
    ),
}


@pytest.mark.parametrize("case", list(_FIT_CASES))
def test_damaged_fit_record_is_refused_naming_the_file(saved_fit, tmp_path, case):
    attrs, edit, words = _FIT_CASES[case]
    target = _rewrite(
        saved_fit,
        tmp_path / "damaged.nc",
        attrs=None if attrs is None else attrs(saved_fit),
        edit=edit,
    )
    with pytest.raises(FitFileError) as info:
        FitResult.load(target)
    message = str(info.value)
    assert str(target) in message
    assert words in message
    assert "fit the model again" in message


def test_fit_file_that_cannot_be_read_for_permissions_says_so(saved_fit, monkeypatch):
    import h5py
    import xarray as xr

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(xr, "open_datatree", denied)
    monkeypatch.setattr(h5py, "File", denied)  # the reader of plain fit files opens it so
    with pytest.raises(FitFileError, match="permission denied") as info:
        FitResult.load(saved_fit)
    assert str(saved_fit) in str(info.value)
    assert "corrupt" not in str(info.value)


def test_fit_file_of_a_newer_format_says_to_update(saved_fit, tmp_path):
    target = _rewrite(saved_fit, tmp_path / "future.nc", attrs={"ambidex_bayes_fit": "2"})
    with pytest.raises(FitFileError, match="newer version of ambidex_bayes") as info:
        FitResult.load(target)
    assert str(target) in str(info.value)
    assert "Update ambidex_bayes" in str(info.value)


def test_cli_names_a_damaged_fit_file_without_a_traceback(saved_fit, tmp_path, capsys):
    from ambidex_bayes.cli import main

    target = _rewrite(saved_fit, tmp_path / "damaged.nc", attrs={"terms": "[1]"})
    assert main(["summary", str(target)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: {target}: the fit file is damaged" in err


def test_undamaged_copy_still_loads(saved_fit, tmp_path):
    target = _rewrite(saved_fit, tmp_path / "copy.nc")
    result = FitResult.load(target)
    assert result.terms.interaction in result.posterior


# ------------------------------------------------------------------ study-design results


def _store_with_two_parts(folder: Path):
    from ambidex_bayes.design.store import ResultStore

    store = ResultStore(folder, kind="power", config={"simulations": 4})
    store.append([{"task_id": "a", "value": 1.0}, {"task_id": "b", "value": 2.0}])
    second = store.append([{"task_id": "c", "value": 3.0}, {"task_id": "d", "value": 4.0}])
    return store, second


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[:40]),
        lambda p: p.write_bytes(b"not parquet at all"),
        lambda p: __import__("pandas").DataFrame({"other": [1]}).to_parquet(p),
    ],
    ids=["truncated", "not parquet", "no task_id column"],
)
def test_damaged_part_file_is_left_out_with_a_warning_naming_it(tmp_path, damage):
    from ambidex_bayes.design.store import DamagedPartWarning, ResultStore

    store, second = _store_with_two_parts(tmp_path / "run")
    damage(second)
    with pytest.warns(DamagedPartWarning, match="results are partial") as caught:
        table = store.read()
    assert str(second) in str(caught[0].message)
    assert list(table["task_id"]) == ["a", "b"]
    # resuming computes the left-out tasks again
    reopened = ResultStore(tmp_path / "run", kind="power", config={"simulations": 4})
    with pytest.warns(DamagedPartWarning):
        assert reopened.done_ids() == {"a", "b"}


def test_damaged_run_description_is_refused(tmp_path):
    from ambidex_bayes.design.store import ResultStore, StoreError

    folder = tmp_path / "run"
    ResultStore(folder, kind="power", config={"simulations": 4})
    (folder / "run.json").write_text("[1, 2]")
    with pytest.raises(StoreError, match="run.json is damaged"):
        ResultStore(folder, kind="power", config={"simulations": 4})


# ------------------------------------------------------------------ distributed runs


def _tasks(n: int = 2):
    from ambidex_bayes.design.tasks import Task

    return [Task(f"t{i}", i, {"i": i}) for i in range(n)]


def _numbers(task) -> dict:
    return {"value": float(task.params["i"])}


def _run_bounded(scheduler: str, folder: Path, limit: float = 15.0) -> BaseException | None:
    """Run two tiny tasks on ``scheduler`` in a thread; the error it ended with (or None).
    Fails the test when the run has not ended within ``limit`` seconds."""
    import threading

    from ambidex_bayes.design.runner import run_tasks
    from ambidex_bayes.design.store import ResultStore

    outcome: dict[str, BaseException | None] = {"error": None}

    def target() -> None:
        try:
            run_tasks(
                _tasks(),
                _numbers,
                ResultStore(folder, kind="t", config={}),
                scheduler=scheduler,
                progressbar=False,
            )
        except BaseException as err:  # handed to the test, which checks its type
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"the run on {scheduler} was still waiting after {limit:g} s")
    return outcome["error"]


class _FakeServer:
    """A TCP server on 127.0.0.1 that is not a Dask scheduler."""

    def __init__(self, mode: str) -> None:
        import socket
        import threading

        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.open.append(conn)
            if self.mode == "garbage":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
            elif self.mode == "close":
                conn.close()
            # "silent": accept and never answer

    def close(self) -> None:
        self.sock.close()
        for conn in self.open:
            conn.close()


@pytest.mark.parametrize(
    "address",
    ["foo://127.0.0.1:8786", "http://127.0.0.1:8786", "127.0.0.1", "tcp://127.0.0.1:99999"],
)
def test_scheduler_address_dask_cannot_use_is_refused_up_front(tmp_path, address):
    from ambidex_bayes.design.scheduler import SchedulerError

    error = _run_bounded(address, tmp_path / "run", limit=5)
    assert isinstance(error, SchedulerError), repr(error)
    assert address in str(error)
    assert "--scheduler serial" in str(error)


@pytest.mark.parametrize("mode", ["silent", "garbage", "close"])
def test_port_where_no_dask_scheduler_answers_fails_within_the_timeout(tmp_path, monkeypatch, mode):
    pytest.importorskip("distributed")
    import time

    from ambidex_bayes.design import runner
    from ambidex_bayes.design.scheduler import SchedulerError

    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", "2s")
    server = _FakeServer(mode)
    address = f"tcp://127.0.0.1:{server.port}"
    start = time.monotonic()
    try:
        error = _run_bounded(address, tmp_path / "run")
    finally:
        server.close()
    assert time.monotonic() - start < 10
    assert isinstance(error, SchedulerError), repr(error)
    assert address in str(error)
    assert "not a Dask scheduler" in str(error) or "No Dask scheduler answered" in str(error)


def test_a_real_scheduler_passes_the_probe():
    distributed = pytest.importorskip("distributed")
    from ambidex_bayes.design.scheduler import probe_scheduler

    with distributed.LocalCluster(
        n_workers=0,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # not 8787, which a running cluster may hold
        scheduler_kwargs={"dashboard": False},
    ) as cluster:
        assert probe_scheduler(cluster.scheduler_address, timeout=5)["type"] == "Scheduler"


# ------------------------------------------------------------- text encodings of TOML files

_MAPPING = Path(__file__).parent / "fixtures" / "mapping_small.toml"
_MODELS = models_dir()  # the bundled specs and prior sets


def _saved_as(text: str, target: Path, encoding: str) -> Path:
    target.write_bytes(text.encode(encoding))
    return target


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_mapping_saved_with_a_byte_order_mark_reads(tmp_path, encoding):
    from ambidex_bayes.data.mapping import ColumnMapping

    text = _MAPPING.read_text(encoding="utf-8")
    saved = _saved_as(text, tmp_path / "mapping.toml", encoding)
    assert ColumnMapping.from_toml(saved) == ColumnMapping.from_toml(_MAPPING)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_spec_saved_with_a_byte_order_mark_reads(tmp_path, encoding):
    from ambidex_bayes.spec import load_spec

    original = _MODELS / "m3_cross_level.toml"
    saved = _saved_as(original.read_text(encoding="utf-8"), tmp_path / "m3.toml", encoding)
    assert load_spec(saved).to_dict() == load_spec(original).to_dict()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_prior_set_saved_with_a_byte_order_mark_reads(tmp_path, encoding):
    from ambidex_bayes.priors.sets import read_prior_set

    original = sorted((_MODELS / "priors").glob("*.toml"))[0]
    saved = _saved_as(original.read_text(encoding="utf-8"), tmp_path / original.name, encoding)
    assert read_prior_set(saved).priors == read_prior_set(original).priors


def test_mapping_in_windows_1252_gets_a_clear_error(tmp_path):
    from ambidex_bayes.data.mapping import ColumnMapping
    from ambidex_bayes.errors import SpecError

    text = "# Zufriedenheit mit dem Vorgesetzten (\u00e4\u00f6\u00fc)\n" + _MAPPING.read_text()
    saved = _saved_as(text, tmp_path / "mapping.toml", "cp1252")
    with pytest.raises(SpecError, match="line 1 is not UTF-8") as info:
        ColumnMapping.from_toml(saved)
    assert str(saved) in str(info.value)
    assert "Save it again as UTF-8" in str(info.value)


def test_mapping_in_utf16_without_a_byte_order_mark_gets_a_clear_error(tmp_path):
    from ambidex_bayes.data.mapping import ColumnMapping
    from ambidex_bayes.errors import SpecError

    saved = _saved_as(_MAPPING.read_text(), tmp_path / "mapping.toml", "utf-16-le")
    with pytest.raises(SpecError, match="UTF-16") as info:
        ColumnMapping.from_toml(saved)
    assert str(saved) in str(info.value)


# ------------------------------------------------------------ SPSS missing-value codes


def test_spss_values_labelled_as_missing_codes_become_missing_with_a_warning(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    import pandas as pd

    from ambidex_bayes.data.io import MissingCodeWarning, read_table

    frame = pd.DataFrame(
        {
            "pid": [1, 1, 2, 2, 3, 3],
            "innovation": [3.0, -99, 4, 5, 99, -99],
            "uncertainty": [1.0, 2, 3, 3, 4, 5],
        }
    )
    path = tmp_path / "diary.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={
            "innovation": {-99: "no answer", 99: "don't know", 1: "low", 5: "high"},
            "uncertainty": {1: "not at all", 5: "very much"},
        },
    )
    with pytest.warns(MissingCodeWarning) as caught:
        table = read_table(path)
    message = str(caught[0].message)
    assert str(path) in message
    assert "innovation = -99 ('no answer'): 2 row(s)" in message
    assert 'innovation = 99 ("don\'t know"): 1 row(s)' in message
    assert "uncertainty" not in message
    assert table["innovation"].isna().sum() == 3
    assert list(table["uncertainty"]) == [1.0, 2, 3, 3, 4, 5]
    assert table["innovation"].dropna().tolist() == [3.0, 4.0, 5.0]


def test_spss_declared_user_missing_values_stay_missing_without_a_warning(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    import warnings

    import pandas as pd

    from ambidex_bayes.data.io import read_table

    frame = pd.DataFrame({"pid": [1, 2], "innovation": [3.0, -9]})
    path = tmp_path / "declared.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={"innovation": {-9: "missing"}},
        missing_ranges={"innovation": [-9]},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = read_table(path)
    assert table["innovation"].isna().tolist() == [False, True]


# ------------------------------------------------------------------- scale up front


def _wide_table(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "pid": [f"p{i // 5}" for i in range(rows)],
            "day": np.tile(np.arange(1, 6), rows // 5),
            "innovation": rng.integers(1, 6, rows).astype(float),
            "uncertainty": rng.integers(1, 6, rows).astype(float),
        }
    )


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".sav"])
def test_data_file_too_large_for_the_memory_is_refused_before_reading(tmp_path, monkeypatch, ext):
    from ambidex_bayes import memory
    from ambidex_bayes.data.io import read_table
    from ambidex_bayes.errors import ResourceError

    frame = _wide_table(20_000)
    path = tmp_path / f"diary{ext}"
    if ext == ".csv":
        frame.to_csv(path, index=False)
    elif ext == ".parquet":
        frame.to_parquet(path)
    else:
        pytest.importorskip("pyreadstat").write_sav(frame, str(path))
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)  # 1 MB
    with pytest.raises(ResourceError) as info:
        read_table(path)
    message = str(info.value)
    assert str(path) in message
    assert "needs about" in message and "1 MB available" in message
    assert "only the columns the model uses" in message
    assert memory.SKIP_VARIABLE in message
    if ext != ".csv":
        assert "20,000 rows x 4 columns" in message
    # the estimate is in the right range: rows x columns x tens of bytes
    needed = float(message.split("needs about ")[1].split(" MB")[0])
    assert 1.5 < needed < 20
    # the override reads it
    monkeypatch.setenv(memory.SKIP_VARIABLE, "1")
    assert len(read_table(path)) == 20_000


def test_text_table_estimate_counts_rows_from_a_sample(tmp_path):
    from ambidex_bayes.memory import text_table_bytes

    path = tmp_path / "diary.csv"
    _wide_table(100_000).to_csv(path, index=False)
    raw = path.read_bytes()[:65536]
    needed, rows, columns = text_table_bytes(path, raw.decode(), ",", truncated=True)
    assert columns == 4
    assert 80_000 < rows < 120_000
    assert needed > rows * columns * 40


def test_power_design_too_large_is_refused_up_front_with_an_estimate(tmp_path, monkeypatch, capsys):
    import time

    from ambidex_bayes import memory
    from ambidex_bayes.cli import main

    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * 10**9)
    out = tmp_path / "power"
    start = time.monotonic()
    status = main(
        ["power", "--persons", "100000000", "--sims", "3", "--scheduler", "serial"]
        + ["--no-progress", "--out", str(out)]
    )
    assert time.monotonic() - start < 15
    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err
    assert "power: 3 simulated studies, the largest with about 420,000,000 rows" in captured.out
    assert "needs about" in captured.err and "16 GB available" in captured.err
    assert "fewer persons" in captured.err
    assert not out.exists()


def test_power_run_with_too_many_fits_at_once_says_how_many_workers(tmp_path, monkeypatch):
    from ambidex_bayes import memory
    from ambidex_bayes.design.power import PowerConfig, run_power
    from ambidex_bayes.errors import ResourceError

    config = PowerConfig(persons=(20_000,), simulations=2, draws=500, chains=2)
    per_fit = memory.fit_bytes(20_000 * 4.2, 20_000, draws=500, chains=2)
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: int(3.5 * per_fit))
    with pytest.raises(ResourceError, match="--workers 2"):
        run_power(config, tmp_path / "power", n_workers=8, verbose=False)
    assert not (tmp_path / "power").exists()


def test_sbc_design_too_large_is_refused_up_front(tmp_path, monkeypatch, capsys):
    from ambidex_bayes import memory
    from ambidex_bayes.design.sbc import SBCConfig, run_sbc
    from ambidex_bayes.errors import ResourceError

    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * 10**9)
    config = SBCConfig(design={"n_persons": 10_000_000}, simulations=5)
    with pytest.raises(ResourceError, match="10,000,000 persons"):
        run_sbc(config, tmp_path / "sbc", scheduler="serial")
    assert "memory per fit" in capsys.readouterr().out
    assert not (tmp_path / "sbc").exists()


def test_remote_scheduler_gets_the_estimate_but_no_local_refusal(monkeypatch, capsys):
    from ambidex_bayes import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 10**6)
    per_fit = memory.check_run_memory(
        kind="power",
        rows=1_000_000,
        persons=100_000,
        draws=500,
        chains=2,
        simulations=10,
        scheduler="tcp://127.0.0.1:8786",
    )
    assert per_fit > 10**9
    assert "on each worker" in capsys.readouterr().out


def test_simulated_study_too_large_is_refused_before_any_allocation(tmp_path, monkeypatch, capsys):
    from ambidex_bayes import memory
    from ambidex_bayes.cli import main

    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * 10**9)
    out = tmp_path / "study.csv"
    status = main(["simulate", "--persons", "1000000000", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert "Simulating a study of 1,000,000,000 persons" in err
    assert "8 GB available" in err
    assert not out.exists()


def test_fit_whose_posterior_exceeds_the_memory_is_refused_before_sampling(
    small_prepared, monkeypatch
):
    fit_module = importlib.import_module("ambidex_bayes.fit")
    from ambidex_bayes import memory
    from ambidex_bayes.errors import ResourceError
    from ambidex_bayes.fit import SamplerSettings, fit
    from ambidex_bayes.spec import load_spec

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampling started")

    monkeypatch.setattr(fit_module, "sample_marginal", no_sampling)
    monkeypatch.setattr(fit_module, "sample_full", no_sampling)
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    rows = len(small_prepared.frame)
    persons = small_prepared.frame[small_prepared.mapping.person].nunique()
    settings = SamplerSettings(backend="pymc", draws=1000, chains=4)
    parts = memory.posterior_bytes(
        rows=rows, persons=persons, effects=2, draws=1000, chains=4, log_likelihood=True
    )
    # room for the person effects, not for the pointwise log-likelihood as well
    room = parts["person effects"] / memory.MEMORY_SHARE * 1.01
    monkeypatch.setattr(memory, "available_memory", lambda: int(room))
    with pytest.raises(ResourceError) as info:
        fit(
            load_spec("M3"),
            small_prepared,
            settings=settings,
            cache_dir=False,
            verbose=False,
            centring="observed",  # the observed posterior's memory is what is checked
        )
    message = str(info.value)
    assert f"4 chains x 1000 draws for {rows:,} rows and {persons:,} persons" in message
    assert "pointwise log-likelihood" in message and "--no-log-likelihood" in message
    # without the log-likelihood the same fit gets as far as sampling
    with pytest.raises(AssertionError, match="sampling started"):
        fit(
            load_spec("M3"),
            small_prepared,
            settings=settings,
            cache_dir=False,
            verbose=False,
            log_likelihood=False,
            centring="observed",
        )
