"""The run filter grammar: text in, a small tree out (``sql.py`` turns the tree into SQL).

::

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" filter ")" | condition
    condition  := field ( ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                        | "~" string | "has" value | "in" "(" value ("," value)* ")"
                        | "exists" )
    field      := config.<key> | summary.<key> | environment.<key>  (a quoted key after the
                  dot for any other characters: config."my key") | state | name | group
                  | job_type | tags | user | host | id | start_time | duration | last_step
    value      := number | "double" or 'single' quoted string | true | false | null
                  | a bare word (finished, adam): a string

Keywords are case-insensitive. Every mistake raises ``FilterError`` (a ``ValueError``) with the
0-based character offset where the filter stops making sense and what would have been accepted
there, so a user interface can point at it.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 64
MAX_PATTERN: Final = 256

SECTIONS: Final = ("config", "summary", "environment")
# Plain fields, with the kind of value they hold.
TEXT_FIELDS: Final = ("state", "name", "group", "job_type", "user", "host", "id")
NUMBER_FIELDS: Final = ("start_time", "duration", "last_step")
FIELDS: Final = (*(f"{s}.<key>" for s in SECTIONS), *TEXT_FIELDS, "tags", *NUMBER_FIELDS)
COMPARISONS: Final = ("=", "!=", "<", "<=", ">", ">=")
OPERATORS: Final = (*COMPARISONS, "~", "has", "in", "exists")
KEYWORDS: Final = frozenset({"and", "or", "not", "has", "in", "exists", "true", "false", "null"})

Scalar = float | int | str | bool | None


class FilterError(ValueError):
    """A filter that does not parse: ``message``, ``position`` (0-based) and ``expected``."""

    def __init__(self, message: str, *, text: str, position: int, expected: list[str]) -> None:
        self.message = message
        self.text = text
        self.position = position
        self.expected = expected
        super().__init__(self.pointed())

    def pointed(self) -> str:
        """The message, the filter, and a caret under the position."""
        return f"{self.message}\n  {self.text}\n  {' ' * self.position}^"

    def detail(self) -> dict[str, object]:
        return {"message": self.message, "position": self.position, "expected": self.expected}


@dataclass(frozen=True)
class Field:
    """``section`` is config, summary or environment (``name`` is then the key), or None."""

    section: str | None
    name: str
    position: int = dataclasses.field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


@dataclass(frozen=True)
class Literal:
    value: Scalar
    text: str  # as written: a number compared with a text field compares as this text
    position: int


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str
    value: Literal


@dataclass(frozen=True)
class Match:  # field ~ "pattern"
    field: Field
    pattern: Literal


@dataclass(frozen=True)
class Has:
    field: Field
    value: Literal


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Exists:
    field: Field


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Leaf = Compare | Match | Has | In | Exists
Node = Leaf | And | Or | Not


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "number", "string", "op", "(", ")", ",", "end"
    text: str  # a string's decoded value; otherwise as written
    position: int
    raw: str = ""


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_]))
      | (?P<word>[^\W\d][\w./:@\-\[\]]*)
      | (?P<op><=|>=|!=|=|<|>|~)
      | (?P<punct>[(),])
      | (?P<quote>["'])""",
    re.VERBOSE,
)
_ESCAPES: Final = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:
            raise FilterError(
                f"unexpected character {text[at]!r}",
                text=text,
                position=at,
                expected=["a field", "a value", "an operator", "(", ")"],
            )
        kind = found.lastgroup or ""
        if kind == "quote":
            value, end = _string(text, at)
            tokens.append(Token("string", value, at, text[at:end]))
            at = end
            continue
        if kind == "punct":
            tokens.append(Token(found.group(), found.group(), at))
        elif kind != "space":
            tokens.append(Token(kind, found.group(), at))
        at = found.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    at = start + 1
    while at < len(text):
        char = text[at]
        if char == quote:
            return "".join(out), at + 1
        if char == "\\" and at + 1 < len(text):
            out.append(_ESCAPES.get(text[at + 1], "\\" + text[at + 1]))
            at += 2
            continue
        out.append(char)
        at += 1
    raise FilterError(
        f"the string starting here has no closing {quote}",
        text=text,
        position=start,
        expected=[quote],
    )


