"""Bambi, nutpie and formulae imported without the plotting and statistics packages they never
use here.

``import bambi`` runs ``bambi.interpret`` (ArviZ, seaborn, matplotlib, and scipy.stats through
arviz-stats), and ``bambi.models`` takes ``plot_dist`` from ``arviz_plots`` and ``residual_r2``
from ``arviz_stats`` at its top; ``import nutpie`` imports ``arviz``, of which it calls
``from_dict`` and ``dict_to_dataset`` (ArviZ's own copies of ``arviz_base``'s functions) to
return the draws; formulae, which reads Bambi's formulas, imports ``scipy.interpolate`` (and
with it ``scipy.optimize``) for the ``splev`` of its B-splines. Building a model and sampling
it use nothing else of these packages, yet importing them takes about 2 CPU-seconds, a large
part of the fit command's own work.

:func:`import_bambi`, :func:`import_nutpie` and :func:`import_formulae` import the packages
with

- stand-ins for the packages they take functions from (:data:`BAMBI_STAND_INS`,
  :data:`NUTPIE_STAND_INS`, :data:`FORMULAE_STAND_INS`): a module holding those functions,
  each importing the function it stands for on its first call, and giving any other name
  from the real package (imported then). The stand-ins are in ``sys.modules`` only while the
  package is imported, so a later ``import arviz`` imports the real ArviZ;
- Bambi's ``bambi.interpret`` loaded lazily (:class:`importlib.util.LazyLoader`): the module
  is there and runs on the first use of one of its names (``bambi.interpret.slopes``).

:func:`not_importable` makes a package that a library only probes for (xarray, before it
writes a file, asks whether a client of dask's ``distributed`` is running, importing
``distributed`` to find out) fail to import for a while, as when it is not installed.

A package already imported is used as it is, and so is a real package already imported in
place of a stand-in. When the import with stand-ins fails (another version of the package
takes other names from them at its top), its modules are forgotten and it is imported in
full, as usual. The models, draws and files are the same either way: only what is imported
differs (``tests/test_light_imports.py`` checks that the stand-ins' functions are the real
ones and that B-splines come out the same).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = [
    "BAMBI_LAZY_MODULES",
    "BAMBI_STAND_INS",
    "FORMULAE_STAND_INS",
    "NUTPIE_STAND_INS",
    "import_bambi",
    "import_formulae",
    "import_nutpie",
    "import_without",
    "not_importable",
]

#: Package replaced while Bambi is imported -> its names Bambi takes -> ``"module:name"``
#: of the function each stands for.
BAMBI_STAND_INS: dict[str, dict[str, str]] = {
    "arviz_plots": {"plot_dist": "arviz_plots:plot_dist"},
    "arviz_stats": {"residual_r2": "arviz_stats:residual_r2"},
}

#: Bambi's modules loaded on first use.
BAMBI_LAZY_MODULES: frozenset[str] = frozenset({"bambi.interpret"})

#: The same for nutpie: ``arviz.from_dict`` and ``arviz.dict_to_dataset`` are
#: ``arviz_base``'s functions (ArviZ re-exports them), which PyMC imports anyway.
NUTPIE_STAND_INS: dict[str, dict[str, str]] = {
    "arviz": {
        "from_dict": "arviz_base:from_dict",
        "dict_to_dataset": "arviz_base:dict_to_dataset",
    },
}

#: The same for formulae: the B-splines' ``splev``, imported when a formula has ``bs(...)``.
FORMULAE_STAND_INS: dict[str, dict[str, str]] = {
    "scipy.interpolate": {"splev": "scipy.interpolate:splev"},
}


def _deferred(target: str) -> Callable[..., Any]:
    """The function ``"module:name"``, imported on the first call."""
    module, name = target.split(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__module__ = module
    call.__doc__ = f"``{module}.{name}``, imported on its first call."
    return call


class _StandIn(ModuleType):
    """A package's stand-in: the functions it was given, and any other name from the real
    package, imported on use -- but not while the stand-in itself is in ``sys.modules`` (then
    the name is missing, so that an import expecting more than the stand-in fails)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or sys.modules.get(self.__name__) is self:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(self.__name__), name)


def _stand_in(package: str, functions: Mapping[str, str]) -> ModuleType:
    module = _StandIn(package, f"Stand-in for {package}, see ambidex_bayes.light_imports.")
    for name, target in functions.items():
        setattr(module, name, _deferred(target))
    return module


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds the modules ``names`` with their loader wrapped in a
    :class:`~importlib.util.LazyLoader`; other modules are left to the other finders."""

    def __init__(self, names: Collection[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _forget(package: str) -> None:
    """Remove ``package`` and its submodules from ``sys.modules``."""
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]


def import_without(
    package: str,
    stand_ins: Mapping[str, Mapping[str, str]],
    lazy: Collection[str] = (),
) -> ModuleType:
    """``package``, imported with stand-ins for other packages and some modules lazily.

    Parameters
    ----------
    package : str
        The package to import (returned as it is when already imported).
    stand_ins : mapping
        Package -> its names ``package`` takes at import -> ``"module:name"`` of the
        function each stands for; packages already imported are not replaced.
    lazy : collection of str
        Modules of ``package`` loaded on the first use of one of their names.

    Returns
    -------
    module
        ``package``, the same module object a later ``import`` gives. Imported in full
        (no stand-ins, nothing lazy) when the import with stand-ins fails.
    """
    if package in sys.modules:
        # through the import system, which waits for another thread still importing it
        return importlib.import_module(package)
    replaced = {
        name: _stand_in(name, functions)
        for name, functions in stand_ins.items()
        if name not in sys.modules
    }
    finder = _LazyFinder(lazy)
    sys.modules.update(replaced)
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module(package)
    except Exception:  # noqa: BLE001 - other imports than expected: import it in full
        module = None
    finally:
        sys.meta_path.remove(finder)
        for name, stand_in in replaced.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
    if module is None:
        _forget(package)
        module = importlib.import_module(package)
    return module


def import_bambi() -> ModuleType:
    """``bambi`` without ``bambi.interpret`` and the plotting packages (see the module).

    Returns
    -------
    module
        ``bambi``.
    """
    import_formulae()  # which Bambi imports
    return import_without("bambi", BAMBI_STAND_INS, BAMBI_LAZY_MODULES)


def import_nutpie() -> ModuleType:
    """``nutpie`` without ArviZ's statistics and plotting packages (see the module).

    Returns
    -------
    module
        ``nutpie``.
    """
    return import_without("nutpie", NUTPIE_STAND_INS)


def import_formulae() -> ModuleType:
    """``formulae`` without ``scipy.interpolate`` until a B-spline needs it (see the module).

    Returns
    -------
    module
        ``formulae``.
    """
    return import_without("formulae", FORMULAE_STAND_INS)


@contextmanager
def not_importable(package: str) -> Iterator[None]:
    """Within the block, importing ``package`` fails as when it is not installed -- unless it
    is imported already, when nothing changes.

    For probes that import a package only to look for something in it that cannot exist
    unless the package was imported before, such as a running client of dask's
    ``distributed`` (xarray asks for one before it writes a file; importing ``distributed``
    to find none takes about half a CPU-second). The probe gets the answer it gets when the
    package is imported and holds nothing.

    Parameters
    ----------
    package : str
        A top-level package, e.g. ``"distributed"``.
    """
    if package in sys.modules:
        yield
        return
    sys.modules[package] = None  # the import system's mark of a module that cannot be imported
    try:
        yield
    finally:
        if package in sys.modules and sys.modules[package] is None:
            del sys.modules[package]
