"""Safe model formulas: what a formula may call, and how column names are written in it.

Bambi hands a formula to formulae, which *calls* every function named in it (looked up in
Bambi's module namespace, dotted names by attribute access) with the evaluated arguments.
A formula is therefore code, and a formula made from a spec file, a data file's column names
or a saved fit must never call anything but a few harmless transformations. This module

* quotes column names with backticks where formulae would otherwise read them as something
  else than one name (:func:`quote_name`): ``Innovation (daily)``, ``leader-support``,
  ``a.b``, ``Unsicherheit_ä`` are put in backticks, ordinary names (``innovation``,
  ``uncertainty_cw``) are left as they are, so formulas read as before. Bambi names terms
  by the unquoted name, so posterior variables, prior keys and roles are unchanged;
* parses a formula with formulae's own scanner and parser (the same tree Bambi evaluates)
  and refuses any call outside :data:`ALLOWED_CALLS` (so no attribute access such as
  ``np.f2py.os.system``), and arithmetic other than ``+ - * /``, comparisons and small
  powers inside a call (:func:`check_formula`); with ``columns`` given, every name must be
  a column. A name that is not called is only looked up (in the data, where the check
  above requires it to be), never evaluated;
* checks a spec's formula template, its placeholders standing for quoted column names
  (:func:`check_template`);
* splits a checked formula into its outcome, fixed part and person-effect terms
  (:class:`FormulaParts`), quoting-aware, for the model builder.

Every refusal is a :class:`~ambidex_bayes.errors.SpecError` that names the file (``source``),
the formula, the refused call or construct and what is allowed.

The module stays whole: quoting a name, splitting a formula and checking it all rest on one
reading of what is quoted in a formula (``_Unquoted``, formulae's own rule), and the
check is only safe while that reading and the quoting agree.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ambidex_bayes.errors import SpecError

__all__ = [
    "ALLOWED_CALLS",
    "FormulaParts",
    "check_formula",
    "check_template",
    "column_name_problem",
    "quote_name",
    "unquote_name",
    "split_top_level",
    "is_group_term",
]

#: Functions a formula may call: formulae's categorical coding and centring/scaling
#: transforms, ``I()`` for arithmetic, and elementwise logs and exponentials (bare names
#: are Bambi's aliases of the NumPy functions).
ALLOWED_CALLS: frozenset[str] = frozenset(
    {
        "C",
        "I",
        "center",
        "scale",
        "standardize",
        "log",
        "log2",
        "log10",
        "exp",
        "abs",
        "np.log",
        "np.log2",
        "np.log10",
        "np.log1p",
        "np.exp",
        "np.expm1",
        "np.sqrt",
        "np.abs",
    }
)

#: The longest formula accepted (characters) and the deepest nesting of brackets: formulae's
#: parser is recursive, and nothing a diary model needs comes near either limit.
MAX_FORMULA_LENGTH = 5000
MAX_NESTING = 30
#: Largest exponent allowed in ``x ** k`` inside a call (``2 ** 10 ** 10`` would not finish).
MAX_EXPONENT = 10

_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FORMULA_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "COLON", "PIPE", "STAR_STAR"}
_CALL_OPERATORS = {
    "PLUS",
    "MINUS",
    "STAR",
    "SLASH",
    "STAR_STAR",
    "EQUAL_EQUAL",
    "BANG_EQUAL",
    "LESS_EQUAL",
    "LESS",
    "GREATER_EQUAL",
    "GREATER",
}


def _allowed_text() -> str:
    return ", ".join(sorted(ALLOWED_CALLS, key=lambda n: (n.startswith("np."), n.lower())))


def column_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be used as a column name in a model formula, or None.

    A name may hold any character but a backtick (names are quoted with backticks) and must
    not be empty.
    """
    if not isinstance(name, str):
        return f"the column name {name!r} is not text"
    if not name:
        return "a column name is empty"
    if "`" in name:
        return (
            f"the column name {name!r} contains a backtick (`), which a model formula cannot "
            "quote; rename the column in the data (and the column mapping)"
        )
    return None