def parse(text: str) -> Node:
    """The filter's tree; ``FilterError`` (a ``ValueError``) for anything malformed."""
    if not isinstance(text, str):
        raise TypeError(f"filter must be a string such as 'state = finished', not {text!r}")
    if len(text) > MAX_LENGTH:
        raise FilterError(
            f"the filter is {len(text)} characters long; at most {MAX_LENGTH} are accepted",
            text=text[:80],
            position=0,
            expected=[],
        )
    if "\x00" in text:
        raise FilterError(
            "a filter cannot hold a NUL character",
            text=text,
            position=text.index("\x00"),
            expected=[],
        )
    return _Parser(text).parse()


def parse_field(text: str) -> Field:
    """One field, as a group-by or column names it (``config.lr``, ``group``, ``tags``)."""
    parser = _Parser(text)
    found = parser.field_()
    if parser.token.kind != "end":
        raise parser.fail(f"expected one field, found {parser.describe(parser.token)} after it", [])
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0

    # -- helpers --------------------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def fail(self, message: str, expected: list[str], token: Token | None = None) -> FilterError:
        where = token or self.token
        return FilterError(message, text=self.text, position=where.position, expected=expected)

    def keyword(self, *words: str) -> bool:
        token = self.token
        return token.kind == "word" and token.text.lower() in words

    def describe(self, token: Token) -> str:
        return "the end of the filter" if token.kind == "end" else repr(token.raw or token.text)

    # -- grammar --------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("the filter is empty", ["a field", "not", "("])
        node = self.or_()
        if self.token.kind != "end":
            expected = ["and", "or", "end of filter"] + ([")"] if self.depth else [])
            raise self.fail(
                f"expected and, or or the end, found {self.describe(self.token)}", expected
            )
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.keyword("or"):
            self.at += 1
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.keyword("and"):
            self.at += 1
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        if self.keyword("not"):
            self.at += 1
            return Not(self.nested(self.not_))
        if self.token.kind == "(":
            opening = self.token
            self.at += 1
            node = self.nested(self.or_)
            if self.token.kind != ")":
                raise self.fail(
                    f"expected ) to close the ( at {opening.position}, "
                    f"found {self.describe(self.token)}",
                    [")", "and", "or"],
                )
            self.at += 1
            return node
        return self.condition()

    def nested(self, rule: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            # At the ( or not that went one level too deep.
            raise self.fail(
                f"the filter nests deeper than {MAX_DEPTH} levels", [], self.tokens[self.at - 1]
            )
        try:
            return rule()
        finally:
            self.depth -= 1

    def field_(self) -> Field:
        token = self.token
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            raise self.fail(
                f"expected a field, found {self.describe(token)}", [*FIELDS, "not", "("]
            )
        self.at += 1
        section, dot, key = token.text.partition(".")
        if dot and section in SECTIONS:
            if not key:
                after = self.token
                # config."a key": a quoted key right after the dot
                if after.kind == "string" and after.position == token.position + len(token.text):
                    self.at += 1
                    if not after.text:
                        raise self.fail("a key cannot be empty", ["a key"], after)
                    return Field(section, after.text, token.position)
                raise self.fail(
                    f"{section}. needs a key after the dot, e.g. {section}.lr", ["a key"], after
                )
            return Field(section, key, token.position)
        name = token.text.lower()
        if dot or name not in (*TEXT_FIELDS, *NUMBER_FIELDS, "tags"):
            hint = ""
            if not dot:
                hint = f" (for a config key, write config.{token.text})"
            raise self.fail(f"unknown field {token.text!r}{hint}", list(FIELDS), token)
        return Field(None, name, token.position)

    def condition(self) -> Node:
        field = self.field_()
        token = self.token
        if token.kind == "op":
            self.at += 1
            if token.text == "~":
                pattern = self.value()
                if not isinstance(pattern.value, str) or self.tokens[self.at - 1].kind != "string":
                    raise self.fail(
                        '~ takes a quoted regular expression, e.g. name ~ "^lr"',
                        ["a quoted string"],
                        self.tokens[self.at - 1],
                    )
                _check_pattern(self.text, pattern)
                return Match(field, pattern)
            return Compare(field, token.text, self.value())
        if self.keyword("has"):
            self.at += 1
            return Has(field, self.value())
        if self.keyword("in"):
            self.at += 1
            return In(field, self.values())
        if self.keyword("exists"):
            self.at += 1
            return Exists(field)
        raise self.fail(
            f"expected an operator after {field}, found {self.describe(token)}", list(OPERATORS)
        )

    def values(self) -> tuple[Literal, ...]:
        if self.token.kind != "(":
            raise self.fail(
                f"in takes a list in parentheses, e.g. (1, 2), found {self.describe(self.token)}",
                ["("],
            )
        self.at += 1
        found = [self.value()]
        while self.token.kind == ",":
            self.at += 1
            found.append(self.value())
        if self.token.kind != ")":
            raise self.fail(
                f"expected , or ) in the list, found {self.describe(self.token)}", [",", ")"]
            )
        self.at += 1
        return tuple(found)

    def value(self) -> Literal:
        token = self.token
        expected = ["a number", "a quoted string", "true", "false", "null", "a word"]
        if token.kind == "number":
            self.at += 1
            number: float | int
            try:
                number = int(token.text)
            except ValueError:
                number = float(token.text)
            else:
                try:  # the SQL compares numbers as floats: 1 followed by 400 zeros is none
                    float(number)
                except OverflowError:
                    raise self.fail(
                        f"the number {token.text[:20]}... ({len(token.text)} digits) is too "
                        "large to compare; write it with an exponent (1e308 at most) instead",
                        ["a number"],
                        token,
                    ) from None
            return Literal(number, token.text, token.position)
        if token.kind == "string":
            self.at += 1
            return Literal(token.text, token.text, token.position)
        if token.kind == "word":
            lowered = token.text.lower()
            if lowered in ("and", "or", "not", "has", "in", "exists"):
                raise self.fail(f"expected a value, found the keyword {token.text!r}", expected)
            self.at += 1
            special = {"true": True, "false": False, "null": None}
            if lowered in special:
                return Literal(special[lowered], token.text, token.position)
            return Literal(token.text, token.text, token.position)
        raise self.fail(f"expected a value, found {self.describe(token)}", expected)


_REPEATS: Final = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_BACKREFERENCES: Final = frozenset({"GROUPREF", "GROUPREF_EXISTS"})


def _risky(items: Any, under_repeat: bool = False) -> str | None:
    """What in a parsed pattern (``re._parser``'s tree) can make Python's backtracking engine
    take exponential time, or None. SQLite runs ``~`` through that engine with no time bound,
    so these shapes are refused wherever a repetition can backtrack into them: a repetition
    inside a repetition ((a+)+, (.*)*, (\\w+\\s?)*), an alternation inside a repetition
    ((a|aa)+; branches that start with different letters, (foo|bar)+, are fine), and any
    backreference (\\1, (?P=name), (?(1)...))."""
    for op, argument in items:
        name = str(op)
        if name in _BACKREFERENCES:
            return "a backreference (\\1, (?P=name), (?(1)a|b))"
        if name in _REPEATS:
            _low, high, body = argument
            repeats = high > 1
            if under_repeat and repeats:
                return "a repeated group that holds a repetition ((a+)+, (.*)*)"
            found = _risky(body, under_repeat or repeats)
        elif name == "BRANCH":
            if under_repeat and not _distinct_first_letters(argument[1]):
                return "an alternation inside a repetition ((a|aa)+)"
            found = next((r for b in argument[1] if (r := _risky(b, under_repeat))), None)
        elif name == "SUBPATTERN":
            found = _risky(argument[3], under_repeat)
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _risky(argument[1], under_repeat)
        elif name == "ATOMIC_GROUP":
            found = _risky(argument, under_repeat)
        else:
            found = None
        if found:
            return found
    return None


def _distinct_first_letters(branches: list[Any]) -> bool:
    """Whether each branch starts with its own literal character ((foo|bar)+): then at most
    one branch can match at any place, and the alternation adds no backtracking."""
    firsts = []
    for branch in branches:
        if not len(branch) or str(branch[0][0]) != "LITERAL":
            return False
        firsts.append(branch[0][1])
    return len(set(firsts)) == len(firsts)


def _check_pattern(text: str, pattern: Literal) -> None:
    value = str(pattern.value)
    if len(value) > MAX_PATTERN:
        raise FilterError(
            f"the pattern is {len(value)} characters long; at most {MAX_PATTERN} are accepted",
            text=text,
            position=pattern.position,
            expected=[],
        )
    try:
        with warnings.catch_warnings():  # FutureWarnings of re ("possible nested set")
            warnings.simplefilter("ignore")
            re.compile(value)
    except re.error as exc:
        raise FilterError(
            f"not a valid regular expression: {exc}",
            text=text,
            position=pattern.position,
            expected=["a regular expression"],
        ) from exc
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = importlib.import_module("re._parser").parse(value)
    risk = _risky(tree)
    if risk:
        raise FilterError(
            f"the pattern holds {risk}, which can take very long to match; "
            "write the pattern without it",
            text=text,
            position=pattern.position,
            expected=["a regular expression"],
        )
