"""Latent centring with several level-1 predictors (and a control), without sampling.

The fast path's outcome likelihood (person effects integrated out given every predictor's
person means, :mod:`ambidex_bayes.model.latent_many`) is checked against each person's
multivariate normal density with the person effects integrated out by hand, the exact draws
of the person effects against their conditional moments, and the model's names against the
observed model's.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
from scipy import stats

from ambidex_bayes.model.latent_centring import build_latent_model
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_fast_path import (
    draw_from_sums,
    latent_sums,
    outcome_marginal_loglik,
)
from ambidex_bayes.model.latent_ladder import LatentStructure
from ambidex_bayes.model.latent_many import many_sums, many_terms, replace_outcome

GAMMA = np.array([0.6])


def two_predictor_frame(
    n_persons: int = 14,
    diaries: tuple[int, int] = (2, 6),
    *,
    seed: int = 3,
    missing: float = 0.15,
) -> pd.DataFrame:
    """Persons with two daily predictors ``x`` and ``z`` (each with its own person means), a
    person-level moderator ``w``, a daily control ``k`` and outcome ``y``; values of ``x``,
    ``z`` and ``y`` missing at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(n_persons):
        mu_x, mu_z = 3.0 + 0.7 * rng.normal(), 1.0 + 0.5 * rng.normal()
        w = rng.normal()
        u0, u1 = 0.4 * rng.normal(), 0.15 * rng.normal()
        for d in range(int(rng.integers(diaries[0], diaries[1] + 1))):
            x, z, k = mu_x + rng.normal(), mu_z + 0.8 * rng.normal(), rng.normal()
            y = (
                1.0
                + (0.3 + 0.1 * w + u1) * (x - mu_x)
                + 0.5 * (mu_x - 3.0)
                - 0.2 * (z - mu_z)
                + 0.4 * (mu_z - 1.0)
                + 0.2 * w
                + 0.6 * k
                + u0
                + 0.5 * rng.normal()
            )
            rows.append({"person": f"p{j}", "day": d, "x": x, "z": z, "w": w, "k": k, "y": y})
    frame = pd.DataFrame(rows)
    frame["w"] -= frame.groupby("person")["w"].first().mean()
    for column in ("x", "z", "y"):
        gone = rng.random(len(frame)) < missing
        frame.loc[gone, column] = np.nan
    both = frame[["x", "z", "y"]].isna().all(axis=1)
    return frame.loc[~both].reset_index(drop=True)


@pytest.fixture(scope="module")
def panel():
    return latent_data(
        two_predictor_frame(), y="y", x="x", person="person", w="w", controls=("k",), others=("z",)
    )


def test_data_of_two_predictors(panel):
    assert panel.n_predictors == 2 and panel.xs.shape == (len(panel.y), 2)
    z = panel.predictor(1)
    assert z.names.x == "z" and z.names.mu == "z_mu" and z.names.within == "z_cw"
    assert z.n_imputed == int(np.isnan(panel.others[:, 0]).sum()) > 0
    assert not np.isnan(z.x_only).any() and not np.isnan(panel.predictor(0).x_only).any()
    # rows with z and no outcome inform z's person means even when x is missing there
    assert len(z.x_only) > 0
    assert "'z'" in panel.imputation_note() and "'x'" in panel.imputation_note()


def _parameters(panel, seed=0):
    rng = np.random.default_rng(seed)
    J = panel.n_persons
    views = [panel.predictor(p) for p in range(2)]
    return dict(
        mus=[3.0 + 0.5 * rng.standard_normal(J), 1.0 + 0.4 * rng.standard_normal(J)],
        imputed=[
            c + rng.standard_normal(v.n_imputed) for c, v in zip((3.0, 1.0), views, strict=True)
        ],
        a=0.3 * rng.standard_normal(J),
        bs=[0.3 + 0.1 * rng.standard_normal(J), -0.2 + 0.1 * rng.standard_normal(J)],
        sigma=0.6,
        tau=[0.5, 0.3],
        rho=-0.4,
    )


def _filled(panel, p):
    xs = panel.xs.copy()
    for q in range(2):
        xs[np.isnan(xs[:, q]), q] = p["imputed"][q]
    return xs


