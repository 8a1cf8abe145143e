r"""The fast path of latent centring: person effects integrated out given the person means.

The latent-centred model of person :math:`j` (rows :math:`i` with an observed outcome) is

.. math::

    y_{ij} = a_j + b_j c_{ij} + u_{0j} + u_{1j} c_{ij} + e_{ij}, \qquad
    c_{ij} = x_{ij} - \mu_j, \qquad e_{ij} \sim N(0, \sigma^2),

    a_j = \beta_0 + \beta_B (\mu_j - \mu_0) + \beta_W w_j, \qquad
    b_j = \beta_1 + \beta_{1W} w_j, \qquad u_j \sim N(0, \Sigma),

with :math:`\mu_j` the latent person mean of x (sampled). Given :math:`\mu_j`, the person
effects :math:`u_j` enter linearly with a Gaussian prior, so they integrate out exactly as in
:mod:`ambidex_bayes.model.marginal`, with :math:`Z_j = [1, c_j]` (or :math:`[1]` without a
random slope). Every quantity needed is a function of :math:`\mu_j` and six per-person sums
over the outcome rows, :math:`n_j, S_x = \sum x, S_{xx} = \sum x^2, S_y = \sum y,
S_{xy} = \sum xy, S_{yy} = \sum y^2`, re-expressed around :math:`\mu_j`:

.. math::

    S_c = S_x - n_j\mu_j, \qquad S_{cc} = S_{xx} - 2\mu_j S_x + n_j\mu_j^2, \qquad
    S_{cy} = S_{xy} - \mu_j S_y,

    Z_j^\top Z_j = \begin{pmatrix} n_j & S_c \\ S_c & S_{cc} \end{pmatrix}, \qquad
    Z_j^\top r_j = \begin{pmatrix} S_y - n_j a_j - b_j S_c \\
        S_{cy} - a_j S_c - b_j S_{cc} \end{pmatrix},

    r_j^\top r_j = S_{yy} - 2a_j S_y - 2b_j S_{cy} + n_j a_j^2 + 2a_j b_j S_c + b_j^2 S_{cc},

with :math:`r_j = y_j - a_j - b_j c_j`. With :math:`P_j = \Sigma^{-1} + Z_j^\top Z_j/\sigma^2`
and :math:`v_j = Z_j^\top r_j / \sigma^2`,

.. math::

    \log p(y \mid \mu, \beta, \Sigma, \sigma) = -\tfrac12 \sum_j \Big[ n_j \log(2\pi\sigma^2)
        + \log|\Sigma| + \log|P_j| + r_j^\top r_j/\sigma^2 - v_j^\top P_j^{-1} v_j \Big],

O(1) per person per gradient. A person without outcome rows contributes nothing
(:math:`\log|\Sigma| + \log|\Sigma^{-1}| = 0`). Imputed values of x (rows with an outcome but
no x) are parameters; their contributions to :math:`S_x, S_{xx}, S_{xy}` are added by index
(O(number imputed)).

Controls :math:`k_{ij}` (a row of K numeric columns, with fixed effects :math:`\gamma`) enter
the outcome as :math:`y_{ij} = \dots + k_{ij}^\top\gamma + \dots`; the formulas above hold
for the residualised outcome :math:`\tilde y = y - k^\top\gamma`, whose sums follow from
four more per-person sums, :math:`S_k = \sum k, S_{kk} = \sum k k^\top, S_{ky} = \sum k y,
S_{kx} = \sum k x` (:func:`residual_sums`):

.. math::

    S_{\tilde y} = S_y - S_k^\top\gamma, \qquad
    S_{\tilde y\tilde y} = S_{yy} - 2 S_{ky}^\top\gamma + \gamma^\top S_{kk}\gamma,
    \qquad S_{x\tilde y} = S_{xy} - S_{kx}^\top\gamma,

and on a row whose x is imputed the outcome is :math:`\tilde y = y - k^\top\gamma`.

The predictor model :math:`x_{ij} \sim N(\mu_j, \sigma_x^2)` over every observed x (days
without an outcome included) needs only :math:`n^x_j, S^x_x, S^x_{xx}`:

.. math::

    \log p(x \mid \mu, \sigma_x) = -\tfrac12 \sum_j \Big[ n^x_j \log(2\pi\sigma_x^2)
        + (S^x_{xx} - 2\mu_j S^x_x + n^x_j\mu_j^2)/\sigma_x^2 \Big].

NUTS samples :math:`\beta`, :math:`\Sigma`, :math:`\sigma`, the person means
:math:`\mu_j` with their hyperparameters and the imputed x; afterwards, per draw, the person
effects are drawn exactly from :math:`u_j \mid \cdot \sim N(P_j^{-1} v_j, P_j^{-1})`
(:func:`draw_person_effects_latent`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytensor.tensor as pt

from ambidex_bayes.model.latent_data import LatentData

#: Per-person values: NumPy arrays (J,) or (S, J), or tensors inside a model.
type Values = np.ndarray | pt.TensorVariable

__all__ = [
    "LatentSums",
    "latent_sums",
    "outcome_sums",
    "residual_sums",
    "x_loglik",
    "outcome_marginal_loglik",
    "draw_person_effects_latent",
    "draw_from_sums",
]


@dataclass(frozen=True)
class LatentSums:
    """Per-person sums of the latent-centred fast path (constants of the data).

    The fields are NumPy arrays (:func:`latent_sums`) or, inside a model, the ``pm.Data``
    variables holding them (:meth:`as_data`), so that a compiled model serves other data of
    the same shape.

    Attributes
    ----------
    n, Sx, Sxx, Sy, Sxy, Syy : ndarray (J,)
        Over the outcome rows with an observed x (``n`` counts every outcome row, imputed
        ones included, and ``Sy``/``Syy`` sum over all of them).
    nx, Sx_all, Sxx_all : ndarray (J,)
        Over every observed x (days without an outcome included).
    imputed_person : ndarray (k,) of int
        Person of each imputed x.
    imputed_y : ndarray (k,)
        Outcome on each row whose x is imputed.
    Sk, Sky, Skx : ndarray (J, K) or None
        Sums of the controls, of controls times outcome and of controls times x (over the
        outcome rows with an observed x, as ``Sx``); None without controls.
    Skk : ndarray (J, K, K) or None
        Sums of the controls' outer products.
    imputed_controls : ndarray (k, K) or None
        Controls on each row whose x is imputed.
    """

    n: np.ndarray
    Sx: np.ndarray
    Sxx: np.ndarray
    Sy: np.ndarray
    Sxy: np.ndarray
    Syy: np.ndarray
    nx: np.ndarray
    Sx_all: np.ndarray
    Sxx_all: np.ndarray
    imputed_person: np.ndarray
    imputed_y: np.ndarray
    Sk: np.ndarray | None = None
    Skk: np.ndarray | None = None
    Sky: np.ndarray | None = None
    Skx: np.ndarray | None = None
    imputed_controls: np.ndarray | None = None

    @property
    def has_imputed(self) -> bool:
        """Whether any x is imputed (arrays only)."""
        return len(self.imputed_person) > 0

    def as_data(self, prefix: str = "_ls") -> LatentSums:
        """The same sums as ``pm.Data`` variables ``{prefix}_<field>`` (inside a model context);
        the persons of the imputed values are held as floats and cast to integers (the
        control sums stay None without controls)."""
        import pymc as pm

        fields = {
            k: pm.Data(f"{prefix}_{k}", np.asarray(v, dtype=float))
            for k, v in vars(self).items()
            if v is not None
        }
        fields["imputed_person"] = pt.cast(fields["imputed_person"], "int64")
        return LatentSums(**fields)


def latent_sums(data: LatentData) -> LatentSums:
    """The per-person sums of ``data`` (see the module docstring)."""
    J = data.n_persons
    seen = ~data.missing
    x0 = np.where(seen, data.x, 0.0)

    def per(weights: np.ndarray, person: np.ndarray) -> np.ndarray:
        return np.bincount(person, weights=weights, minlength=J)

    x_all, p_all = data.all_x()
    controls = {}
    if data.n_controls:
        k, p = data.controls, data.person
        controls = {
            "Sk": _per_person_rows(k, p, J),
            "Skk": _per_person_rows(k[:, :, None] * k[:, None, :], p, J),
            "Sky": _per_person_rows(k * data.y[:, None], p, J),
            "Skx": _per_person_rows(k * x0[:, None], p, J),
            "imputed_controls": k[data.missing],
        }
    return LatentSums(
        n=np.bincount(data.person, minlength=J).astype(float),
        Sx=per(x0, data.person),
        Sxx=per(x0**2, data.person),
        Sy=per(data.y, data.person),
        Sxy=per(x0 * data.y, data.person),
        Syy=per(data.y**2, data.person),
        nx=np.bincount(p_all, minlength=J).astype(float),
        Sx_all=per(x_all, p_all),
        Sxx_all=per(x_all**2, p_all),
        imputed_person=data.person[data.missing],
        imputed_y=data.y[data.missing],
        **controls,
    )


def _per_person_rows(values: np.ndarray, person: np.ndarray, J: int) -> np.ndarray:
    """Sums of ``values`` (rows first, any shape after) per person: shape (J, ...)."""
    out = np.zeros((J, *values.shape[1:]))
    np.add.at(out, person, values)
    return out


def residual_sums(sums: LatentSums, gamma: Values, module: ModuleType = pt) -> LatentSums:
    r"""``sums`` of the residualised outcome :math:`\tilde y = y - k^\top\gamma` (module
    docstring): ``Sy``, ``Syy``, ``Sxy`` and ``imputed_y`` replaced; ``sums`` itself without
    controls.

    Parameters
    ----------
    sums : LatentSums
    gamma : tensor (K,) or ndarray (S, K)
        The controls' fixed effects: in the model, or per draw (``module`` numpy; the sums
        then have shape (S, J) and ``imputed_y`` (S, k)).
    module : module
        :mod:`pytensor.tensor` or :mod:`numpy`.

    Returns
    -------
    LatentSums
    """
    if sums.Sk is None:
        return sums
    if module is np:
        sy = np.einsum("jk,sk->sj", sums.Sk, gamma)
        syy = np.einsum("jkl,sk,sl->sj", sums.Skk, gamma, gamma)
        sky = np.einsum("jk,sk->sj", sums.Sky, gamma)
        sxy = np.einsum("jk,sk->sj", sums.Skx, gamma)
        imp = np.einsum("ik,sk->si", sums.imputed_controls, gamma)
    else:
        sy = pt.dot(sums.Sk, gamma)
        syy = pt.sum(pt.dot(sums.Skk, gamma) * gamma, axis=-1)
        sky = pt.dot(sums.Sky, gamma)
        sxy = pt.dot(sums.Skx, gamma)
        imp = pt.dot(sums.imputed_controls, gamma)
    return dataclasses.replace(
        sums,
        Sy=sums.Sy - sy,
        Syy=sums.Syy - 2.0 * sky + syy,
        Sxy=sums.Sxy - sxy,
        imputed_y=sums.imputed_y - imp,
    )


def outcome_sums(
    sums: LatentSums,
    x_imputed: pt.TensorVariable | np.ndarray | None,
    module: ModuleType = pt,
) -> tuple[Values, Values, Values]:
    r""":math:`S_x, S_{xx}, S_{xy}` of the outcome rows with the imputed x added.

    ``module`` is :mod:`pytensor.tensor` (in the model) or :mod:`numpy` (per draw, with
    ``x_imputed`` of shape (S, k)); the result then has shape (S, J). ``x_imputed`` is None
    when nothing is imputed.
    """
    if x_imputed is None or (module is np and x_imputed.shape[1] == 0):
        return sums.Sx, sums.Sxx, sums.Sxy
    if module is np:
        S = x_imputed.shape[0]
        J = sums.n.shape[-1]
        out = []
        for base, vals in (
            (sums.Sx, x_imputed),
            (sums.Sxx, x_imputed**2),
            (sums.Sxy, x_imputed * sums.imputed_y),
        ):
            total = np.broadcast_to(base, (S, J)).copy()
            for s in range(S):
                np.add.at(total[s], sums.imputed_person, vals[s])
            out.append(total)
        return tuple(out)
    idx = sums.imputed_person
    return (
        pt.inc_subtensor(pt.as_tensor(sums.Sx)[idx], x_imputed),
        pt.inc_subtensor(pt.as_tensor(sums.Sxx)[idx], x_imputed**2),
        pt.inc_subtensor(pt.as_tensor(sums.Sxy)[idx], x_imputed * sums.imputed_y),
    )


def x_loglik(sums: LatentSums, mu: pt.TensorVariable, sd_x: pt.TensorVariable) -> pt.TensorVariable:
    r"""Log-likelihood of every observed x given the person means (module docstring)."""
    s2 = sd_x**2
    sq = sums.Sxx_all - 2.0 * mu * sums.Sx_all + sums.nx * mu**2
    return -0.5 * (pt.sum(sums.nx) * pt.log(2.0 * np.pi * s2) + pt.sum(sq) / s2)


def _centred_sums(
    sums: LatentSums, Sx: Values, Sxx: Values, Sxy: Values, mu: Values
) -> tuple[Values, Values, Values]:
    """:math:`S_c, S_{cc}, S_{cy}` around the person means (works for tensors and arrays)."""
    Sc = Sx - sums.n * mu
    Scc = Sxx - 2.0 * mu * Sx + sums.n * mu**2
    Scy = Sxy - mu * sums.Sy
    return Sc, Scc, Scy


def outcome_marginal_loglik(
    sums: LatentSums,
    Sx: pt.TensorVariable,
    Sxx: pt.TensorVariable,
    Sxy: pt.TensorVariable,
    mu: pt.TensorVariable,
    a: pt.TensorVariable,
    b: pt.TensorVariable,
    sigma: pt.TensorVariable,
    tau: list[pt.TensorVariable],
    rho: pt.TensorVariable | None,
) -> pt.TensorVariable:
    r"""Outcome log-likelihood with the person effects integrated out (module docstring).

    Parameters
    ----------
    sums : LatentSums
    Sx, Sxx, Sxy : tensor (J,)
        From :func:`outcome_sums`.
    mu : tensor (J,)
        Latent person means.
    a, b : tensor (J,)
        Fixed part of each person's intercept and within slope.
    sigma : tensor
        Residual SD.
    tau : list of tensor
        SDs of the person intercepts (and slopes): one or two.
    rho : tensor or None
        Correlation of intercepts and slopes (None: independent).
    """
    s2 = sigma**2
    n, Sy, Syy = sums.n, sums.Sy, sums.Syy
    Sc, Scc, Scy = _centred_sums(sums, Sx, Sxx, Sxy, mu)
    rss = Syy - 2.0 * a * Sy - 2.0 * b * Scy + n * a**2 + 2.0 * a * b * Sc + b**2 * Scc
    v0 = (Sy - n * a - b * Sc) / s2
    if len(tau) == 1:
        t2 = tau[0] ** 2
        prec = 1.0 / t2 + n / s2
        logdet_sigma = pt.log(t2)
        logdet_p = pt.log(prec)
        quad = v0**2 / prec
    else:
        v1 = (Scy - a * Sc - b * Scc) / s2
        t0, t1 = tau
        one_m_r2 = 1.0 if rho is None else 1.0 - rho**2
        cross = 0.0 if rho is None else -rho / (t0 * t1 * one_m_r2)
        p00 = 1.0 / (t0**2 * one_m_r2) + n / s2
        p01 = cross + Sc / s2
        p11 = 1.0 / (t1**2 * one_m_r2) + Scc / s2
        det = p00 * p11 - p01**2
        logdet_p = pt.log(det)
        logdet_sigma = 2.0 * (pt.log(t0) + pt.log(t1)) + pt.log(one_m_r2)
        quad = (p11 * v0**2 - 2.0 * p01 * v0 * v1 + p00 * v1**2) / det
    J = sums.n.shape[0]
    return -0.5 * (
        pt.sum(n) * pt.log(2.0 * np.pi * s2)
        + J * logdet_sigma
        + pt.sum(logdet_p)
        + pt.sum(rss) / s2
        - pt.sum(quad)
    )


def draw_person_effects_latent(
    sums: LatentSums,
    mu: np.ndarray,
    x_imputed: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    rho: np.ndarray | None,
    rng: np.random.Generator,
    gamma: np.ndarray | None = None,
) -> np.ndarray:
    r"""Exact draws of the person effects given each posterior draw.

    :math:`u_j \sim N(P_j^{-1} v_j, P_j^{-1})` (module docstring), in closed form for one or
    two effects per person.

    Parameters
    ----------
    sums : LatentSums
    mu, a, b : ndarray (S, J)
        Person means, fixed part of the intercept and of the within slope, per draw.
    x_imputed : ndarray (S, k)
    sigma : ndarray (S,)
    tau : ndarray (S, q)
        SDs of the person effects, q = 1 or 2.
    rho : ndarray (S,) or None
    rng : numpy Generator
    gamma : ndarray (S, K), optional
        The controls' fixed effects per draw (with controls).

    Returns
    -------
    ndarray (S, J, q)
    """
    S, q = tau.shape
    J = mu.shape[1]
    z = rng.standard_normal((S, J, q))
    # by blocks of draws, so that the working arrays stay small (same draws as at once)
    step = max(1, 250_000 // max(J, 1))
    out = np.empty((S, J, q))
    for lo in range(0, S, step):
        sl = slice(lo, min(S, lo + step))
        out[sl] = _draw_block(
            sums if gamma is None else residual_sums(sums, gamma[sl], module=np),
            mu[sl],
            x_imputed[sl],
            a[sl],
            b[sl],
            sigma[sl],
            tau[sl],
            None if rho is None else rho[sl],
            z[sl],
        )
    return out


def _draw_block(
    sums: LatentSums,
    mu: np.ndarray,
    x_imputed: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    rho: np.ndarray | None,
    z: np.ndarray,
) -> np.ndarray:
    """:func:`draw_person_effects_latent` for one block of draws, given the normals ``z``."""
    Sx, Sxx, Sxy = outcome_sums(sums, x_imputed, module=np)
    Sc, Scc, Scy = _centred_sums(sums, Sx, Sxx, Sxy, mu)
    return _draw_core(sums.n, sums.Sy, Sc, Scc, Scy, a, b, sigma, tau, rho, z)


def draw_from_sums(
    n: np.ndarray,
    Sy: np.ndarray,
    Sx: np.ndarray,
    Sxx: np.ndarray,
    Sxy: np.ndarray,
    mu: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    rho: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""Exact draws of the person effects from per-draw sums (several predictors:
    :mod:`ambidex_bayes.model.latent_many`), as :func:`draw_person_effects_latent`.

    Parameters
    ----------
    n : ndarray (J,)
    Sy, Sx, Sxx, Sxy, mu, a, b : ndarray (S, J)
        Sums of the residualised outcome and of the person-slope predictor, its person
        means, and the fixed parts of intercept and slope, per draw.
    sigma : ndarray (S,)
    tau : ndarray (S, q)
    rho : ndarray (S,) or None
    rng : numpy Generator

    Returns
    -------
    ndarray (S, J, q)
    """
    S, q = tau.shape
    z = rng.standard_normal((S, mu.shape[1], q))
    Sc = Sx - n * mu
    Scc = Sxx - 2.0 * mu * Sx + n * mu**2
    Scy = Sxy - mu * Sy
    return _draw_core(n, Sy, Sc, Scc, Scy, a, b, sigma, tau, rho, z)


