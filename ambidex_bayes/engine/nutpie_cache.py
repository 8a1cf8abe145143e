"""nutpie models whose compiled callbacks are kept on disk between processes.

nutpie samples a PyMC model through two C callbacks, the log density with its gradient and
the "expand" function that turns a point into the stored variables. It builds them with
``numba.cfunc`` around PyTensor's numba functions and compiles them anew in every process
(about 12 s for the fast-path model of M3: numba types and lowers the wrappers again, since
they refer to the shared data through a record type with random field names).

Here the same two callbacks are written as plain source files, one per compiled graph, in
:func:`nutpie_cache_dir`, and compiled with ``numba.cfunc(cache=True)``: the first process
compiles and stores them, later processes load the machine code. The callbacks read the
shared data (the sufficient statistics and prior values) from nutpie's user-data record by
byte offset, so ``with_data`` works as with nutpie's own compiled model, and they call the
very PyTensor functions nutpie would call, so the log density and the draws agree with
nutpie's own to rounding.

A file's name is a hash of its text, and the text names the PyTensor cache key of the graph
it calls (a hash of the graph), the number of parameters and the layout of the shared data:
a changed model gets a new file and never a stale callback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ambidex_bayes.cache_dirs import user_cache_dir
from ambidex_bayes.light_imports import import_nutpie

__all__ = ["compile_cached", "nutpie_cache_dir"]

#: Changes whenever the generated source changes meaning (part of every file's hash).
_TEMPLATE_VERSION = "2"


def nutpie_cache_dir() -> Path:
    """Folder of the generated callbacks and their compiled code.

    ``$AMBIDEX_NUMBA_CACHE_DIR``, else ``$XDG_CACHE_HOME/ambidex_bayes/nutpie`` (by default
    ``~/.cache/ambidex_bayes/nutpie``).
    """
    return user_cache_dir("nutpie", "AMBIDEX_NUMBA_CACHE_DIR")


def _intrinsics() -> tuple[Any, Any]:
    """numba intrinsics: a void pointer as a uint64 pointer, an address as a double pointer."""
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    @intrinsic
    def as_uint64_pointer(typingctx, src):
        sig = types.CPointer(types.uint64)(src)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64).as_pointer())

        return sig, codegen

    @intrinsic
    def as_float64_pointer(typingctx, src):
        sig = types.CPointer(types.float64)(src)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], ir.DoubleType().as_pointer())

        return sig, codegen

    return as_uint64_pointer, as_float64_pointer


def __getattr__(name: str) -> Any:
    """``as_uint64_pointer`` and ``as_float64_pointer``, made on first use (the generated
    callbacks import them), so that importing this module does not import numba."""
    if name in {"as_uint64_pointer", "as_float64_pointer"}:
        globals()["as_uint64_pointer"], globals()["as_float64_pointer"] = _intrinsics()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _shared_layout(user_data: np.ndarray, keys: list[str]) -> list[tuple[int, int, list[int]]]:
    """Per shared array: word offsets of its data pointer, size and shape entries."""
    shared = user_data.dtype["shared"]
    layout = []
    for key in keys:
        data_offset = shared.fields["data"][1] + shared["data"].fields[key][1]
        size_offset = shared.fields["size"][1] + shared["size"].fields[key][1]
        shape_type, shape_offset = shared["shape"].fields[key][:2]
        shape_offset += shared.fields["shape"][1]
        ndim = shape_type.shape[0] if shape_type.shape else 0
        layout.append(
            (data_offset // 8, size_offset // 8, [shape_offset // 8 + i for i in range(ndim)])
        )
    return layout


def _callback_source(
    graph_key: str, header: str, meta_len: int, layout: list, body: list[str]
) -> str:
    """A module holding one callback: ``header`` (its ``def`` and size checks), the shared
    arrays ``a0, a1, ...`` read from the user data by offset, then ``body``."""
    arrays = []
    for i, (data, size, shape) in enumerate(layout):
        dims = "".join(f"int(meta[{s}]), " for s in shape)
        arrays.append(
            f"    a{i} = carray(as_float64_pointer(meta[{data}]), (int(meta[{size}]),))"
            f".reshape(({dims}))"
        )
    return "\n".join(
        [
            f"# nutpie callback around the PyTensor graph {graph_key}",
            "import numpy as np",
            "from numba import carray",
            "",
            "from ambidex_bayes.engine.nutpie_cache import as_float64_pointer, as_uint64_pointer",
            "",
            "inner = None  # PyTensor's compiled function of that graph, set before compiling",
            "",
            "",
            header,
            f"    meta = carray(as_uint64_pointer(user_data_), ({max(meta_len, 1)},))",
            *arrays,
            *body,
            "",
        ]
    )


#: Python compiles a call or tuple with more items than this through a list
#: (``LIST_TO_TUPLE``), an op-code numba cannot compile.
_MAX_LISTED_ITEMS = 30


def _inner_call(layout: list) -> str:
    """The call of PyTensor's function on the point ``x`` and the shared arrays.

    With many shared arrays, the arguments are one tuple ``(x, a0, ...)`` written as a
    concatenation of tuples of fewer than ``_MAX_LISTED_ITEMS`` items each and passed as
    ``inner(*arguments)``, which numba compiles (one long argument list or tuple, or
    ``inner(x, *rest)``, it cannot).
    """
    names = ["x", *(f"a{i}" for i in range(len(layout)))]
    if len(names) <= _MAX_LISTED_ITEMS:
        return "inner(" + ", ".join(names) + ")"
    step = _MAX_LISTED_ITEMS - 1
    chunks = ["(" + ", ".join(names[i : i + step]) + ",)" for i in range(0, len(names), step)]
    return "inner(*(" + " + ".join(chunks) + "))"


def _logp_source(graph_key: str, n_dim: int, meta_len: int, layout: list) -> str:
    header = (
        "def logp_callback(dim, x_, out_, logp_, user_data_):\n"
        f"    if dim != {n_dim}:\n"
        "        return -1"
    )
    body = [
        f"    x = carray(x_, ({n_dim},))",
        f"    out = carray(out_, ({n_dim},))",
        "    logp = carray(logp_, (1,))",
        "    try:",
        f"        value, grad = {_inner_call(layout)}",
        "    except Exception:",
        "        return 1",
        "    logp[0] = value",
        "    out[:] = grad",
        "    if not np.all(np.isfinite(out)):",
        "        return 3",
        "    if not np.isfinite(value):",
        "        return 4",
        "    return 0",
    ]
    return _callback_source(graph_key, header, meta_len, layout, body)


def _expand_source(graph_key: str, n_dim: int, n_expanded: int, meta_len: int, layout: list) -> str:
    header = (
        "def expand_callback(dim, expanded, x_, out_, user_data_):\n"
        f"    if dim != {n_dim} or expanded != {n_expanded}:\n"
        "        return -1"
    )
    body = [
        f"    x = carray(x_, ({n_dim},))",
        f"    out = carray(out_, ({n_expanded},))",
        "    try:",
        f"        (values,) = {_inner_call(layout)}",
        "    except Exception:",
        "        return -2",
        "    out[:] = values",
        "    return 0",
    ]
    return _callback_source(graph_key, header, meta_len, layout, body)


def _load_callback(source: str, name: str, inner: Any, signature: Any) -> Any:
    """Write ``source`` once under its hash, import it and compile ``name`` with caching."""
    import numba
    import nutpie
    import pytensor
    from numba.core import utils as numba_utils

    versions = (
        f"{_TEMPLATE_VERSION} {numba.__version__} {pytensor.__version__} {nutpie.__version__}"
    )
    digest = hashlib.sha256(f"{versions}\n{source}".encode()).hexdigest()[:32]
    folder = nutpie_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"callback_{digest}.py"
    if not path.exists():
        # written once and never replaced (numba's cache checks the file's time stamp): a
        # hard link of a complete temporary file, so that of processes writing at the same
        # time the first wins and nobody reads a half-written file
        temporary = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
        temporary.write_text(source)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    # PyTensor builds its helper functions from generated source; numba files them under
    # the module name "<dynamic>", which loading cached code imports by name
    sys.modules.setdefault(numba_utils._dynamic_modname, numba_utils._dynamic_module)
    spec = importlib.util.spec_from_file_location(f"ambidex_nutpie_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.inner = inner
    return numba.cfunc(signature, cache=True)(getattr(module, name))


def _graph_key(function: Any) -> str | None:
    """PyTensor's cache key (a hash of the graph) of a compiled numba-mode function."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    jit_fn = function.vm.jit_fn
    return CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))


