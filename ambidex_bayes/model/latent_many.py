r"""The fast path of latent centring with several level-1 predictors.

With predictors :math:`p = 1, \dots, P` (each with latent person means :math:`\mu_{pj}`)
and controls :math:`k_{ij}`, the outcome of person :math:`j` is

.. math::

    y_{ij} = a_j + \sum_p b_{pj} (x_{pij} - \mu_{pj}) + k_{ij}^\top\gamma
        + u_{0j} + u_{1j} (x_{sij} - \mu_{sj}) + e_{ij},

with :math:`s` the predictor whose slope varies over persons (any one when none does).
Moving every term but the :math:`s`-th predictor's within part into the outcome,
:math:`\tilde y = y - \sum_{p \ne s} b_{pj} x_{pij} - k_{ij}^\top\gamma` and
:math:`\tilde a_j = a_j - \sum_{p \ne s} b_{pj}\mu_{pj}`, gives the one-predictor model of
:mod:`ambidex_bayes.model.latent_fast_path` in :math:`x_s`, whose likelihood with the person
effects integrated out needs the per-person sums of :math:`\tilde y`. With the row vector
:math:`D_{ij} = (x_{1ij}, \dots, x_{Pij}, k_{ij})` and per person the coefficients
:math:`\theta_j` (:math:`b_{pj}` for :math:`p \ne s`, 0 for :math:`s`, then :math:`\gamma`),

.. math::

    S_{\tilde y} = S_y - S_D^\top\theta_j, \qquad
    S_{\tilde y\tilde y} = S_{yy} - 2 S_{Dy}^\top\theta_j + \theta_j^\top S_{DD}\theta_j,
    \qquad S_{x_s\tilde y} = (S_{Dy})_s - (S_{DD}\theta_j)_s,

from :math:`S_D = \sum D`, :math:`S_{DD} = \sum D^\top D` and :math:`S_{Dy} = \sum D y`
(:math:`S_{x_s} = (S_D)_s`, :math:`S_{x_s x_s} = (S_{DD})_{ss}`). The rows where every
predictor is observed give constant sums; the rows with an imputed predictor (parameters)
add theirs by index, O(rows with an imputed value) per gradient.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytensor.tensor as pt

from ambidex_bayes.model.latent_data import LatentData

__all__ = ["ManySums", "many_sums", "many_terms"]

#: Arrays or tensors (NumPy per draw, PyTensor in the model).
type Values = np.ndarray | pt.TensorVariable


@dataclass(frozen=True)
class ManySums:
    """Per-person sums of the outcome rows for several predictors (module docstring).

    Attributes
    ----------
    SD, SDy : ndarray (J, L)
        Over the rows with every predictor observed; L = P + K.
    SDD : ndarray (J, L, L)
    inc_person : ndarray (m,)
        Person of each row with an imputed predictor (floats inside a model).
    inc_D : ndarray (m, L)
        Those rows' D, 0 where a predictor is imputed.
    inc_y : ndarray (m,)
    slots : tuple of ndarray
        Per predictor, the positions among those rows of its imputed values, in the order
        of its ``{x}_imputed``.
    """

    SD: Values
    SDD: Values
    SDy: Values
    inc_person: Values
    inc_D: Values
    inc_y: Values
    slots: tuple[Values, ...]

    def as_data(self) -> ManySums:
        """The same sums as ``pm.Data`` variables ``_lm_<field>`` (inside a model context),
        so that a compiled model serves other data of the same sizes; indices are cast to
        integers."""
        import pymc as pm

        def held(name: str, value: np.ndarray) -> pt.TensorVariable:
            return pm.Data(f"_lm_{name}", np.asarray(value, dtype=float))

        return ManySums(
            SD=held("SD", self.SD),
            SDD=held("SDD", self.SDD),
            SDy=held("SDy", self.SDy),
            inc_person=pt.cast(held("inc_person", self.inc_person), "int64"),
            inc_D=held("inc_D", self.inc_D),
            inc_y=held("inc_y", self.inc_y),
            slots=tuple(
                pt.cast(held(f"slot{p}", slot), "int64") for p, slot in enumerate(self.slots)
            ),
        )


def many_sums(data: LatentData) -> ManySums:
    """The sums of :class:`ManySums` of ``data`` (every predictor, then the controls)."""
    J = data.n_persons
    xs = data.xs
    D = np.column_stack([np.nan_to_num(xs, nan=0.0), data.controls])
    incomplete = np.isnan(xs).any(axis=1)
    full = ~incomplete

    def per(values: np.ndarray) -> np.ndarray:
        out = np.zeros((J, *values.shape[1:]))
        np.add.at(out, data.person[full], values[full])
        return out

    missing = np.isnan(xs[incomplete])
    return ManySums(
        SD=per(D),
        SDD=per(D[:, :, None] * D[:, None, :]),
        SDy=per(D * data.y[:, None]),
        inc_person=data.person[incomplete],
        inc_D=D[incomplete],
        inc_y=data.y[incomplete],
        slots=tuple(np.flatnonzero(missing[:, p]) for p in range(xs.shape[1])),
    )


def _scatter(target_shape: tuple, person: Values, values: Values, module: ModuleType) -> Values:
    """Per-person sums of ``values`` (rows first), shape ``target_shape``."""
    if module is np:
        out = np.zeros(target_shape)
        np.add.at(out, person, values)
        return out
    return pt.inc_subtensor(pt.zeros(target_shape)[person], values)


def many_terms(
    ms: ManySums,
    n_persons: int,
    x_imputed: list[Values | None],
    mus: list[Values],
    a: Values,
    bs: list[Values],
    gamma: Values | None,
    s: int,
    Sy: Values,
    Syy: Values,
    module: ModuleType = pt,
) -> tuple[Values, Values, Values, Values, Values, Values]:
    r"""The one-predictor model's sums in :math:`x_s` for the residualised outcome.

    Parameters
    ----------
    ms : ManySums
    n_persons : int
        J.
    x_imputed : list
        Per predictor, its imputed values (None when none are).
    mus : list
        Per predictor, its person means (J,).
    a : array or tensor (J,)
        Fixed part of each person's intercept.
    bs : list
        Per predictor, the fixed part of each person's within slope (J,).
    gamma : array or tensor (K,) or None
        The controls' fixed effects.
    s : int
        The predictor with person slopes (or any).
    Sy, Syy : array or tensor (J,)
        Sums of the outcome and its square over every outcome row.
    module : module
        :mod:`pytensor.tensor` (in the model) or :mod:`numpy` (one draw at a time).

    Returns
    -------
    tuple
        :math:`S_{\tilde y}, S_{\tilde y\tilde y}, S_{x_s}, S_{x_s x_s}, S_{x_s\tilde y}` and
        :math:`\tilde a` (module docstring), each (J,).
    """
    J = n_persons
    D = ms.inc_D
    for p, values in enumerate(x_imputed):
        if values is None:
            continue
        if module is np:
            D = np.array(D, dtype=float, copy=True)
            D[ms.slots[p], p] = values
        else:
            D = pt.set_subtensor(pt.as_tensor(D)[ms.slots[p], p], values)
    L = ms.SD.shape[1]
    SD = ms.SD + _scatter((J, L), ms.inc_person, D, module)
    SDD = ms.SDD + _scatter((J, L, L), ms.inc_person, D[:, :, None] * D[:, None, :], module)
    SDy = ms.SDy + _scatter((J, L), ms.inc_person, D * ms.inc_y[:, None], module)
    zero = module.zeros(J)
    theta = module.stack([zero if p == s else b for p, b in enumerate(bs)], axis=1)
    if gamma is not None:
        theta = module.concatenate([theta, module.ones((J, 1)) * gamma[None, :]], axis=1)
    Sy_r = Sy - module.sum(theta * SD, axis=1)
    Syy_r = (
        Syy
        - 2.0 * module.sum(theta * SDy, axis=1)
        + module.sum(SDD * theta[:, :, None] * theta[:, None, :], axis=(1, 2))
    )
    Sxy_r = SDy[:, s] - module.sum(SDD[:, s, :] * theta, axis=1)
    a_r = a
    for p, (b, mu) in enumerate(zip(bs, mus, strict=True)):
        if p != s:
            a_r = a_r - b * mu
    return Sy_r, Syy_r, SD[:, s], SDD[:, s, s], Sxy_r, a_r


def replace_outcome(sums: object, Sy: Values, Syy: Values) -> object:
    """``sums`` (a :class:`~ambidex_bayes.model.latent_fast_path.LatentSums`) with the
    outcome's sums replaced by those of the residualised outcome."""
    return dataclasses.replace(sums, Sy=Sy, Syy=Syy)