@pytest.mark.parametrize("s", [0, 1])
@pytest.mark.parametrize("q", [1, 2])
def test_integrated_likelihood_of_two_predictors_matches_brute_force(panel, q, s):
    p = _parameters(panel)
    base = latent_sums(panel.predictor(0))
    tensor = [pt.as_tensor(v) for v in p["imputed"]]
    Sy, Syy, Sx, Sxx, Sxy, a_r = many_terms(
        many_sums(panel),
        panel.n_persons,
        tensor,
        [pt.as_tensor(m) for m in p["mus"]],
        pt.as_tensor(p["a"]),
        [pt.as_tensor(b) for b in p["bs"]],
        pt.as_tensor(GAMMA),
        s,
        base.Sy,
        base.Syy,
    )
    value = outcome_marginal_loglik(
        replace_outcome(base, Sy, Syy),
        Sx,
        Sxx,
        Sxy,
        pt.as_tensor(p["mus"][s]),
        a_r,
        pt.as_tensor(p["bs"][s]),
        pt.as_tensor(p["sigma"]),
        [pt.as_tensor(t) for t in p["tau"][:q]],
        pt.as_tensor(p["rho"]) if q == 2 else None,
    ).eval()
    xs = _filled(panel, p)
    t0, t1 = p["tau"]
    Sigma = np.array([[t0**2, p["rho"] * t0 * t1], [p["rho"] * t0 * t1, t1**2]])[:q, :q]
    expected = 0.0
    for j in range(panel.n_persons):
        rows = panel.person == j
        if not rows.any():
            continue
        c = [xs[rows, k] - p["mus"][k][j] for k in range(2)]
        Z = np.column_stack([np.ones(rows.sum()), c[s]])[:, :q]
        V = p["sigma"] ** 2 * np.eye(rows.sum()) + Z @ Sigma @ Z.T
        mean = p["a"][j] + sum(p["bs"][k][j] * c[k] for k in range(2))
        mean = mean + panel.controls[rows] @ GAMMA
        expected += stats.multivariate_normal(mean, V).logpdf(panel.y[rows])
    assert value == pytest.approx(expected, rel=1e-8)


def test_person_effect_draws_of_two_predictors_follow_their_conditional_posterior(panel):
    p = _parameters(panel, seed=1)
    base = latent_sums(panel.predictor(0))
    S, J, s = 20000, panel.n_persons, 0
    Sy, _, Sx, Sxx, Sxy, a_r = many_terms(
        many_sums(panel),
        J,
        p["imputed"],
        p["mus"],
        p["a"],
        p["bs"],
        GAMMA,
        s,
        base.Sy,
        base.Syy,
        module=np,
    )

    def rep(v):
        return np.broadcast_to(v, (S, J))

    u = draw_from_sums(
        base.n,
        rep(Sy),
        rep(Sx),
        rep(Sxx),
        rep(Sxy),
        rep(p["mus"][s]),
        rep(a_r),
        rep(p["bs"][s]),
        np.full(S, p["sigma"]),
        np.broadcast_to(p["tau"], (S, 2)),
        np.full(S, p["rho"]),
        np.random.default_rng(2),
    )
    xs = _filled(panel, p)
    t0, t1 = p["tau"]
    Sigma = np.array([[t0**2, p["rho"] * t0 * t1], [p["rho"] * t0 * t1, t1**2]])
    for j in range(J):
        rows = panel.person == j
        c = [xs[rows, k] - p["mus"][k][j] for k in range(2)]
        Z = np.column_stack([np.ones(rows.sum()), c[s]])
        P = np.linalg.inv(Sigma) + Z.T @ Z / p["sigma"] ** 2
        cov = np.linalg.inv(P)
        r = panel.y[rows] - p["a"][j] - p["bs"][0][j] * c[0] - p["bs"][1][j] * c[1]
        r = r - panel.controls[rows] @ GAMMA
        mean = cov @ Z.T @ r / p["sigma"] ** 2
        se = np.sqrt(np.diag(cov) / S)
        assert np.all(np.abs(u[:, j].mean(axis=0) - mean) < 5 * se)
        assert np.allclose(np.cov(u[:, j].T), cov, rtol=0.06, atol=1e-3)