def quote_name(name: str) -> str:
    """Write a column name so that formulae reads it as that one name.

    Plain names (a letter, then letters, digits or ``_``) are returned as they are; any
    other name is put in backticks.

    Raises
    ------
    SpecError
        The name contains a backtick or is empty (see :func:`column_name_problem`).
    """
    problem = column_name_problem(name)
    if problem:
        raise SpecError(problem[0].upper() + problem[1:] + ".")
    if _PLAIN_NAME.fullmatch(name) and name not in ("True", "False", "None"):
        return name
    return f"`{name}`"


def unquote_name(text: str) -> str:
    """The column name written as ``text`` (backticks removed, surrounding spaces dropped)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        return text[1:-1]
    return text


class _Unquoted:
    """The characters of ``text`` outside backticks and strings, as ``(position, char)``;
    the quote characters themselves are left out. After the walk, ``open`` is the quote
    still open at the end of the text (None when every quoted part is closed).

    Quoted parts end as formulae's scanner ends them: a backtick at the next backtick, a
    string at the next quote of either kind.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.open: str | None = None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        self.open = None
        for i, char in enumerate(self.text):
            if self.open is not None:
                if char == self.open if self.open == "`" else char in "'\"":
                    self.open = None
            elif char in "`'\"":
                self.open = char
            else:
                yield i, char


def _scan_quotes(formula: str, source: str, shown: str) -> int:
    """Refuse unmatched backticks or quotes and too deep nesting (before formulae sees it);
    return the number of ``~`` outside quotes.

    formulae's scanner loops forever on an unmatched backtick, and its parser recurses once
    per bracket.
    """
    if len(formula) > MAX_FORMULA_LENGTH:
        raise SpecError(
            f"{source}: the formula is {len(formula)} characters long; at most "
            f"{MAX_FORMULA_LENGTH} are accepted."
        )
    unquoted = _Unquoted(formula)
    depth = tildes = 0
    for _, char in unquoted:
        if char == "~":
            tildes += 1
        elif char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise SpecError(
                    f"{source}: the formula {shown!r} nests brackets more than {MAX_NESTING} deep."
                )
        elif char in ")]}":
            depth -= 1
    if unquoted.open == "`":
        raise SpecError(
            f"{source}: the formula {shown!r} has an unmatched backtick (`); quoted column "
            "names are written `like this`."
        )
    if unquoted.open is not None:
        raise SpecError(f"{source}: the formula {shown!r} has an unterminated string.")
    return tildes


