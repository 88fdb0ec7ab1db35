"""Issue 16, item 1: the masking rule of triage.secrets (token boundaries, the forms of a
secret, the shapes servers echo credentials in)."""

from __future__ import annotations

import base64

from triage.secrets import dsn_secrets, header_secrets, http_secrets, mask_secrets

APP_TOKEN = "hX9-app-T0ken-Echo-7731"
URL_USER, URL_PASSWORD = "quay", "Pw-userinfo-5521"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_short_secrets_are_masked_as_whole_tokens_only():
    text = "3 connection attempts failed; the password p expired"
    assert mask_secrets(text, {"p"}) == text  # under 3 characters: never searched for
    assert mask_secrets("attempts pass expired; passes pass", {"pass"}) == "attempts *** expired; passes ***"
    assert mask_secrets('user "abc" key=abc abcd', {"abc"}) == 'user "***" key=*** abcd'


def test_long_secrets_are_masked_inside_other_words_too():
    token = "Kube-SECRET-long-0123456789"
    assert mask_secrets(f"x%20{token}y", {token}) == "x%20***y"


def test_a_header_gives_its_token_and_basic_auth_its_base64_and_password():
    assert APP_TOKEN in header_secrets(f"Bearer {APP_TOKEN}")
    forms = header_secrets(f"Basic {b64('u:' + URL_PASSWORD)}")
    assert {URL_PASSWORD, f"u:{URL_PASSWORD}", b64("u:" + URL_PASSWORD)} <= forms
    forms = http_secrets(f"http://{URL_USER}:{URL_PASSWORD}@h/x", {})
    assert {URL_PASSWORD, b64(f"{URL_USER}:{URL_PASSWORD}")} <= forms
    assert "a'b c" in dsn_secrets("host=db password='a\\'b c' user=q", environ={})


def test_echoed_credentials_are_masked_by_their_shape_alone():
    assert mask_secrets("got Authorization: Bearer abcdefgh1234 back") == "got Authorization: Bearer *** back"
    assert mask_secrets('{"authorization": "Basic ' + b64("u:p") + '"}') == '{"authorization": "Basic ***"}'
    assert mask_secrets("Basic authentication failed") == "Basic authentication failed"