@pytest.mark.parametrize("marginal", [True, False])
def test_two_predictor_model_has_the_observed_names(panel, marginal):
    structure = LatentStructure(
        predictors=(0, 1),
        within=(True, True),
        between=(True, True),
        interaction=(True, False),
        slope=0,
    )
    model = build_latent_model(panel, "M3", marginal=marginal, structure=structure)
    named = set(model.pymc_model.named_vars)
    assert {"x_cw", "x_pm", "z_cw", "z_pm", "w", "x_cw:w", "k", "x_mu", "z_mu"} <= named
    assert {"x_mu_mean", "z_mu_mean", "x_within_sd", "z_within_sd", "z_mu:w"} <= named
    assert {"x_imputed", "z_imputed", "x_cw|person_sigma"} <= named
    assert "z_cw:w" not in named
    assert model.terms.group_slope == "x_cw|person" and model.terms.slope == "x_cw"
    point = model.pymc_model.initial_point()
    assert np.isfinite(model.pymc_model.compile_logp()(point))


TWO = (
    "{y} ~ 1 + {x0_within} + {x0_between} + {x1_within} + {x1_between} + {w} "
    "+ {x0_within}:{w} + ({x0_within} | {person})"
)


def _prepared(frame, *, standardize=False, detrend=False, controls=("k",)):
    from ambidex_bayes.data import ColumnMapping, load_diary
    from ambidex_bayes.prepare import prepare

    mapping = ColumnMapping.from_dict(
        {
            "person": "person",
            "occasion": "day",
            "outcome": "y",
            "level1": ["x", "z"],
            "level2": ["w"],
            "controls": list(controls),
        }
    )
    return prepare(load_diary(frame, mapping), standardize=standardize, detrend=detrend)


def _spec(formula=TWO, *, controls=True, family="gaussian"):
    from ambidex_bayes.spec import ModelSpec, load_spec

    base = load_spec("M3").to_dict()
    return ModelSpec.from_dict(
        {
            **base,
            "formula": formula,
            "optional_roles": [],
            "include_controls": controls,
            "family": family,
        },
        source="two.toml",
    )


def test_latent_centring_takes_several_predictors_and_says_what_it_refuses():
    from ambidex_bayes.centring import latent_unavailable_reason
    from ambidex_bayes.model.latent_ladder import latent_structure
    from ambidex_bayes.spec import load_spec

    frame = two_predictor_frame(20, (3, 5), missing=0.0)
    prepared = _prepared(frame)
    assert latent_unavailable_reason(_spec(), prepared) is None
    structure = latent_structure(_spec(), prepared)
    assert structure.predictors == (0, 1) and structure.slope == 0
    assert structure.interaction == (True, False)
    # the bundled ladder uses the first predictor only, as the observed fit does
    assert latent_unavailable_reason(load_spec("M3"), prepared) is None
    assert latent_structure(load_spec("M3"), prepared).predictors == (0,)
    slopes = TWO.replace("({x0_within} | {person})", "({x0_within} + {x1_within} | {person})")
    assert "at most one person slope" in latent_unavailable_reason(_spec(slopes), prepared)
    product = TWO + " + {x0_within}:{x1_within}"
    assert "cannot model the formula term" in latent_unavailable_reason(_spec(product), prepared)
    assert "Gaussian" in latent_unavailable_reason(_spec(family="t"), prepared)
    standardized = _prepared(frame, standardize=True)
    assert "unstandardised" in latent_unavailable_reason(_spec(), standardized)
    detrended = _prepared(frame, detrend=True)
    assert "undetrended" in latent_unavailable_reason(_spec(), detrended)
    reversed_product = TWO.replace("{x0_within}:{w}", "{w}:{x0_within}")
    reason = latent_unavailable_reason(_spec(reversed_product), prepared)
    assert "{w}:{x0_within}" in reason
    sector = frame.assign(w=np.where(frame["w"] > 0, "a", "b"))
    assert "numeric moderator" in latent_unavailable_reason(_spec(), _prepared(sector))


