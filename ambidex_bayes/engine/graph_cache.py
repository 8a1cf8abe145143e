"""nutpie's rewritten PyTensor functions of a model, kept on disk between processes.

Before nutpie can sample a PyMC model it builds two PyTensor functions, the log density with
its gradient and the "expand" function (:func:`nutpie.compile_pymc._make_functions`).
Building them means rewriting the graphs (canonicalisation, stabilisation, the gradient's
simplification), which for the fast-path model of M3 takes 2-5 s in every new process --
the largest part of a first fit's set-up once numba's callbacks come from disk
(:mod:`ambidex_bayes.engine.nutpie_cache`).

:func:`make_functions_cached` keeps the two rewritten functions, pickled by PyTensor's own
pickling (which stores the rewritten graph and links it again on loading, without rewriting),
in the folder it is given (nutpie's callback cache,
:func:`~ambidex_bayes.engine.nutpie_cache.nutpie_cache_dir`). The file's name is a hash
of everything the functions depend on:

- the versions of Python, PyTensor, PyMC, nutpie and numba;
- the model's graphs before rewriting, printed with their types (the log density and every
  stored variable), which names every operation, shape and shared variable;
- the values of every constant in those graphs (a printed graph shortens large constants;
  a model with more than :data:`MAX_CONSTANT_NUMBERS` of them, data written into the
  graph, is not kept);
- the shapes of the model's variables and whether it checks its parameters' bounds.

A model whose data are shared variables (the fast path's sufficient statistics and prior
values) therefore finds the file written for another data set of the same structure, and
the loaded functions are given this model's data by name. Anything else -- another model,
other constants, other versions -- gets a file of its own. A file that cannot be read is
ignored and written again, so the cache can only save time, never change a result.

The cache folder is the user's own (like numba's cache of compiled code beside it); fit
files and other files users exchange are never unpickled.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "GRAPH_CACHE_VERSION",
    "MAX_CONSTANT_NUMBERS",
    "graph_cache_key",
    "make_functions_cached",
]

#: Changes whenever what is stored changes meaning (part of every file's key).
GRAPH_CACHE_VERSION = "1"

#: Models whose graphs hold more constant numbers than this are not kept (see
#: :func:`graph_cache_key`).
MAX_CONSTANT_NUMBERS = 10_000

#: What :func:`nutpie.compile_pymc._make_functions` returns.
MadeFunctions = tuple


def _versions() -> str:
    import numba
    import nutpie
    import pymc
    import pytensor

    return " ".join(
        [
            GRAPH_CACHE_VERSION,
            platform.python_version(),
            pytensor.__version__,
            pymc.__version__,
            nutpie.__version__,
            numba.__version__,
        ]
    )


def graph_cache_key(model: pm.Model) -> str | None:
    """Hash of everything the rewritten functions of ``model`` depend on (see the module).

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    str or None
        64 hexadecimal digits; None for a model whose graphs hold more than
        :data:`MAX_CONSTANT_NUMBERS` constant numbers (data written into the graph rather
        than held as shared data: its functions serve that data set alone, so keeping them
        would fill the folder with one file per data set).
    """
    from nutpie.compile_pymc import _compute_shapes
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors
    from pytensor.printing import debugprint

    outputs = [model.logp(), *model.unobserved_value_vars]
    digest = hashlib.sha256(_versions().encode())
    digest.update(debugprint(outputs, file="str", id_type="CHAR", print_type=True).encode())
    constants = [np.asarray(var.data) for var in ancestors(outputs) if isinstance(var, Constant)]
    if sum(value.size for value in constants) > MAX_CONSTANT_NUMBERS:
        return None
    for value in constants:
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    shapes = _compute_shapes(model)
    digest.update(repr(sorted((k, tuple(v)) for k, v in shapes.items())).encode())
    digest.update(f"check_bounds={model.check_bounds}".encode())
    return digest.hexdigest()


def _give_data(functions: MadeFunctions, model: pm.Model) -> bool:
    """Set the loaded functions' shared variables to ``model``'s data, by name.

    Returns False when a shared variable has no data variable of that name and shape rank in
    ``model`` (the functions then do not belong to it).
    """
    data = {var.name: var for var in model.data_vars}
    for function in functions[2:4]:
        for shared in function.get_shared():
            source = data.get(shared.name)
            if source is None:
                return False
            value = np.asarray(source.get_value())
            if value.ndim != np.ndim(shared.get_value()):
                return False
            shared.set_value(value)
    return True


def _read(path: os.PathLike) -> MadeFunctions | None:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # noqa: BLE001 - a damaged or stale cache file is written again
        return None


def _write(path: os.PathLike, functions: MadeFunctions) -> None:
    """Write ``functions`` (without the start-point function, a closure over the model)
    atomically: a complete temporary file renamed into place."""
    folder = os.path.dirname(path)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            pickle.dump(functions, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except Exception:  # noqa: BLE001 - the cache is an optimisation, never a failure
        pass
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def make_functions_cached(
    model: pm.Model,
    start_point: Callable[[int | None], dict[str, np.ndarray]],
    folder: Path,
) -> MadeFunctions:
    """``nutpie.compile_pymc._make_functions(model, mode="NUMBA", ...)``, from disk if it can.

    Parameters
    ----------
    model : pymc.Model
    start_point : callable
        PyMC's start-point function of ``model`` (nutpie's ``pymc_initial_point_fn``).
    folder : Path
        Where the functions are kept.

    Returns
    -------
    tuple
        ``(n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info,
        reparameterized)``, as nutpie's ``_make_functions`` returns them; the functions hold
        ``model``'s data.
    """
    from nutpie.compile_pymc import _make_functions, _rv_dict_to_flat_array_wrapper

    try:
        key = graph_cache_key(model)
    except Exception:  # noqa: BLE001 - a graph the key cannot describe is built as usual
        key = None
    path = None if key is None else folder / f"graph_{key[:32]}.pkl"
    stored = None if path is None or not path.exists() else _read(path)
    if stored is not None and _give_data(stored, model):
        n_dim, n_expanded, logp_fn, expand_fn, shape_info, reparameterized = stored
        names, _, shapes = shape_info
        n_free = len(model.free_RVs)  # the free variables come first, as nutpie joins them
        initial_point_fn = _rv_dict_to_flat_array_wrapper(
            start_point, names=names[:n_free], shapes=shapes[:n_free]
        )
        return (
            n_dim,
            n_expanded,
            logp_fn,
            expand_fn,
            initial_point_fn,
            shape_info,
            reparameterized,
        )
    made = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=start_point,
        var_names=None,
    )
    if path is not None:
        folder.mkdir(parents=True, exist_ok=True)
        n_dim, n_expanded, logp_fn, expand_fn, _, shape_info, reparameterized = made
        _write(path, (n_dim, n_expanded, logp_fn, expand_fn, shape_info, reparameterized))
    return made
