"""What every mail says lives in Jinja2 templates (`docstore_notify/templates/`, package data,
so the wheel and the container carry them), one `.txt` and one `.html` per mail: the mail
modules work out the facts (sizes, dates, names made safe, links) and a template says them.

HTML templates are autoescaped (every value is escaped with MarkupSafe unless a template marks
it safe, which none does); plain-text templates are not escaped, there is nothing to escape in
text/plain: each value a person chose (file, user and client names, reasons) has been through
`message.safe_filename` (control characters, line breaks included, become spaces; length
bounded), so it cannot start a line of its own, and headers are checked by the `email` package.
`StrictUndefined`: a template naming a value the code does not pass fails, it never prints "".
Reading the templates is reading the package's own files, once; the domain stays without I/O
on anything outside it.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from docstore_notify.domain.message import SIGNATURE, Message

TEMPLATES = Environment(
    loader=PackageLoader("docstore_notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_text(template: str, /, **context: Any) -> str:
    """The template named `template` (with its extension) filled with `context`."""
    return TEMPLATES.get_template(template).render(signature=SIGNATURE, **context)


def render_mail(mail: str, subject: str, /, **context: Any) -> Message:
    """The mail `mail`: `mail.txt` for the text part, `mail.html` for the HTML one (`subject`
    is its title and heading)."""
    return Message(
        subject,
        render_text(f"{mail}.txt", subject=subject, **context),
        render_text(f"{mail}.html", subject=subject, **context),
    )