def _fake_two_predictor_fit(seed=0):
    """A latent-centred fit of two predictors and a control from known draws; some values
    of both predictors missing on rows with an outcome (imputed in the draws)."""
    import dataclasses
    from types import SimpleNamespace

    import xarray as xr

    rng = np.random.default_rng(seed)
    prepared = _prepared(two_predictor_frame(10, (3, 5), missing=0.0, seed=seed))
    frame = prepared.frame.reset_index(drop=True).copy()
    frame.loc[rng.choice(len(frame), 3, replace=False), "x"] = np.nan
    frame.loc[rng.choice(len(frame), 2, replace=False), "z"] = np.nan
    prepared = dataclasses.replace(prepared, frame=frame)
    levels = list(pd.unique(frame["person"].astype(str)))
    shape, J = (2, 15), len(levels)
    scalars = [
        "Intercept",
        "x_cw",
        "x_pm",
        "z_cw",
        "z_pm",
        "w_c",
        "x_cw:w_c",
        "k",
        "x_mu_mean",
        "z_mu_mean",
        "sigma",
    ]
    variables = {n: (("chain", "draw"), rng.normal(0.3, 0.2, shape)) for n in scalars}
    for n in ("x_mu", "z_mu", "1|person", "x_cw|person"):
        variables[n] = (("chain", "draw", "person__factor_dim"), rng.normal(0, 1, (*shape, J)))
    for column in ("x", "z"):
        k = int(frame[column].isna().sum())
        variables[f"{column}_imputed"] = (
            ("chain", "draw", f"{column}_imputed__dim"),
            rng.normal(2.0, 1.0, (*shape, k)),
        )
    post = xr.Dataset(variables, coords={"person__factor_dim": levels})
    from ambidex_bayes.model.latent_centring import latent_terms
    from ambidex_bayes.model.latent_ladder import latent_structure

    spec = SimpleNamespace(name="M3", family="gaussian", include_controls=True)
    data = latent_data(
        frame, y="y", x="x", person="person", w="w_c", controls=("k",), others=("z",)
    )
    return SimpleNamespace(
        spec=spec,
        terms=latent_terms(data, "M3", structure=latent_structure(_spec(), prepared)),
        prepared=prepared,
        idata=xr.DataTree.from_dict({"posterior": post}),
        formula=TWO,
        meta={"centring": "latent", "latent_names": {"predictors": ["x", "z"]}},
    )


@pytest.mark.parametrize("group_specific", [True, False])
def test_latent_linear_predictor_of_two_predictors_and_a_control_by_hand(group_specific):
    from ambidex_bayes.checks.indexed_predictor import linear_predictor_draws, predictor_design
    from ambidex_bayes.checks.latent_predictor import (
        latent_person_parameters,
        latent_within_draws,
    )

    fit = _fake_two_predictor_fit()
    post = fit.idata["posterior"].to_dataset()
    design = predictor_design(fit, post, group_specific=group_specific)
    got = linear_predictor_draws(design, post, name="M3")
    frame = fit.prepared.frame
    persons = [str(p) for p in post["person__factor_dim"].values]
    order = {c: {int(r): i for i, r in enumerate(np.flatnonzero(frame[c].isna()))} for c in "xz"}
    want = np.zeros_like(got)
    slope_part = np.zeros_like(got)
    for c in range(2):
        for d in range(15):

            def v(name, *at, c=c, d=d):
                return float(post[name].values[(c, d, *at)])

            for i, row in frame.iterrows():
                j = persons.index(str(row["person"]))
                within = {}
                eta = v("Intercept") + v("w_c") * row["w_c"] + v("k") * row["k"]
                for col in "xz":
                    value = row[col] if i not in order[col] else v(f"{col}_imputed", order[col][i])
                    within[col] = value - v(f"{col}_mu", j)
                    eta += v(f"{col}_cw") * within[col]
                    eta += v(f"{col}_pm") * (v(f"{col}_mu", j) - v(f"{col}_mu_mean"))
                eta += v("x_cw:w_c") * row["w_c"] * within["x"]
                if group_specific:
                    eta += v("1|person", j) + v("x_cw|person", j) * within["x"]
                want[c, d, i] = eta
                slope_part[c, d, i] = within["x"]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        latent_within_draws(design, post), slope_part.reshape(30, -1), rtol=1e-12
    )
    assert latent_person_parameters(fit) == {"x_mu", "z_mu"}


def _fit(spec, prepared, centring, **settings):
    import warnings

    from ambidex_bayes.fit import SamplerSettings, fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short runs: ESS warnings expected
        return fit(
            spec,
            prepared,
            settings=SamplerSettings(backend="nutpie", **settings),
            cache_dir=False,
            progressbar=False,
            verbose=False,
            centring=centring,
        )


def _agree(a, b, allowed=0.0):
    """Whether two fits' posterior means of a variable agree within 4 MC SEs (+ allowed);
    for vectors, 97% of the entries."""
    import arviz_stats as azs

    se = np.sqrt(azs.mcse(a).to_numpy() ** 2 + azs.mcse(b).to_numpy() ** 2)
    diff = np.abs(a.mean(("chain", "draw")).to_numpy() - b.mean(("chain", "draw")).to_numpy())
    within = diff < 4.0 * se + allowed
    return within.mean() >= (1.0 if within.ndim == 0 else 0.97), (diff, se)


