"""Designer templates: plain text out, and only the allowed tags and filters in."""

import pytest
from django.utils.safestring import SafeData

from orchestrator.expressions import check_value, resolve_value
from orchestrator.templating import TemplateError, problem, render_text

DATA = {"input": {"name": "<b>Bo</b> & co", "items": ["a<", "b>"], "done": True}}


def test_a_template_renders_to_plain_text_neither_escaped_nor_marked_safe():
    text = render_text("<i>Hi</i> {{ input.name }}, {{ input.items|join:', ' }}", DATA)

    assert text == "<i>Hi</i> <b>Bo</b> & co, a<, b>"
    # Marked safe, it would reach a page raw; plain, the page escapes it once.
    assert not isinstance(text, SafeData)


def test_text_without_a_template_is_itself():
    assert render_text("<b>{curly}</b>", DATA) == "<b>{curly}</b>"


def test_the_allowed_tags_and_filters_work():
    source = (
        "{% if input.done %}{{ input.name|upper|truncatechars:6 }}{% else %}no{% endif %}"
        "{% for item in input.items %}[{{ forloop.counter }}{{ item }}]{% empty %}none{% endfor %}"
        "{% with n=input.items|length %}{{ n }} item{{ n|pluralize }}{% endwith %}"
        "{{ input.missing|default:'-' }} {{ input.done|yesno:'yes,no' }}{# a note #}"
    )

    assert render_text(source, DATA) == "<B>BO…[1a<][2b>]2 items- yes"


@pytest.mark.parametrize(
    "tag",
    [
        "{% debug %}",
        "{% load static %}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% ssi '/etc/passwd' %}",
        "{% csrf_token %}",
        "{% url 'workitems:inbox' %}",
        "{% autoescape off %}{{ input.name }}{% endautoescape %}",
        "{% block x %}{% endblock %}",
        "{% filter safe %}x{% endfilter %}",
    ],
)
def test_tags_that_load_show_internals_or_make_html_are_refused_when_checked_and_rendered(tag):
    name = tag.split()[1]
    sentence = (
        f"The tag {{% {name} %}} is not allowed in a template; use only these tags: "
        "comment, cycle, firstof, for, if, ifchanged, now, regroup, resetcycle, templatetag, "
        "verbatim, widthratio, with."
    )

    assert problem(f"Hello {tag}") == sentence
    with pytest.raises(TemplateError) as refused:
        render_text(f"Hello {tag}", DATA)
    assert str(refused.value) == sentence


@pytest.mark.parametrize(
    "name", ["safe", "safeseq", "escape", "force_escape", "linebreaks", "urlize", "pprint"]
)
def test_filters_that_make_html_or_show_internals_are_refused(name):
    message = problem(f"{{{{ input.name|{name} }}}}")

    assert message.startswith(f'The filter "{name}" is not allowed in a template; use only ')
    with pytest.raises(TemplateError):
        render_text(f"{{{{ input.name|{name} }}}}", DATA)


def test_a_refused_tag_in_an_action_parameter_fails_at_render_time_too():
    params = {"to": "a@example.com", "body": ["Hi {% debug %}"]}

    assert check_value(params) == [problem("{% debug %}")]
    with pytest.raises(TemplateError, match=r"The tag \{% debug %\} is not allowed"):
        resolve_value(params, DATA)


def test_action_parameters_render_as_plain_text():
    assert resolve_value({"subject": "<b>{{ input.name }}</b>"}, DATA) == {
        "subject": "<b><b>Bo</b> & co</b>"
    }
