"""Designer templates (a step's instructions, an action's parameters such as an email's
subject and body) rendered to plain text by a template engine of their own.

A designer writes text with `{{ input.name }}` and a few tags. The result is plain text:
neither the designer's literal markup nor the run data is escaped here; the page that shows
it escapes it once (autoescape), and a plain-text email shows it as it is. So a designer's
`<script>` reads as text on every page, whoever wrote it.

The engine knows only the tags and filters allowed below: nothing that loads templates or
files (`{% include %}`, `{% extends %}`, `{% load %}`), shows internals (`{% debug %}`),
needs a request (`{% csrf_token %}`, `{% url %}`) or makes HTML (`|safe`, `|linebreaks`,
`|urlize`). Validation refuses the others with a sentence (`problem`), and so does
rendering, since the engine cannot even parse them.
"""

import functools
import re
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import Lexer, TokenType

TAGS = (
    "comment",
    "cycle",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
FILTERS = (
    "add",
    "capfirst",
    "center",
    "cut",
    "date",
    "default",
    "default_if_none",
    "dictsort",
    "dictsortreversed",
    "divisibleby",
    "filesizeformat",
    "first",
    "floatformat",
    "get_digit",
    "join",
    "last",
    "length",
    "ljust",
    "lower",
    "make_list",
    "pluralize",
    "rjust",
    "slice",
    "slugify",
    "stringformat",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "wordwrap",
    "yesno",
)
# The words that open, continue or close an allowed tag ({% else %}, {% endfor %}).
_TAG_WORDS = frozenset(TAGS) | {f"end{tag}" for tag in TAGS} | {"elif", "else", "empty"}

_library = Library()
for _name in TAGS:
    _library.tags[_name] = defaulttags.register.tags[_name]
for _name in FILTERS:
    _library.filters[_name] = defaultfilters.register.filters[_name]


class _DesignerEngine(Engine):
    """Django's engine with the allowed tags and filters as its only built-ins."""

    default_builtins = []

    def get_template_builtins(self, builtins):
        return [_library]


# No loaders (nothing to include or extend), no libraries to {% load %}.
engine = _DesignerEngine(loaders=[], libraries={}, autoescape=False)


class TemplateError(Exception):
    """A designer template that cannot be rendered; the message is a sentence saying why."""


def is_template(source: str) -> bool:
    return "{{" in source or "{%" in source or "{#" in source


def _refused_tag(source: str) -> str | None:
    for token in Lexer(source).tokenize():
        if token.token_type is TokenType.BLOCK and token.contents.split():
            name = token.contents.split()[0]
            if name not in _TAG_WORDS:
                return name
    return None


@functools.lru_cache(maxsize=2048)
def _compiled(source: str) -> Template:
    """The template, or TemplateError with the sentence a designer reads."""
    refused = _refused_tag(source)
    if refused is not None:
        raise TemplateError(
            f"The tag {{% {refused} %}} is not allowed in a template; "
            f"use only these tags: {', '.join(TAGS)}."
        )
    try:
        return engine.from_string(source)
    except TemplateSyntaxError as exc:
        unknown = re.match(r"Invalid filter: '(\w+)'", str(exc))
        if unknown:
            raise TemplateError(
                f'The filter "{unknown.group(1)}" is not allowed in a template; '
                f"use only these filters: {', '.join(FILTERS)}."
            ) from exc
        raise TemplateError(str(exc)) from exc


def problem(source: str) -> str | None:
    """Why `source` is not a template this engine renders, or None when it is."""
    if not is_template(source):
        return None
    try:
        _compiled(source)
    except TemplateError as exc:
        return str(exc)
    return None


def render_text(source: str, data: dict[str, Any]) -> str:
    """`source` rendered over the run data as plain text: nothing escaped, nothing marked
    safe, so that wherever it is shown it is escaped exactly once."""
    if not is_template(source):
        return source
    rendered = _compiled(source).render(Context(data, autoescape=False))
    return str.__str__(rendered)  # a plain str: Django marks what it renders as safe
