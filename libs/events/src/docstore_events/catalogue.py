"""The event catalogue: every DocStore event, as Markdown generated from this package.

`python -m docstore_events.catalogue` prints it; `--write` puts it into `docs/EVENTS.md`
between `<!-- event-catalogue:start -->` and `<!-- event-catalogue:end -->`; `--check` exits 1
when that section is out of date. Events are found by introspection: every `Event` subclass
that sets its own `type` in a module of this package. Who emits and who consumes each event is
read from the services' code by `docstore_devplatform.architecture`, into `docs/ARCHITECTURE.md`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import itertools
import pkgutil
import sys
import textwrap
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

import docstore_events
from docstore_events.base import Event
from docstore_events.topics import dead_letter_topic

START = "<!-- event-catalogue:start -->"
END = "<!-- event-catalogue:end -->"
DOCUMENT = Path("docs") / "EVENTS.md"
REGENERATE = "uv run python -m docstore_events.catalogue --write"


def event_modules() -> list[types.ModuleType]:
    """Every module of the `docstore_events` package, imported, by name."""
    modules = pkgutil.iter_modules(docstore_events.__path__)
    names = sorted(info.name for info in modules if not info.name.startswith("_"))
    return [importlib.import_module(f"{docstore_events.__name__}.{name}") for name in names]


def find_events() -> list[type[Event]]:
    """Every event class the package defines, sorted by its type string.

    Only classes defined in the package count (tests may register their own `Event`
    subclasses in `EVENT_TYPES`); an abstract base without its own `type` is skipped.
    """
    found: dict[str, type[Event]] = {}
    for module in event_modules():
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Event)
                and value.__module__ == module.__name__
                and isinstance(value.__dict__.get("type"), str)
            ):
                found[value.type] = value
    return [found[name] for name in sorted(found)]


def first_paragraph(cls: type) -> str:
    """The first paragraph of the class's own docstring, on one line ('' without one)."""
    doc = cls.__dict__.get("__doc__")
    if not doc:
        return ""
    paragraph = inspect.cleandoc(doc).split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (a string right under a field) of `cls` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, Event)):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for statement, following in itertools.pairwise(body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[statement.target.id] = " ".join(inspect.cleandoc(following.value.value).split())
    return docs


def type_name(annotation: Any) -> str:
    """A field's type as written in Python (`str | None`, `list[str]`, `Literal['free', 'premium']`)."""
    if isinstance(annotation, type):  # `list[str]` is a GenericAlias, not a type, since Python 3.11
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("datetime.datetime", "datetime")


def _cell(text: str) -> str:
    # A pipe ends a Markdown table cell, even inside backticks.
    return text.replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    default = field.get_default(call_default_factory=True)
    return f"default `{default!r}`"


def render_event(cls: type[Event]) -> list[str]:
    """One event's entry: type, class, topic, schema version, summary and fields."""
    lines = [
        f"### `{cls.type}`",
        "",
        f"`{cls.__name__}` in `{cls.__module__}` · topic `{cls.topic()}` · schema v{cls.schema_version}",
        "",
        first_paragraph(cls) or "*No docstring: say who emits this event and why.*",
        "",
        "| field | type | presence | meaning |",
        "|---|---|---|---|",
    ]
    notes = field_docs(cls)
    notes.setdefault("account_id", "the account the event is about; the Kafka key")
    for name, field in cls.model_fields.items():
        cells = [f"`{name}`", f"`{type_name(field.annotation)}`", _default(field), notes.get(name, "")]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines + [""]


def render() -> str:
    """The whole catalogue (without the markers), ending in one newline."""
    events = find_events()
    lines = [
        f"Generated from `libs/events` by `{REGENERATE}`: do not edit by hand.",
        f"{len(events)} event types. Topics are shown without `KAFKA_TOPIC_PREFIX` (e.g. `ap-southeast-2.`);",
        f"each has a dead-letter topic `{dead_letter_topic('<topic>')}`. The CloudEvents `type` is `docstore.<type>`,",
        "its `dataschema` `urn:docstore:event:<type>:v<schema>`.",
        "",
    ]
    for cls in events:
        lines += render_event(cls)
    return "\n".join(lines).rstrip("\n") + "\n"


def section(text: str) -> str:
    """What `text` holds between the catalogue markers; ValueError without them."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {START} ... {END} section")
    return text[start + len(START) : end].strip("\n") + "\n"


def replace_section(text: str, catalogue: str) -> str:
    """`text` with the part between the markers replaced by `catalogue`."""
    section(text)  # the markers must be there, in order
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{catalogue.rstrip(chr(10))}\n{END}{after}"


def default_document() -> Path:
    """`docs/EVENTS.md` of the repository: found from the working directory upwards,
    else from this file (an editable install in the uv workspace)."""
    places = [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    for place in places:
        if (place / DOCUMENT).is_file():
            return place / DOCUMENT
    raise FileNotFoundError(f"{DOCUMENT} not found above {Path.cwd()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="update the catalogue section of the document")
    action.add_argument("--check", action="store_true", help="exit 1 if the document's catalogue is out of date")
    parser.add_argument("--document", type=Path, help=f"default: {DOCUMENT} of this repository")
    args = parser.parse_args(argv)
    catalogue = render()
    if not (args.write or args.check):
        sys.stdout.write(catalogue)
        return 0
    document = args.document or default_document()
    text = document.read_text(encoding="utf-8")
    try:
        current = section(text)
    except ValueError as error:
        print(f"{document}: {error}", file=sys.stderr)
        return 2
    if args.check:
        if current != catalogue:
            print(f"{document}: the event catalogue is out of date; run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    if current != catalogue:
        document.write_text(replace_section(text, catalogue), encoding="utf-8")
        print(f"{document}: event catalogue updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
