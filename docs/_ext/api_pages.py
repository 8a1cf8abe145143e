"""Writes the API reference's module pages (``api/generated/*.rst``) before Sphinx reads.

``api/index.rst`` names the documented modules (its toctree entries
``generated/ambidex_bayes.<name>``); a package brings its public submodules, found at build
time, and the package's other public top-level modules (except the command line) are
gathered on one more page, ``generated/supporting``. A module that is split or added needs no
change here.

Every class and function is documented once, on the page of the module that defines it, so
that a cross-reference has one target. A module whose ``__all__`` names objects defined
elsewhere (a package face, a module that re-exports moved names) lists them, each linked to
that entry; an exported object whose defining module has no page (a private module) is
documented on the first page that exports it, under the name of its definition. The front
door ``ambidex_bayes`` comes last and without its submodules.

The pages are written with ``importlib``, not autosummary's stub generator: that resolves
``ambidex_bayes.fit`` as an attribute of the package first, and the package's front door
exports the functions ``fit``, ``prepare``, ``simulate`` and ``report`` under the names of
their modules.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shutil
from pathlib import Path
from types import ModuleType

from sphinx.application import Sphinx

ROOT_PACKAGE = "ambidex_bayes"
INDEX = Path("api") / "index.rst"
OUT = Path("api") / "generated"
#: the page of the package's other public modules (api/index.rst's toctree names it)
SUPPORTING = "supporting"
#: not in the reference: the command line, documented by ``ambidex-bayes --help``
NOT_DOCUMENTED = ("ambidex_bayes.cli", "ambidex_bayes.commands")


def listed_modules(index: Path) -> list[str]:
    """The modules named in the toctree of ``api/index.rst``."""
    text = index.read_text(encoding="utf-8")
    pattern = rf"^\s+generated/({ROOT_PACKAGE}(?:\.\w+)*)\s*$"
    return re.findall(pattern, text, flags=re.MULTILINE)


def is_private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def submodules(module: ModuleType) -> list[str]:
    """Public direct submodules of a package (none for the front door or a plain module)."""
    if module.__name__ == ROOT_PACKAGE or not hasattr(module, "__path__"):
        return []
    found = pkgutil.iter_modules(module.__path__, prefix=f"{module.__name__}.")
    return sorted(info.name for info in found if not is_private(info.name))


def kind_of(obj: object) -> str | None:
    """The autodoc directive for an object: class, exception, function, or None."""
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function" if inspect.isroutine(obj) else None


def defined_here(module: ModuleType) -> list[tuple[str, str]]:
    """(name, kind) of the public classes and functions a module defines, in source order."""
    rows = []
    for name, obj in vars(module).items():
        kind = kind_of(obj)
        if (
            kind
            and not name.startswith("_")
            and getattr(obj, "__module__", None) == module.__name__
        ):
            rows.append((name, kind))
    return rows


def first_paragraph(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def exports(module: ModuleType, pages: set[str], documented: set[str]) -> list[dict[str, str]]:
    """The classes and functions a module's ``__all__`` names but another module defines (a
    package face's exports, a module's re-exports): name, target (the full name of the
    definition), summary and ``here`` (the directive, where this page documents it)."""
    rows = []
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        kind = kind_of(obj)
        home = getattr(obj, "__module__", "")
        if kind is None or home == module.__name__:
            continue
        qualname = getattr(obj, "__qualname__", name)
        target = f"{home}.{qualname}"
        has_page = home in pages and "." not in qualname and not qualname.startswith("_")
        here = ""
        if not has_page and target not in documented:
            documented.add(target)
            here = kind
        rows.append({"name": name, "target": target, "summary": first_paragraph(obj), "here": here})
    return rows


def page(name: str, face: list[dict[str, str]], children: list[str]) -> str:
    module = importlib.import_module(name)
    own = defined_here(module)
    lines = [name.replace("_", r"\_"), "=" * len(name.replace("_", r"\_")), ""]
    lines += [f".. automodule:: {name}", "   :no-members:", "", f".. currentmodule:: {name}", ""]
    if face:
        lines += [".. rubric:: Exported names", "", ".. list-table::", "   :widths: 30 70", ""]
        for row in face:
            lines += [
                f"   * - :py:obj:`{row['name']} <{row['target']}>`",
                f"     - {row['summary']}",
            ]
        lines.append("")
    if own:
        lines += [".. rubric:: Defined here", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {item}" for item, _ in own]
        lines.append("")
    for item, kind in own:
        lines.append(f".. auto{kind}:: {item}")
        lines += ["   :members:", "   :show-inheritance:"] if kind == "class" else []
        lines.append("")
    for row in face:
        if row["here"]:
            lines.append(f".. auto{row['here']}:: {row['target']}")
            lines += ["   :members:", "   :show-inheritance:"] if row["here"] == "class" else []
            lines.append("")
    if children:
        lines += [".. rubric:: Modules", ""] + module_table(children)
    return "\n".join(lines)


def supporting_modules(listed: list[str]) -> list[str]:
    """The package's public top-level modules that api/index.rst does not list."""
    package = importlib.import_module(ROOT_PACKAGE)
    found = pkgutil.iter_modules(package.__path__, prefix=f"{ROOT_PACKAGE}.")
    names = (info.name for info in found if not is_private(info.name))
    return sorted(n for n in names if n not in listed and n not in NOT_DOCUMENTED)


def supporting_page(modules: list[str]) -> str:
    title = "Supporting modules"
    lines = [title, "=" * len(title), ""]
    lines += ["The package's other modules: what the steps above build on.", ""]
    lines += module_table(modules)
    return "\n".join(lines)


def module_table(modules: list[str]) -> list[str]:
    """A table of modules with their summary lines, and a hidden toctree of their pages.

    A table of its own: autosummary would resolve a submodule whose name the package face
    also exports (``results.icc``) to the exported object."""
    lines = [".. list-table::", "   :widths: 30 70", ""]
    for name in modules:
        summary = first_paragraph(importlib.import_module(name))
        lines += [f"   * - :py:mod:`~{name}`", f"     - {summary}"]
    lines += ["", ".. toctree::", "   :hidden:", ""]
    lines += [f"   {name}" for name in modules]
    lines.append("")
    return lines


def write_pages(app: Sphinx) -> None:
    srcdir = Path(app.srcdir)
    listed = listed_modules(srcdir / INDEX)
    supporting = supporting_modules(listed)
    # the front door last: an object it exports is documented where it is defined, or on the
    # family's face or module that re-exports it, before the front door would take it
    roots = [n for n in listed if n != ROOT_PACKAGE] + supporting
    roots += [ROOT_PACKAGE] if ROOT_PACKAGE in listed else []
    tree: dict[str, list[str]] = {}
    queue = list(roots)
    while queue:
        name = queue.pop(0)
        tree[name] = submodules(importlib.import_module(name))
        queue += tree[name]
    pages = set(tree)
    documented: set[str] = set()
    out = srcdir / OUT
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name, children in tree.items():
        face = exports(importlib.import_module(name), pages, documented)
        (out / f"{name}.rst").write_text(page(name, face, children), encoding="utf-8")
    (out / f"{SUPPORTING}.rst").write_text(supporting_page(supporting), encoding="utf-8")


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
