"""Conditionally non-centred latent means of the fast path: the same model, other coordinates.

The log density in the sampled coordinates must be the plain parameterisation's plus the log
Jacobian, exactly; with random intercepts only and every day complete, the Gaussian
approximation behind the coordinates is the exact conditional posterior, so each sampled
coordinate is standard normal given the rest (its gradient is minus itself).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_latent_many import two_predictor_frame

from ambidex_bayes.model.latent_centring import build_latent_model
from ambidex_bayes.model.latent_data import latent_data
from ambidex_bayes.model.latent_simulate import simulate_latent_panel


def _data(missing: float = 0.0, *, persons: int = 12, seed: int = 4):
    df = simulate_latent_panel(persons, (1, 6), seed=seed, missing_x=missing, missing_y=missing)
    return latent_data(df, y="y", x="x", person="person", w="w")


def _random_point(model, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        k: v + 0.4 * rng.standard_normal(np.shape(v))
        for k, v in model.pymc_model.initial_point().items()
    }


def _standardised_means(guided, point, data, predictor: int = 0) -> np.ndarray:
    """z of the guided model at ``point``: (mu - centre) / tau_x from its own variables
    (``data`` the real persons' data, for the names; ``predictor`` the level-1 predictor)."""
    pymc_model = guided.pymc_model
    nm = data.predictor(predictor).names if data.n_predictors > 1 else data.names
    names = [nm.mu, nm.mu_mean, nm.mu_sd] + ([nm.mu_moderator] if data.w is not None else [])
    outputs = pymc_model.replace_rvs_by_values([pymc_model[name] for name in names])
    values = pymc_model.compile_fn(
        outputs, inputs=pymc_model.value_vars, on_unused_input="ignore", point_fn=True
    )(point)
    mu, mean, sd = values[:3]
    # the model's moderator (0 for padding persons)
    w = pymc_model["_w"].get_value() if data.w is not None else 0.0
    centre = mean + (values[3] * w if data.w is not None else 0.0)
    return (mu - centre) / sd


@pytest.mark.parametrize("level", ["M1", "M2", "M3"])
@pytest.mark.parametrize("missing", [0.0, 0.2], ids=["complete", "partial rows"])
def test_log_density_is_the_plain_one_plus_the_log_jacobian(level, missing):
    data = _data(missing)
    guided = build_latent_model(data, level, model_persons=data.n_persons + 3)
    plain = build_latent_model(
        data, level, model_persons=data.n_persons + 3, conditional_means=False
    )
    assert guided.conditional_means and not plain.conditional_means
    assert guided.structure_key != plain.structure_key
    assert guided.priors == plain.priors
    logp_guided = guided.pymc_model.compile_logp()
    logp_plain = plain.pymc_model.compile_logp()
    for seed in range(3):
        point = _random_point(guided, seed)
        z = _standardised_means(guided, point, guided.data)
        # each z_j is affine in eta_j alone: its slope is the scale s_j
        step = 1e-3
        nudged = dict(point, _mu_eta=point["_mu_eta"] + step)
        scale = (_standardised_means(guided, nudged, guided.data) - z) / step
        assert np.all(scale > 0) and np.all(scale <= 1.0 + 1e-9)
        plain_point = {k: v for k, v in point.items() if k != "_mu_eta"}
        plain_point["_mu_z"] = z
        assert set(plain_point) == set(plain.pymc_model.initial_point())
        np.testing.assert_allclose(
            logp_guided(point),
            logp_plain(plain_point) + np.log(scale).sum(),
            rtol=1e-9,
            atol=1e-6,
        )


def test_padding_persons_keep_their_standard_normal_coordinate():
    data = _data(0.2)
    guided = build_latent_model(data, "M3", model_persons=data.n_persons + 4)
    point = _random_point(guided, 7)
    z = _standardised_means(guided, point, guided.data)
    np.testing.assert_allclose(z[data.n_persons :], point["_mu_eta"][data.n_persons :])
    assert not np.allclose(z[: data.n_persons], point["_mu_eta"][: data.n_persons])


@pytest.mark.parametrize("moderator", [True, False], ids=["with w", "without w"])
def test_coordinates_are_exact_conditionals_with_intercepts_only_and_complete_days(moderator):
    df = simulate_latent_panel(10, (2, 6), seed=3)
    data = latent_data(df, y="y", x="x", person="person", w="w" if moderator else None)
    guided = build_latent_model(data, "M1")
    dlogp = guided.pymc_model.compile_dlogp(vars=[guided.pymc_model["_mu_eta"]])
    for seed in range(3):
        point = _random_point(guided, seed)
        np.testing.assert_allclose(dlogp(point), -point["_mu_eta"], rtol=1e-8, atol=1e-8)
    # with random slopes the coordinates are only approximately standard normal
    m3 = build_latent_model(_data(), "M3")
    dlogp_m3 = m3.pymc_model.compile_dlogp(vars=[m3.pymc_model["_mu_eta"]])
    point = _random_point(m3, 0)
    assert not np.allclose(dlogp_m3(point), -point["_mu_eta"], atol=1e-6)


def test_only_the_fast_path_uses_the_conditional_coordinates():
    data = _data()
    assert build_latent_model(data, "M3").conditional_means
    assert not build_latent_model(data, "M3", marginal=False).conditional_means
    assert not build_latent_model(data, "M3", centred_means=True).conditional_means
    two = _two_predictors(two_predictor_frame(n_persons=8))
    model = build_latent_model(two, "M3")
    assert model.conditional_means
    assert {"_mu_eta", "_mu_eta1"} <= set(model.pymc_model.initial_point())
    assert not {"_mu_z", "_mu_z1"} & set(model.pymc_model.initial_point())


def _two_predictors(frame, *, controls: tuple[str, ...] = ("k",), w: str | None = "w"):
    return latent_data(frame, y="y", x="x", person="person", w=w, controls=controls, others=("z",))


def _jacobians(guided, point, data) -> np.ndarray:
    """Each person's matrix dz_j / d eta_j (the map is affine and acts person by person, so
    one step of every person's eta_p at once gives column p of every person's matrix)."""
    names = ["_mu_eta", "_mu_eta1"]
    z = np.stack([_standardised_means(guided, point, data, q) for q in range(2)], axis=-1)
    step = 1e-3
    columns = []
    for name in names:
        nudged = dict(point, **{name: point[name] + step})
        dz = np.stack([_standardised_means(guided, nudged, data, q) for q in range(2)], axis=-1)
        columns.append((dz - z) / step)
    return np.stack(columns, axis=-1)  # (J, q, p)


@pytest.mark.parametrize("level", ["M1", "M3"])
def test_two_predictors_log_density_is_the_plain_one_plus_the_log_jacobian(level):
    data = _two_predictors(two_predictor_frame(n_persons=10))
    guided = build_latent_model(data, level, model_persons=data.n_persons + 2)
    plain = build_latent_model(
        data, level, model_persons=data.n_persons + 2, conditional_means=False
    )
    logp_guided = guided.pymc_model.compile_logp()
    logp_plain = plain.pymc_model.compile_logp()
    for seed in range(3):
        point = _random_point(guided, seed)
        jacobians = _jacobians(guided, point, guided.data)
        # the predictors' coordinates are coupled through the outcome
        assert np.abs(jacobians[: data.n_persons, 0, 1]).max() > 1e-5
        plain_point = {k: v for k, v in point.items() if not k.startswith("_mu_eta")}
        plain_point["_mu_z"] = _standardised_means(guided, point, guided.data, 0)
        plain_point["_mu_z1"] = _standardised_means(guided, point, guided.data, 1)
        assert set(plain_point) == set(plain.pymc_model.initial_point())
        log_det = np.linalg.slogdet(jacobians)[1].sum()
        np.testing.assert_allclose(
            logp_guided(point), logp_plain(plain_point) + log_det, rtol=1e-9, atol=1e-5
        )


def test_two_predictors_coordinates_are_exact_conditionals_with_intercepts_only():
    frame = two_predictor_frame(n_persons=10, missing=0.0)
    data = _two_predictors(frame, controls=())
    guided = build_latent_model(data, "M1")
    pymc_model = guided.pymc_model
    dlogp = pymc_model.compile_dlogp(vars=[pymc_model["_mu_eta"], pymc_model["_mu_eta1"]])
    for seed in range(3):
        point = _random_point(guided, seed)
        expected = np.concatenate([-point["_mu_eta"], -point["_mu_eta1"]])
        np.testing.assert_allclose(dlogp(point), expected, rtol=1e-8, atol=1e-8)


def test_two_predictors_padding_persons_keep_their_standard_normal_coordinates():
    data = _two_predictors(two_predictor_frame(n_persons=8))
    guided = build_latent_model(data, "M3", model_persons=data.n_persons + 3)
    point = _random_point(guided, 5)
    for q, name in enumerate(["_mu_eta", "_mu_eta1"]):
        z = _standardised_means(guided, point, guided.data, q)
        np.testing.assert_allclose(z[data.n_persons :], point[name][data.n_persons :])
        assert not np.allclose(z[: data.n_persons], point[name][: data.n_persons])