def compile_cached(model: Any) -> Any | None:
    """nutpie's compiled model of ``model`` with callbacks from the disk cache.

    Same start points (support point with jitter), same log density and stored variables as
    ``nutpie.compile_pymc_model(model)``. Returns None when the model cannot use the cache
    (shared data that are not float64, or a graph PyTensor does not cache); compile with
    nutpie then.
    """
    import numba

    import_nutpie()  # without ArviZ's statistics and plots, where nutpie is not imported yet
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _prepare_dims_and_coords,
        _wrap_with_lock,
        make_user_data,
    )
    from pymc.initial_point import make_initial_point_fn

    from ambidex_bayes.engine.graph_cache import make_functions_cached

    start_point = make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    # the rewritten PyTensor functions come from disk too where they can
    n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info, reparameterized = (
        make_functions_cached(model, _wrap_with_lock(start_point), nutpie_cache_dir())
    )
    logp_key, expand_key = _graph_key(logp_fn), _graph_key(expand_fn)
    if logp_key is None or expand_key is None:
        return None

    shared_data: dict[str, np.ndarray] = {}
    shared_var_keys: dict[Any, str] = {}
    for var in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if var in shared_var_keys:
            continue
        value = np.array(var.get_value(), order="C", copy=True)
        if value.dtype != np.float64:
            return None
        value.flags.writeable = False
        key = f"v{len(shared_var_keys)}"
        shared_data[key] = value
        shared_var_keys[var] = key
    user_data = make_user_data(shared_var_keys, shared_data)
    meta_len = user_data.dtype.itemsize // 8

    logp_layout = _shared_layout(user_data, [shared_var_keys[v] for v in logp_fn.get_shared()])
    expand_layout = _shared_layout(user_data, [shared_var_keys[v] for v in expand_fn.get_shared()])
    types = numba.types
    logp_signature = types.int64(
        types.uint64,
        types.CPointer(types.double),
        types.CPointer(types.double),
        types.CPointer(types.double),
        types.voidptr,
    )
    expand_signature = types.int64(
        types.uint64,
        types.uint64,
        types.CPointer(types.double),
        types.CPointer(types.double),
        types.voidptr,
    )
    logp_callback = _load_callback(
        _logp_source(logp_key, n_dim, meta_len, logp_layout),
        "logp_callback",
        logp_fn.vm.jit_fn,
        logp_signature,
    )
    expand_callback = _load_callback(
        _expand_source(expand_key, n_dim, n_expanded, meta_len, expand_layout),
        "expand_callback",
        expand_fn.vm.jit_fn,
        expand_signature,
    )
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        reparameterized_names=reparameterized,
    )
