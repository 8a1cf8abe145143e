"""One compiled model, sampled under many prior sets (PyMC's NUTS).

Prior sets that use the same distribution families differ only in numbers. A model built
with every prior parameter in a ``pm.Data`` variable (``build_model(..., prior_data=True)``)
is therefore compiled once (:class:`ReusableModel`: its log density and gradient, the
initial-point function and, for the full model, the pointwise log-likelihood), and each set
only sets those values (:meth:`ReusableModel.set_priors`) before sampling.

The sampler's start is PyMC's default ``jitter+adapt_diag`` done with the compiled function:
each chain starts at the model's initial point plus a uniform jitter in [-1, 1] on the
unconstrained scale (redrawn until the log density is finite), and the diagonal mass-matrix
adaptation starts from the mean of those points; seeds are derived from the sampler seed as
``pm.sample`` derives them. The same seed therefore gives the same draws whether the model
was compiled for this prior set or re-used from another one.

:func:`model_priors` reads a built model's priors with their numbers, and
:func:`prior_structure` their families: what a compiled model depends on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import xarray as xr

from ambidex_bayes.engine.sampling import complete_marginal, without_internal
from ambidex_bayes.engine.settings import SamplerSettings
from ambidex_bayes.errors import ModelError
from ambidex_bayes.model.build import PRIOR_DATA_PREFIX, BuiltModel, build_model
from ambidex_bayes.spec import PriorSpec

if TYPE_CHECKING:
    from pymc.model.core import ValueGradFunction

    from ambidex_bayes.engine.result import FitResult

__all__ = ["ReusableModel", "model_priors", "fit_priors", "prior_structure"]


# --- priors with numbers -----------------------------------------------------------------


def model_priors(built: BuiltModel) -> dict[str, PriorSpec]:
    """Every prior of a model built with ``prior_data=True``, with its numbers.

    Returns
    -------
    dict of str to PriorSpec
        Rendered parameter name (``"Intercept"``, ``"1|person_sigma"``, ``"corr(person)"``,
        ``"sigma"``, ...) -> its distribution and the current values of its ``pm.Data``
        parameters (Bambi's data-scaled numbers where the spec gives none).
    """
    params: dict[str, dict[str, float]] = {}
    for var in built.pymc_model.data_vars:
        name = str(var.name)
        if not name.startswith(PRIOR_DATA_PREFIX):
            continue
        parameter, _, param = name[len(PRIOR_DATA_PREFIX) :].rpartition("].")
        params.setdefault(parameter, {})[param] = float(np.asarray(var.get_value()))
    if not params:
        raise ModelError(
            "model_priors() needs a model built with build_model(..., prior_data=True)."
        )
    out = {}
    for name, info in built.priors.items():
        if name in params:
            out[name] = PriorSpec(dist=str(info["prior"]).split("(", 1)[0], params=params[name])
    return out


def fit_priors(result: FitResult) -> dict[str, PriorSpec]:
    """The priors of a fit with their numbers (rebuilds its model; no sampling)."""
    return model_priors(build_model(result.spec, result.prepared, prior_data=True))


def prior_structure(priors: Mapping[str, PriorSpec]) -> tuple[tuple[str, str], ...]:
    """The distribution family of each parameter: what a compiled model depends on."""
    return tuple(sorted((name, prior.dist) for name, prior in priors.items()))


# --- one compiled model, many prior sets -------------------------------------------------


class ReusableModel:
    """A PyMC model whose prior parameters are data, compiled once, sampled per prior set.

    Parameters
    ----------
    built : BuiltModel
        From ``build_model(spec, prepared, prior_data=True)``.

    Attributes
    ----------
    compile_seconds : float
        Time spent compiling (log density and gradient, initial-point and
        log-likelihood functions); 0 until :meth:`compile` runs.
    """

    def __init__(self, built: BuiltModel) -> None:
        self.built = built
        self.model = built.pymc_model
        self.marginal = built.is_marginal
        self.structure = (self.marginal, prior_structure(model_priors(built)))
        self.compile_seconds = 0.0
        self._logp_dlogp: ValueGradFunction | None = None

    def set_priors(self, priors: Mapping[str, PriorSpec]) -> None:
        """Set every prior parameter to the numbers of ``priors`` (same families)."""
        if prior_structure(priors) != self.structure[1]:
            raise ModelError(
                "these priors use other distribution families than the compiled model; "
                "build a ReusableModel for them."
            )
        for name, prior in priors.items():
            for param, value in prior.params.items():
                self.model.set_data(f"{PRIOR_DATA_PREFIX}{name}].{param}", float(value))

    def compile(self) -> float:
        """Compile the functions sampling needs (once); returns the seconds it took."""
        if self._logp_dlogp is not None:
            return 0.0
        from pymc.initial_point import make_initial_point_fns_per_chain
        from pymc.model.transform.conditioning import remove_value_transforms

        start = time.perf_counter()
        model = self.model
        self._logp_dlogp = model.logp_dlogp_function(ravel_inputs=True)
        self._logp_dlogp.trust_input = True
        self._initial_point = make_initial_point_fns_per_chain(
            model=model, overrides=None, jitter_rvs=set(model.free_RVs), chains=1
        )[0]
        outs = []
        for rv, value in zip(model.free_RVs, model.value_vars, strict=True):
            transform = model.rvs_to_transforms[rv]
            outs.append(value if transform is None else transform.backward(value, *rv.owner.inputs))
        self._to_constrained = model.compile_fn(outs, inputs=model.value_vars, point_fn=False)
        if self.marginal:  # the person effects and log-likelihood are computed afterwards
            self.compile_seconds = time.perf_counter() - start
            return self.compile_seconds
        umodel = remove_value_transforms(model)
        self._loglik_vars = [rv.name for rv in umodel.observed_RVs]
        self._free_names = [rv.name for rv in model.free_RVs]
        self._coords_dims = (umodel.coords, umodel.named_vars_to_dims)
        self._loglik = umodel.compile_fn(
            inputs=umodel.value_vars,
            outs=umodel.logp(vars=umodel.observed_RVs, sum=False),
            on_unused_input="ignore",
        )
        self._umodel = umodel
        self.compile_seconds = time.perf_counter() - start
        return self.compile_seconds

    def _logp(self, point: Mapping[str, np.ndarray]) -> float:
        from pymc.blocking import DictToArrayBijection

        q, _ = DictToArrayBijection.map(dict(point))
        return float(self._logp_dlogp([q], extra_vars={})[0])

    def _start(self, seed: int, chains: int) -> tuple[list[dict], list[int]]:
        from pymc.util import get_random_generator

        names = [v.name for v in self.model.value_vars]
        seeds = [int(rng.integers(2**30)) for rng in get_random_generator(seed).spawn(chains)]
        points = []
        for chain_seed in seeds:
            rng = np.random.default_rng(chain_seed)
            current = chain_seed
            for _ in range(11):
                point = self._initial_point(current)
                if np.isfinite(self._logp({k: point[k] for k in names})):
                    break
                current = int(rng.integers(2**30, dtype=np.int64))
            else:
                raise ModelError(
                    "no start with a finite log density was found in 11 jittered tries; "
                    "check the priors (their supports and widths) and the data."
                )
            points.append({k: point[k] for k in names})
        return points, seeds

    def check(self, *, source: str = "model") -> None:
        """Refuse to sample when the log density or its gradient is not finite at a start.

        The same structural check as :func:`ambidex_bayes.model.build.check_initial_point`,
        with the compiled function (no new compilation per prior set).
        """
        from pymc.blocking import DictToArrayBijection

        self.compile()
        try:
            points, _ = self._start(0, 1)
        except ModelError as err:
            raise ModelError(f"{source}: {err}") from None
        q, _ = DictToArrayBijection.map(points[0])
        grad = np.asarray(self._logp_dlogp([q], extra_vars={})[1])
        if not np.all(np.isfinite(grad)):
            raise ModelError(
                f"{source}: the gradient of the log density is not finite at the start point. "
                "Check for priors with zero width or extreme values."
            )

    def sample(self, settings: SamplerSettings, *, progressbar: bool = False) -> xr.DataTree:
        """Sample with the current prior values (PyMC NUTS; see the module notes)."""
        from pymc.blocking import DictToArrayBijection
        from pymc.step_methods.hmc import quadpotential

        settings = settings.resolved()
        self.compile()
        points, seeds = self._start(settings.seed, settings.chains)
        arrays = [DictToArrayBijection.map(p).data for p in points]
        mean = np.mean(arrays, axis=0)
        potential = quadpotential.QuadPotentialDiagAdapt(
            len(mean), mean, np.ones_like(mean), 10, rng=seeds[0]
        )
        step = pm.NUTS(
            potential=potential,
            model=self.model,
            rng=seeds[0],
            initial_point=points[0],
            logp_dlogp_func=self._logp_dlogp,
            target_accept=settings.target_accept,
        )
        names = [v.name for v in self.model.value_vars]
        initvals = []
        for point in points:
            values = self._to_constrained(*[point[n] for n in names])
            initvals.append({rv.name: v for rv, v in zip(self.model.free_RVs, values, strict=True)})
        return pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, os.cpu_count() or 1),
            random_seed=settings.seed,
            step=step,
            initvals=initvals,
            model=self.model,
            nuts_sampler="pymc",
            progressbar=progressbar,
            compute_convergence_checks=False,
        )

    def finish(self, idata: xr.DataTree, settings: SamplerSettings) -> xr.DataTree:
        """Complete the draws as :func:`ambidex_bayes.fit.fit` does.

        Full model: add the pointwise log-likelihood and drop the internal variables. Fast
        path: draw the person effects exactly and compute the log-likelihood per draw, with
        the same seed as ``fit`` (``ambidex_bayes.engine.sampling.sample_marginal``).
        """
        if self.marginal:  # as fit() completes them; only the sampling step is compiled once
            idata = complete_marginal(idata, self.built, settings.resolved(), log_likelihood=True)
        else:
            idata = _finish_idata(idata, self.log_likelihood(idata))
        if "constant_data" in idata.children:
            del idata["constant_data"]
        return idata

    def log_likelihood(self, idata: xr.DataTree) -> xr.Dataset:
        """Pointwise log-likelihood of every draw of the full model (needs the full posterior,
        ``_``-variables too)."""
        from pymc.backends.arviz import apply_function_over_dataset

        if self.marginal:
            raise ModelError("the fast-path model's log-likelihood comes with finish().")
        self.compile()
        posterior = idata["posterior"].to_dataset()[self._free_names]
        coords, dims = self._coords_dims
        coords = {k: np.array(v) if isinstance(v, tuple) else v for k, v in coords.items()}
        dims = {k: list(v) for k, v in dims.items()}
        return apply_function_over_dataset(
            self._loglik,
            posterior,
            output_var_names=self._loglik_vars,
            sample_dims=("chain", "draw"),
            dims=dims,
            coords=coords,
            progressbar=False,
        )


def _finish_idata(idata: xr.DataTree, loglik: xr.Dataset) -> xr.DataTree:
    """Add the log-likelihood and drop internal variables (as ``fit`` does)."""
    idata["log_likelihood"] = xr.DataTree(loglik)
    idata["posterior"] = xr.DataTree(without_internal(idata["posterior"].to_dataset()))
    return idata
