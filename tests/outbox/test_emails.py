"""The emails rendered from a skeleton (`SLOTTED_EMAILS`) are the emails their templates render,
byte for byte, whatever the values: the person's words printed as typed in the text, escaped once
in the HTML, in the reader's language."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dsr.languages import Language
from dsr.outbox import emails
from dsr.outbox.emails import RenderedEmail, render_email

NASTY = [
    "<script>alert(1)</script>",
    "&amp; &lt; \" ' <b>",
    "%s %(reference)s %% {{ message }} {% if x %}",
    emails._SLOT + "0.",  # a value that looks like a stand-in is printed as typed
    "line one\n\nline two\r\n",
    "Zoé « déjà » — ok",
]
texts = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


@pytest.fixture(autouse=True)
def fresh_skeletons() -> Iterator[None]:
    emails._skeletons.clear()
    yield
    emails._skeletons.clear()


def verification(language: Language = Language.EN, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "reference": "DSR-2026-000042",
        "type_label": "access to your data",
        "received_on": "6 December 2026",
        "verify_url": "https://desk.example/verify/TOKEN?a=1&b=2",
        "valid_hours": 48,
        "message": None,
        "rectification": None,
        "reused": False,
        "parts": [],
        "by_post": False,
    }
    values.update(overrides)
    return values


def rendered_directly(language: Language, values: dict[str, object]) -> RenderedEmail:
    return emails._render(
        "verification", language, {"language": language.value, "sender": None, **values}
    )


@settings(max_examples=150, deadline=None)
@given(
    language=st.sampled_from(list(Language)),
    reference=texts,
    type_label=texts,
    message=st.one_of(st.none(), texts),
    rectification=st.one_of(st.none(), texts),
    reused=st.booleans(),
    by_post=st.booleans(),
    parts=st.lists(st.fixed_dictionaries({"reference": texts, "type_label": texts}), max_size=3),
)
@example(
    language=Language.FR,
    reference="<i>",
    type_label="&",
    message="<b>x</b>",
    rectification="",
    reused=True,
    by_post=True,
    parts=[],
)
def test_an_email_from_its_skeleton_is_the_email_its_templates_render(
    language: Language,
    reference: str,
    type_label: str,
    message: str | None,
    rectification: str | None,
    reused: bool,
    by_post: bool,
    parts: list[dict[str, str]],
) -> None:
    values = verification(
        language,
        reference=reference,
        type_label=type_label,
        message=message,
        rectification=rectification,
        reused=reused,
        by_post=by_post,
        parts=parts,
    )
    expected = rendered_directly(language, values)
    assert render_email("verification", language, **values) == expected  # the first: checked
    assert render_email("verification", language, **values) == expected  # from the skeleton


def test_the_person_s_words_are_escaped_once_in_the_html_and_kept_as_typed_in_the_text() -> None:
    render_email("verification", Language.EN, **verification(message="first"))  # the skeleton
    email = render_email("verification", Language.EN, **verification(message="<b>&amp;</b>"))
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in (email.html or "")
    assert "<b>&amp;</b>" not in (email.html or "")
    assert "<b>&amp;</b>" in email.text
    assert "verify/TOKEN?a=1&amp;b=2" in (email.html or "")
    assert "verify/TOKEN?a=1&b=2" in email.text


def test_a_skeleton_is_kept_per_language_and_per_shape() -> None:
    english = render_email("verification", Language.EN, **verification(message="hi"))
    french = render_email("verification", Language.FR, **verification(message="hi"))
    assert "Your message:" in english.text
    assert "Votre message" in french.text
    without = render_email("verification", Language.EN, **verification(message=""))
    assert "Your message:" not in without.text
    assert without == rendered_directly(Language.EN, verification(message=""))
    two_parts = [{"reference": "R1", "type_label": "a"}, {"reference": "R2", "type_label": "b"}]
    grouped = render_email("verification", Language.EN, **verification(parts=two_parts))
    assert "- a request for a (reference R1)" in grouped.text
    assert grouped == rendered_directly(Language.EN, verification(parts=two_parts))


def test_a_shape_whose_templates_do_not_print_a_value_as_it_is_is_never_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    render = emails._render

    def shouting(name: str, language: Language, values: dict[str, object]) -> RenderedEmail:
        message = values.get("message")
        upper = message.upper() if isinstance(message, str) else message
        return render(name, language, {**values, "message": upper})

    monkeypatch.setattr(emails, "_render", shouting)
    first = render_email("verification", Language.EN, **verification(message="quiet"))
    second = render_email("verification", Language.EN, **verification(message="other"))
    assert "QUIET" in first.text
    assert "OTHER" in second.text
    assert list(emails._skeletons.values()) == [None]


def test_a_value_that_cannot_key_a_skeleton_is_rendered_directly_and_a_full_cache_starts_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unhashable = verification(extra={"x"})  # a set: no skeleton for it
    assert render_email("verification", Language.EN, **unhashable) == rendered_directly(
        Language.EN, unhashable
    )
    assert emails._skeletons == {}
    monkeypatch.setattr(emails, "_SKELETON_LIMIT", 2)
    for reused in (False, True, False):
        for by_post in (False, True):
            values = verification(reused=reused, by_post=by_post, message="m")
            assert render_email("verification", Language.FR, **values) == rendered_directly(
                Language.FR, values
            )
            assert len(emails._skeletons) <= 2