@pytest.mark.fit
def test_fast_path_agrees_with_full_nuts_for_two_predictors_and_a_control():
    prepared = _prepared(two_predictor_frame(50, (2, 6), seed=11))
    assert prepared.partial_rows is not None and len(prepared.partial_rows) > 0
    sampling = dict(draws=400, tune=400, chains=2, seed=8)
    fits = {
        fast: _fit(_spec(), prepared, "latent", fast_path=fast, **sampling)
        for fast in (True, False)
    }
    post = {k: v.idata["posterior"] for k, v in fits.items()}
    assert set(post[True].data_vars) == set(post[False].data_vars)
    names = [
        "Intercept",
        "x_cw",
        "x_pm",
        "z_cw",
        "z_pm",
        "w_c",
        "x_cw:w_c",
        "k",
        "sigma",
        "1|person_sigma",
        "x_cw|person_sigma",
        "x_mu_mean",
        "z_mu_mean",
        "z_within_sd",
        "x_mu",
        "z_mu",
        "1|person",
        "x_cw|person",
        "x_imputed",
        "z_imputed",
    ]
    for name in names:
        ok, detail = _agree(post[True][name], post[False][name])
        assert ok, (name, detail)


@pytest.mark.slow
def test_high_reliability_latent_and_observed_fits_of_two_predictors_agree():
    frame = two_predictor_frame(60, (30, 30), seed=7, missing=0.0)
    prepared = _prepared(frame)
    assert min(prepared.person_mean_reliability.values()) > 0.9
    sampling = dict(draws=400, tune=400, chains=2, seed=4)
    latent = _fit(_spec(), prepared, "latent", **sampling)
    observed = _fit(_spec(), prepared, "observed", **sampling)
    lp, op = latent.idata["posterior"], observed.idata["posterior"]
    fixed = ["Intercept", "x_cw", "x_pm", "z_cw", "z_pm", "w_c", "x_cw:w_c", "k", "sigma"]
    assert set(fixed) | {"1|person", "x_cw|person"} <= set(op.data_vars) & set(lp.data_vars)
    rel = prepared.person_mean_reliability
    # the observed person intercepts keep the part of the between effects that the
    # attenuated observed ones miss: beta_B^2 tau^2 (1 - reliability) of variance
    extra = sum(
        float(lp[f"{c}_pm"].mean()) ** 2 * float(lp[f"{c}_mu_sd"].mean()) ** 2 * (1 - rel[c])
        for c in "xz"
    )
    for name in fixed + ["1|person_sigma"]:
        # the observed between effects stay attenuated by about 1 - reliability
        column = {"x_pm": "x", "z_pm": "z"}.get(name)
        allowed = 0.0
        if column is not None:
            allowed = (1.0 - rel[column]) * abs(float(lp[name].mean())) + 0.02
        if name == "1|person_sigma":
            allowed = extra / (2.0 * float(lp[name].mean())) + 0.005
        ok, detail = _agree(lp[name], op[name], allowed)
        assert ok, (name, detail)


def test_exact_refits_score_rows_with_any_imputed_predictor(monkeypatch):
    import xarray as xr

    from ambidex_bayes.checks.loo import _refit_row_log_density

    fit = _fake_two_predictor_fit()
    post = fit.idata["posterior"].to_dataset()
    for column in ("x", "z"):  # the predictors' own models, which the scores need
        post[f"{column}_within_sd"] = (("chain", "draw"), np.full(post["sigma"].shape, 0.8))
    fit.idata = xr.DataTree.from_dict({"posterior": post})
    fit_module = importlib.import_module("ambidex_bayes.fit")  # the module, not ab.fit
    monkeypatch.setattr(fit_module, "fit", lambda spec, prepared, **options: fit)
    frame = fit.prepared.frame
    rows = np.flatnonzero(frame[["x", "z"]].isna().any(axis=1).to_numpy())
    assert set(np.flatnonzero(frame["z"].isna()).tolist()) <= set(rows.tolist())
    assert set(np.flatnonzero(frame["x"].isna()).tolist()) <= set(rows.tolist())
    scores = [_refit_row_log_density(fit, int(i), settings=None, cache_dir=False) for i in rows]
    assert np.all(np.isfinite(scores))
