"""Splitting a SQL script into statements, in one linear pass.

It honours quoted strings ('...', "...", `...` with backslash and doubled-quote escapes) and comments
(``-- ``, ``#``, ``/* */``), so a semicolon inside either does not end a statement. Comments are
dropped. ``DELIMITER`` (a mysql client command, not SQL) is not supported and is refused.
"""

from __future__ import annotations

import re

from cloudops.errors import CloudOpsError

_TOKEN = re.compile(
    r"""
      '(?:[^'\\]|\\.|'')*'        # single-quoted string
    | "(?:[^"\\]|\\.|"")*"        # double-quoted string
    | `(?:[^`]|``)*`              # quoted identifier
    | --[ \t][^\n]*(?:\n|$)       # line comment
    | --(?:\n|$)
    | \#[^\n]*(?:\n|$)            # hash comment
    | /\*.*?\*/                   # block comment
    | ;                           # statement end
    | [^'"`;\-#/]+                # plain text
    | .                           # a lone -, / or an unterminated quote
    """,
    re.VERBOSE | re.DOTALL,
)


class SqlSyntaxError(CloudOpsError):
    """A script the splitter cannot read."""


def split_statements(script: str, *, source: str = "script") -> list[str]:
    """The statements of ``script``, without comments, trailing semicolons or empty statements."""
    if re.search(r"^\s*DELIMITER\s", script, re.IGNORECASE | re.MULTILINE):
        raise SqlSyntaxError(f"{source}: DELIMITER is a mysql client command, not SQL; write plain statements")
    statements: list[str] = []
    current: list[str] = []
    for match in _TOKEN.finditer(script):
        token = match.group()
        if token == ";":
            _close(current, statements)
        elif token.startswith(("-- ", "--\t", "#", "/*")) or token in ("--", "--\n"):
            current.append(" ")
        else:
            if token in ("'", '"', "`"):
                raise SqlSyntaxError(f"{source}: unterminated quote at offset {match.start()}; close it")
            current.append(token)
    _close(current, statements)
    return statements


def _close(current: list[str], statements: list[str]) -> None:
    statement = "".join(current).strip()
    if statement:
        statements.append(statement)
    current.clear()