def _draw_core(
    n: np.ndarray,
    Sy: np.ndarray,
    Sc: np.ndarray,
    Scc: np.ndarray,
    Scy: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    sigma: np.ndarray,
    tau: np.ndarray,
    rho: np.ndarray | None,
    z: np.ndarray,
) -> np.ndarray:
    """The exact draws given the centred sums and the normals ``z`` (module docstring)."""
    S, q = tau.shape
    s2 = (sigma**2)[:, None]
    v0 = (Sy - n * a - b * Sc) / s2
    if q == 1:
        prec = 1.0 / tau[:, :1] ** 2 + n / s2
        return (v0 / prec + z[..., 0] / np.sqrt(prec))[..., None]
    v1 = (Scy - a * Sc - b * Scc) / s2
    r = np.zeros(S) if rho is None else rho
    one_m_r2 = (1.0 - r**2)[:, None]
    t0, t1 = tau[:, :1], tau[:, 1:2]
    p00 = 1.0 / (t0**2 * one_m_r2) + n / s2
    p01 = -r[:, None] / (t0 * t1 * one_m_r2) + Sc / s2
    p11 = 1.0 / (t1**2 * one_m_r2) + Scc / s2
    # P = L L' with L = [[l00, 0], [l10, l11]]; u = P^{-1} v + L^{-T} z
    l00 = np.sqrt(p00)
    l10 = p01 / l00
    l11 = np.sqrt(p11 - l10**2)
    det = p00 * p11 - p01**2
    m0 = (p11 * v0 - p01 * v1) / det
    m1 = (p00 * v1 - p01 * v0) / det
    e1 = z[..., 1] / l11
    e0 = (z[..., 0] - l10 * e1) / l00
    return np.stack([m0 + e0, m1 + e1], axis=-1)