def split_top_level(text: str, separator: str) -> list[str]:
    """Split ``text`` at ``separator`` characters outside brackets, backticks and quotes.

    ``split_top_level("y ~ `a+b` + (1 | p)", "+")`` gives ``["y ~ `a+b` ", " (1 | p)"]``.
    """
    parts: list[str] = []
    start, depth = 0, 0
    for i, char in _Unquoted(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _enclosed(text: str) -> str | None:
    """The inside of ``text`` when all of it is one pair of round brackets, else None."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    depth = 0
    for i, char in _Unquoted(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0 and i < len(text) - 1:
                return None
    return text[1:-1]


def is_group_term(term: str) -> bool:
    """Whether a right-hand-side term is a person-effect term ``(expr | factor)``."""
    inside = _enclosed(term)
    return inside is not None and len(split_top_level(inside, "|")) == 2


@dataclass(frozen=True)
class FormulaParts:
    """A checked formula, split for the model builder.

    Attributes
    ----------
    formula : str
        The formula as given.
    outcome : str
        The left-hand side as written (quoted if it needed quoting).
    outcome_name : str or None
        The outcome's column when the left-hand side is one name.
    fixed : str
        ``outcome ~ fixed terms`` without the person-effect terms (``~ 1`` if none).
    groups : tuple of (str, str)
        Person-effect terms as ``(expression as written, factor column)``.
    names : frozenset of str
        Every column name the formula uses (without quotes).
    calls : frozenset of str
        Every function the formula calls (all in :data:`ALLOWED_CALLS`).
    """

    formula: str
    outcome: str
    outcome_name: str | None
    fixed: str
    groups: tuple[tuple[str, str], ...]
    names: frozenset[str]
    calls: frozenset[str]


class _Walker:
    """Walks formulae's syntax tree, collecting names and refusing unsafe constructs."""

    def __init__(self, formula: str, source: str) -> None:
        self.formula = formula
        self.source = source
        self.names: set[str] = set()
        self.calls: set[str] = set()
        self.groups: list[tuple[Any, Any]] = []

    def refuse(self, what: str, advice: str = "") -> SpecError:
        return SpecError(
            f"{self.source}: the formula {self.formula!r} is refused: {what}."
            + (f" {advice}" if advice else "")
        )

    def refuse_call(self, name: str) -> SpecError:
        return self.refuse(
            f"it calls {name}(), which is not an allowed transformation",
            f"Allowed: {_allowed_text()}. A column whose name looks like a call is "
            "written in backticks.",
        )

    # the walk --------------------------------------------------------------------------
    def walk(self, node: Any, *, in_call: bool = False, top: bool = False) -> None:
        """Check ``node`` and what is below it, at the formula level or inside a call.

        At the formula level (``in_call=False``) a node is a term: columns joined by
        ``+ - * / :``, a power of terms by a number, a call, and at the top of the right-hand
        side (``top``) person-effect terms ``(expr | factor)`` joined by ``+``. Inside a
        call (``in_call=True``) it is arithmetic: ``+ - * /``, comparisons and a small power
        of something without a power, of columns, numbers and further allowed calls.
        """
        from formulae import expr as fx

        if isinstance(node, fx.Binary):
            self.binary(node, in_call=in_call, top=top)
        elif isinstance(node, fx.Grouping):
            inner = node.expression
            if not in_call and isinstance(inner, fx.Binary) and inner.operator.kind == "PIPE":
                if not top:
                    raise self.refuse(
                        "a person-effect term (expr | factor) must be added with + to the "
                        "right-hand side, e.g. y ~ 1 + x + (1 + x | person)"
                    )
                self.group(inner)
                return
            self.walk(inner, in_call=in_call)
        elif isinstance(node, fx.Unary):
            self.walk(node.right, in_call=in_call)
        elif isinstance(node, fx.Call):
            self.call(node)
        elif isinstance(node, fx.Variable | fx.QuotedName):
            self.name(node)
        elif isinstance(node, fx.Literal):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                use = "cannot be used in arithmetic" if in_call else "is not a term"
                raise self.refuse(f"the value {node.value!r} {use}")
        elif isinstance(node, fx.Assign):
            raise self.refuse("'=' is only allowed for a named argument of a call")
        else:
            raise self.refuse(f"it holds an unknown construct ({type(node).__name__})")

    def binary(self, node: Any, *, in_call: bool, top: bool) -> None:
        kind = node.operator.kind
        if kind == "PLUS" and top and not in_call:
            for side in (node.left, node.right):
                self.walk(side, top=True)
            return
        if kind not in (_CALL_OPERATORS if in_call else _FORMULA_OPERATORS):
            where = "is not allowed in a call" if in_call else "is only allowed inside I()"
            raise self.refuse(f"the operator {node.operator.lexeme!r} {where}")
        if kind == "PIPE":  # only at the formula level: not a call operator
            raise self.refuse(
                "a person-effect term (expr | factor) must be in round brackets and added "
                "with + to the right-hand side, e.g. y ~ 1 + x + (1 + x | person)"
            )
        if kind == "STAR_STAR":
            if in_call and _has_power(node.left):
                raise self.refuse("powers of powers are not allowed")
            self.walk(node.left, in_call=in_call)
            what = "an exponent" if in_call else "the power of terms"
            self.number(node.right, what, limit=MAX_EXPONENT)
            return
        self.walk(node.left, in_call=in_call)
        self.walk(node.right, in_call=in_call)

    def group(self, node: Any) -> None:
        from formulae import expr as fx

        expr, factor = node.left, node.right
        if not isinstance(factor, fx.Variable | fx.QuotedName):
            raise self.refuse("the grouping factor after '|' must be one column name")
        self.name(factor)
        self.walk(expr)
        self.groups.append((expr, factor))

    def call(self, node: Any) -> None:
        from formulae import expr as fx

        callee = node.callee
        if not isinstance(callee, fx.Variable) or callee.level is not None:
            raise self.refuse("only named functions can be called")
        name = callee.name.lexeme
        if name not in ALLOWED_CALLS:
            raise self.refuse_call(name)
        self.calls.add(name)
        for arg in node.args:
            value = arg.value if isinstance(arg, fx.Assign) else arg
            if not isinstance(value, fx.Literal):
                # a literal (number, string, True, False, None) is passed as it is
                self.walk(value, in_call=True)

    # leaves -------------------------------------------------------------------------------
    def name(self, node: Any) -> None:
        # a name is looked up as a whole (a dot in it is no attribute access)
        name = _node_name(node)
        if not name:
            raise self.refuse("it holds an empty quoted name ``")
        self.names.add(name)

    def number(self, node: Any, what: str, *, limit: float | None = None) -> None:
        from formulae import expr as fx

        value = None
        if isinstance(node, fx.Literal):
            value = node.value
        elif isinstance(node, fx.Unary) and isinstance(node.right, fx.Literal):
            value = node.right.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.refuse(f"{what} must be a number")
        if limit is not None and abs(value) > limit:
            raise self.refuse(f"{what} must be at most {limit} in size")


def _node_name(node: Any) -> str:
    """The column name of a name node (backticks removed)."""
    from formulae import expr as fx

    if isinstance(node, fx.QuotedName):
        return node.expression.lexeme[1:-1]
    return node.name.lexeme


def _has_power(node: Any) -> bool:
    from formulae import expr as fx

    if isinstance(node, fx.Binary):
        return node.operator.kind == "STAR_STAR" or _has_power(node.left) or _has_power(node.right)
    if isinstance(node, fx.Unary):
        return _has_power(node.right)
    if isinstance(node, fx.Grouping):
        return _has_power(node.expression)
    return False


def _tokens(formula: str, source: str, shown: str) -> list[Any]:
    """formulae's tokens of ``formula``; ``shown`` is the text named in messages."""
    from formulae.scanner import ScanError, Scanner

    if not formula.strip():
        raise SpecError(f"{source}: the formula is empty; write e.g. y ~ 1 + x + (1 | person).")
    tildes = _scan_quotes(formula, source, shown)
    if tildes != 1:
        raise SpecError(
            f"{source}: the formula {shown!r} has "
            + ("no '~'" if tildes == 0 else f"{tildes} '~'")
            + "; write one: outcome ~ predictors, e.g. y ~ 1 + x + (1 | person)."
        )
    try:
        tokens = Scanner(formula).scan(add_intercept=False)
    except (ScanError, ValueError) as err:
        raise SpecError(f"{source}: the formula {shown!r} cannot be read ({err}).") from None
    kinds = [token.kind for token in tokens]
    tilde = kinds.index("TILDE")
    if tilde == 0:
        raise SpecError(f"{source}: the formula {shown!r} has no outcome left of '~'.")
    if kinds[tilde + 1] == "EOF":
        raise SpecError(
            f"{source}: the formula {shown!r} has nothing right of '~'; write at least 1 "
            "(the intercept)."
        )
    depth = 0
    for kind in kinds:
        depth += kind == "LEFT_PAREN"
        depth -= kind == "RIGHT_PAREN"
        if depth < 0:
            break
    if depth != 0:
        raise SpecError(
            f"{source}: the formula {shown!r} has unbalanced parentheses "
            f"({kinds.count('LEFT_PAREN')} '(' and {kinds.count('RIGHT_PAREN')} ')')."
        )
    return tokens


def check_formula(
    formula: str, *, source: str = "<formula>", columns: Collection[str] | None = None
) -> FormulaParts:
    """Check that a formula only names columns and calls allowed transformations.

    Parameters
    ----------
    formula : str
        A model formula with column names (quoted where needed, see :func:`quote_name`).
    source : str
        The file the formula comes from, named in every message.
    columns : collection of str, optional
        When given, every name in the formula must be one of them.

    Returns
    -------
    FormulaParts

    Raises
    ------
    SpecError
        A malformed formula (no or two ``~``, unbalanced parentheses, nothing on one side,
        unmatched backtick), a call outside :data:`ALLOWED_CALLS`, attribute access
        (``np.x``), an assignment, a power with a large or non-numeric exponent, or (with
        ``columns``) a name that is not a column.
    """
    return _check(formula, source=source, columns=columns, shown=formula)


def _check(
    formula: str, *, source: str, columns: Collection[str] | None, shown: str
) -> FormulaParts:
    """:func:`check_formula`, naming ``shown`` (e.g. a spec's template) in messages."""
    from ambidex_bayes.light_imports import import_formulae

    import_formulae()  # without scipy.interpolate, which the checks do not use
    from formulae import expr as fx
    from formulae.parser import ParseError, Parser

    tokens = _tokens(formula, source, shown)
    parser = Parser(tokens)
    try:
        tree = parser.parse()
    except (ParseError, IndexError) as err:
        raise SpecError(f"{source}: the formula {shown!r} cannot be read ({err}).") from None
    if not parser.at_end():
        unexpected = parser.peek().lexeme
        if shown != formula and re.fullmatch(r"`\{\w+\}`", unexpected):
            unexpected = unexpected[1:-1]  # a template's placeholder, as written
        raise SpecError(
            f"{source}: the formula {shown!r} cannot be read: unexpected "
            f"{unexpected!r} after a complete term (a missing '+'?)."
        )
    if not (isinstance(tree, fx.Binary) and tree.operator.kind == "TILDE"):
        raise SpecError(f"{source}: the formula {shown!r} is not of the form outcome ~ terms.")
    walker = _Walker(shown, source)
    walker.walk(tree.left)
    outcome_names = set(walker.names)
    walker.walk(tree.right, top=True)
    if columns is not None:
        known = {str(c) for c in columns}
        for name in sorted(walker.names):
            if name not in known:
                import difflib

                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise SpecError(
                    f"{source}: the formula {shown!r} names the column {name!r}, which the "
                    f"prepared data do not have.{hint} Columns: {', '.join(map(str, columns))}."
                )

    lhs, rhs = split_top_level(formula, "~")
    terms = [t.strip() for t in split_top_level(rhs, "+")]
    fixed = [t for t in terms if t and not is_group_term(t)]
    group_texts = [t for t in terms if is_group_term(t)]
    if len(group_texts) != len(walker.groups):
        raise SpecError(
            f"{source}: the formula {shown!r} is refused: a person-effect term "
            "(expr | factor) must be added with + to the right-hand side, e.g. "
            "y ~ 1 + x + (1 + x | person)."
        )
    groups = []
    for text, (_, factor) in zip(group_texts, walker.groups, strict=True):
        expr_text = split_top_level(_enclosed(text) or "", "|")[0]
        groups.append((expr_text.strip(), _node_name(factor)))
    left = isinstance(tree.left, fx.Variable | fx.QuotedName)
    return FormulaParts(
        formula=formula,
        outcome=lhs.strip(),
        outcome_name=next(iter(outcome_names)) if left else None,
        fixed=f"{lhs.strip()} ~ {' + '.join(fixed) or '1'}",
        groups=tuple(groups),
        names=frozenset(walker.names),
        calls=frozenset(walker.calls),
    )


def check_template(template: str, *, source: str) -> set[str]:
    """Check a spec's formula template; return the roles (placeholders) it uses.

    Each placeholder ``{role}`` stands for a quoted column name, so the template must be a
    valid formula in which every placeholder is one name (not a function, not inside
    backticks) and every call is allowed.

    Raises
    ------
    SpecError
        A placeholder that is not a role name (``{x.y}``, ``{}``), or anything
        :func:`check_formula` refuses.
    """
    found = set(re.findall(r"\{([^{}]*)\}", template))
    bad = sorted(p for p in found if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p))
    if bad:
        raise SpecError(f"{source}: formula placeholder {{{bad[0]}}} is not a role name.")
    if re.search(r"`[^`]*\{[A-Za-z_][A-Za-z0-9_]*\}[^`]*`", template):
        raise SpecError(
            f"{source}: the formula template {template!r} puts a placeholder in backticks; "
            "write {role} alone, the column name it stands for is quoted where needed."
        )
    stand_ins: Mapping[str, str] = {role: f"`{{{role}}}`" for role in found}
    try:
        rendered = template.format(**stand_ins)
    except (ValueError, IndexError, KeyError) as err:
        raise SpecError(
            f"{source}: the formula template {template!r} cannot be filled in ({err}); write "
            "roles as {y}, {x_within}, ... and a literal brace as {{ or }}."
        ) from None
    _check(rendered, source=source, columns=None, shown=template)
    return found
