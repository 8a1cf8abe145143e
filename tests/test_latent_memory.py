"""A latent-centred fit whose posterior clearly exceeds the memory is refused before
sampling, with the estimate by part (person effects, latent person means, imputed values)."""

from __future__ import annotations

import pytest
from latent_fits import prepare_panel, quiet_fit

from ambidex_bayes import memory
from ambidex_bayes.errors import ResourceError
from ambidex_bayes.fit import SamplerSettings
from ambidex_bayes.model.latent_simulate import simulate_latent_panel
from ambidex_bayes.spec import load_spec


def test_posterior_bytes_counts_latent_means_and_imputed_values():
    parts = memory.posterior_bytes(
        rows=500,
        persons=100,
        effects=2,
        draws=1000,
        chains=4,
        log_likelihood=False,
        latent_means=3,
        imputed=40,
    )
    assert parts == {
        "person effects": 4000 * 100 * 2 * 8 * memory.DRAW_COPIES,
        "latent person means": 4000 * 100 * 3 * 8,
        "imputed predictor values": 4000 * 40 * 8,
    }
    # an observed fit's parts are unchanged
    assert set(
        memory.posterior_bytes(
            rows=500, persons=100, effects=2, draws=1000, chains=4, log_likelihood=True
        )
    ) == {"person effects", "pointwise log-likelihood"}


def test_a_latent_fit_too_large_for_the_memory_is_refused_before_sampling(monkeypatch):
    nutpie = pytest.importorskip("nutpie")

    def never(*args, **kwargs):
        raise AssertionError("sampled a fit that should have been refused")

    monkeypatch.setattr(nutpie, "sample", never)
    monkeypatch.delenv(memory.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)  # 1 MB
    prepared = prepare_panel(simulate_latent_panel(60, (3, 5), seed=4, missing_x=0.1))
    settings = SamplerSettings(backend="nutpie", draws=1000, tune=100, chains=4, seed=1)
    with pytest.raises(ResourceError) as info:
        quiet_fit(load_spec("M3"), prepared, settings)
    message = str(info.value)
    assert "latent person means" in message and "imputed predictor values" in message
    assert "4 chains x 1000 draws" in message and "60 persons" in message
    assert "--draws" in message and memory.SKIP_VARIABLE in message
