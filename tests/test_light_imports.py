"""Bambi and nutpie imported without ArviZ's statistics and plotting packages.

Each check runs in a fresh interpreter (what a process has imported cannot be undone) and
reports what it found as JSON. No timing here: ``benchmarks/bench_overhead.py`` measures the
fit command's own work.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Packages a fit's model building and sampling do without.
UNUSED = ("arviz", "arviz_stats", "arviz_plots", "matplotlib", "seaborn", "scipy.stats")


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_building_a_model_imports_no_plotting_or_statistics_package():
    found = _run(
        f"""
        import json, sys
        import ambidex_bayes as ab
        from ambidex_bayes.model.build import build_model
        from ambidex_bayes.simulate import reference_design, simulate_diary

        design = reference_design(n_persons=30, diaries_dist="fixed", diaries_mean=4,
                                  likert=None, missing_rate=0.0)
        study = simulate_diary(design, seed=3)
        prepared = ab.prepare(ab.load_diary(study.data, study.mapping))
        before = set(sys.modules)  # the simulator imports scipy.stats; reading a file does not
        built = build_model(ab.load_spec("M3"), prepared)
        assert built.pymc_model is not None
        print(json.dumps([n for n in {UNUSED!r} if n in set(sys.modules) - before]))
        """
    )
    assert found == []


def test_nutpie_imported_lightly_gives_arviz_functions():
    found = _run(
        f"""
        import json, sys
        from ambidex_bayes.light_imports import import_nutpie

        nutpie = import_nutpie()
        sample = sys.modules["nutpie.sample"]
        light = [n for n in {UNUSED!r} if n in sys.modules]
        import arviz, arviz_base
        print(json.dumps({{
            "light": light,
            "arviz_is_real": sys.modules["arviz"] is arviz and hasattr(arviz, "ess"),
            # the stand-ins call ArviZ's own functions, and any other name is ArviZ's
            "same": [getattr(arviz, n) is getattr(arviz_base, n)
                     for n in ("from_dict", "dict_to_dataset")],
            "forwarded": sample.arviz.ess is arviz.ess,
        }}))
        """
    )
    assert found["light"] == []
    assert found["arviz_is_real"]
    assert found["same"] == [True, True]
    assert found["forwarded"]


def test_bambi_imported_lightly_loads_the_rest_on_use():
    found = _run(
        f"""
        import json, sys
        from ambidex_bayes.light_imports import import_bambi

        bambi = import_bambi()
        import bambi as again
        light = [n for n in {UNUSED!r} if n in sys.modules]
        slopes = bambi.interpret.slopes  # loads bambi.interpret, and ArviZ with it
        import arviz_plots
        calls = []
        arviz_plots.plot_dist = lambda *args, **kwargs: calls.append((args, kwargs)) or "drawn"
        print(json.dumps({{
            "light": light,
            "same_module": again is bambi,
            "interpret": callable(slopes) and "arviz" in sys.modules,
            "real_packages": type(sys.modules["arviz_plots"]).__name__ == "module",
            "deferred": [bambi.models.plot_dist(1, kind="kde"), calls],
        }}))
        """
    )
    assert found["light"] == []
    assert found["same_module"]
    assert found["interpret"]
    assert found["real_packages"]
    assert found["deferred"] == ["drawn", [[[1], {"kind": "kde"}]]]


def test_a_package_that_wants_more_than_the_stand_ins_is_imported_in_full():
    found = _run(
        """
        import json, sys
        from ambidex_bayes.light_imports import import_without

        # bambi.models takes residual_r2 from arviz_stats too: without it, the import with
        # stand-ins fails, and Bambi is imported in full
        bambi = import_without("bambi", {"arviz_stats": {"not_what_bambi_takes": "x:y"}})
        import arviz_stats
        print(json.dumps({
            "full": "arviz_stats" in sys.modules and "bambi.interpret.effects" in sys.modules,
            "real": bambi.models.residual_r2 is arviz_stats.residual_r2,
            "model": callable(bambi.Model),
        }))
        """
    )
    assert found == {"full": True, "real": True, "model": True}


def test_a_package_already_imported_is_returned_as_it_is():
    found = _run(
        """
        import json, sys
        import arviz_stats
        from ambidex_bayes.light_imports import import_bambi

        bambi = import_bambi()  # the real arviz_stats is used, not a stand-in
        print(json.dumps(bambi.models.residual_r2 is arviz_stats.residual_r2))
        """
    )
    assert found is True


_SPLINE_BASIS = """
    import json, sys
    import numpy as np, pandas as pd
    {importer}
    before = "scipy.interpolate" in sys.modules
    data = pd.DataFrame({{"y": np.arange(12.0), "x": np.linspace(0.0, 3.0, 12) ** 2}})
    basis = formulae.design_matrices("y ~ bs(x, df=4)", data).common.design_matrix
    print(json.dumps([before, np.asarray(basis).tolist()]))
"""


def test_formulae_imported_lightly_draws_the_same_splines():
    light_code = (
        "from ambidex_bayes.light_imports import import_formulae as load; formulae = load()"
    )
    light_before, light = _run(_SPLINE_BASIS.format(importer=light_code))
    full_before, full = _run(_SPLINE_BASIS.format(importer="import formulae"))
    assert not light_before and full_before  # scipy.interpolate waits for the first spline
    assert light == full


def test_every_save_writes_without_importing_distributed_and_xarray_sees_the_same(tmp_path):
    found = _run(
        f"""
        import json, sys
        import numpy as np
        import xarray as xr
        from xarray.backends import locks, writers
        from ambidex_bayes.store import load_datatree, save_datatree

        inside = []

        def probe(*args, **kwargs):  # what xarray's writer asks before writing
            imported = sys.modules.get("distributed") is not None
            inside.append([locks.get_dask_scheduler(*args, **kwargs), imported])
            return inside[-1][0]

        writers.get_dask_scheduler = probe
        tree = xr.DataTree.from_dict({{"posterior": xr.Dataset({{"a": ("draw", np.arange(3.0))}})}})
        save_datatree(tree, {str(tmp_path / "fit.nc")!r}, {{"meta": {{"seed": 1}}}})
        absent_after = "distributed" not in sys.modules  # the mark is gone too
        loaded, attrs = load_datatree({str(tmp_path / "fit.nc")!r})
        answer = locks.get_dask_scheduler()  # importable again: this imports it
        print(json.dumps({{
            "inside": inside,
            "absent_after": absent_after,
            "values": loaded["posterior"]["a"].values.tolist(),
            "attrs": attrs,
            "answer": answer,
            "imported_now": sys.modules.get("distributed") is not None,
        }}))
        """
    )
    assert found == {
        "inside": [["threaded", False]],
        "absent_after": True,
        "values": [0.0, 1.0, 2.0],
        "attrs": {"meta": {"seed": 1}},
        "answer": "threaded",
        "imported_now": True,
    }


def test_a_package_imported_already_stays_importable():
    found = _run(
        """
        import json, sys
        import distributed
        from ambidex_bayes.light_imports import not_importable

        with not_importable("distributed"):
            import distributed as again
        print(json.dumps(again is distributed and sys.modules["distributed"] is distributed))
        """
    )
    assert found is True
