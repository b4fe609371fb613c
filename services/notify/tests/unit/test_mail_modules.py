"""The mail modules import each other one way only (issue 36): `message` <- the mail families <-
`mail.render`. A function-level import is how a circle hides (it used to be `mail` <->
`link_mails`, `sign_in_mails` behind a `noqa`)."""

from __future__ import annotations

import ast
from pathlib import Path

import docstore_notify.domain as domain


def test_no_domain_module_imports_inside_a_function() -> None:
    hidden = []
    for path in sorted(Path(domain.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{path.name}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                ]
    assert hidden == []
