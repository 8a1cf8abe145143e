r"""The Cholesky factor of the person effects' correlation matrix under an LKJ prior.

The person effects of :func:`ambidex_bayes.model.build.build_model` are
:math:`u_j = D L_R z_j` with :math:`D = \mathrm{diag}(\tau)` the SDs and :math:`L_R` the
Cholesky factor of their correlation matrix :math:`R \sim \mathrm{LKJ}(\eta)`, sampled apart
from the SDs as in Stan and brms (:func:`correlation_cholesky`).
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import CholeskyCorrTransform

__all__ = ["correlation_cholesky"]


def correlation_cholesky(name: str, q: int, eta: float | pt.TensorVariable) -> pt.TensorVariable:
    r"""Lower Cholesky factor :math:`L_R` of a q x q correlation matrix :math:`R \sim
    \mathrm{LKJ}(\eta)`, a random variable of its own (apart from the SDs).

    With the SDs :math:`\tau` sampled separately, :math:`\Sigma = D R D` has the factor
    :math:`L_\Sigma = D L_R`, :math:`D = \mathrm{diag}(\tau)`, as in Stan and brms. Unlike a
    packed factor of :math:`\Sigma` itself, whose off-diagonal entries must shrink with the
    SDs (a funnel as an SD nears zero), the correlation's coordinates do not depend on the
    SDs: when the data say little about a correlation, it simply follows its prior.

    For :math:`q = 2` the one correlation is :math:`\rho = 2b - 1` with
    :math:`b \sim \mathrm{Beta}(\eta, \eta)`: the density of :math:`\rho` is then
    proportional to :math:`(1 - \rho^2)^{\eta - 1} = \det(R)^{\eta - 1}`, which is exactly
    :math:`\mathrm{LKJ}(\eta)` for a 2 x 2 matrix. The sampler sees
    :math:`\operatorname{logit} b = 2 \operatorname{artanh} \rho` (logistic tails), and

    .. math::

        L_R = \begin{pmatrix} 1 & 0 \\ \rho & \sqrt{1 - \rho^2} \end{pmatrix},
        \qquad \sqrt{1 - \rho^2} = 2 \sqrt{b (1 - b)}.

    For :math:`q > 2` it is PyMC's ``LKJCorr``, which is a Cholesky factor with the LKJ
    density :math:`\prod_{i} L_{ii}^{\,q - i + 2\eta - 2}` (one-based :math:`i`, the
    Jacobian of :math:`R = L L^\top` included) and an unconstrained transform of its own
    (rows of a free lower triangle with unit diagonal, normalised; log-Jacobian included).

    Parameters
    ----------
    name : str
        Name of the random variable (internal: it should start with ``"_"``).
    q : int
        Dimension, at least 2.
    eta : float or tensor
        LKJ shape (``pm.Data`` allowed).
    """
    if q == 2:
        b = pm.Beta(name, alpha=eta, beta=eta)
        rho = 2.0 * b - 1.0
        zero, one = pt.zeros(()), pt.ones(())
        return pt.stack([pt.stack([one, zero]), pt.stack([rho, 2.0 * pt.sqrt(b * (1.0 - b))])])
    return pm.LKJCorr(name, n=q, eta=eta, default_transform=_CholeskyCorr(n=q))


class _CholeskyCorr(CholeskyCorrTransform):
    """PyMC's transform of ``LKJCorr``, under a name without an underscore.

    PyMC names a transformed value variable ``{name}_{transform}__`` and recovers ``name``
    by dropping the last three ``_``-separated parts, which breaks for the transform's own
    name ``cholesky_corr``: NUTS run by nutpie or NumPyro then returns the variable as
    ``{name}_cholesky``, and the log-likelihood cannot be computed from such a posterior.
    """

    name = "choleskycorr"
