"""The structural check before any sampling: a finite log density and gradient at the start.

:func:`check_initial_point` evaluates the model's log density and its gradient at the
initial point and refuses to sample when either is not finite. The compiled check is kept
by model structure (:data:`COMPILED_CHECKS`), so models that differ only in their data or
prior values share one compiled function.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

import numpy as np
import pymc as pm
from pymc.logprob.utils import ParameterValueError

from ambidex_bayes.errors import ModelError

__all__ = ["COMPILED_CHECKS", "InitialPointCheck", "check_initial_point"]

#: A compiled check: (model, point) -> (log density, gradient) at the point, with the
#: model's current data and prior values.
type InitialPointCheck = Callable[[pm.Model, Mapping[str, np.ndarray]], tuple[float, np.ndarray]]

#: Compiled initial-point checks, by model structure (see :func:`check_initial_point`).
COMPILED_CHECKS: dict[Hashable, InitialPointCheck] = {}


def _compile_check(model: pm.Model) -> InitialPointCheck:
    """A function of (value variables, data variables) giving the log density and gradient.

    The data variables become explicit inputs of unknown shape, so one compiled function
    serves every model of the same structure, whatever its data or prior values.
    """
    import pytensor
    from pytensor.graph.replace import graph_replace

    data_vars = list(model.data_vars)
    inputs = {v: v.type.clone(shape=(None,) * v.type.ndim)(name=v.name) for v in data_vars}
    # the log density's terms are summed after the call: an addition of more than 32 terms
    # (a model with many variables) cannot run in FAST_COMPILE's Python mode
    terms = [pm.math.sum(t) for t in model.logp(sum=False)]
    gradient = model.dlogp()
    outputs = graph_replace([gradient, *terms], inputs, strict=False)
    fn = pytensor.function(
        [*model.value_vars, *inputs.values()],
        outputs,
        mode="FAST_COMPILE",
        on_unused_input="ignore",
    )
    value_names = [v.name for v in model.value_vars]
    data_names = [v.name for v in data_vars]

    def check(model: pm.Model, point: Mapping[str, np.ndarray]) -> tuple[float, np.ndarray]:
        data = {v.name: v.get_value() for v in model.data_vars}
        gradient, *terms = fn(*[point[n] for n in value_names], *[data[n] for n in data_names])
        return float(np.sum(terms)), gradient

    return check


def check_initial_point(
    model: pm.Model, *, source: str = "model", reuse_key: Hashable | None = None
) -> None:
    """Refuse to sample when the log density or its gradient is not finite at the start.

    A cheap structural check run before every fit: a non-finite value here means a prior
    with impossible parameters, data outside the likelihood's support, or a broken design.

    Parameters
    ----------
    model : pymc.Model
    source : str
        Named in the error message (the spec file).
    reuse_key : hashable, optional
        Models built from the same structure (formula, families, prior families) share one
        compiled check under this key; new data or prior values are passed to it as inputs.
        Without a key the check is compiled for this model alone.
    """
    point = model.initial_point()
    check = COMPILED_CHECKS.get(reuse_key) if reuse_key is not None else None
    if check is None:
        check = _compile_check(model)
        if reuse_key is not None:
            COMPILED_CHECKS[reuse_key] = check
    try:
        logp, grad = check(model, point)
    except ParameterValueError:  # a prior or likelihood parameter outside its support
        logp, grad = -np.inf, None
    if not np.isfinite(logp):
        terms = model.point_logps(point)
        bad = [k for k, v in terms.items() if not np.isfinite(v)]
        raise ModelError(
            f"{source}: the log density is not finite at the initial point "
            f"(non-finite terms: {', '.join(bad) or 'unknown'}). Check the priors and the data."
        )
    if not np.all(np.isfinite(grad)):
        raise ModelError(
            f"{source}: the gradient of the log density is not finite at the initial point. "
            "Check for constant predictors, extreme values or priors with zero width."
        )
