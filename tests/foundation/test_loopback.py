"""The loopback rule's one home: what counts as loopback, and the one refusal."""

from __future__ import annotations

import pytest

from triage.errors import BadInput
from triage.loopback import EXPOSE_FLAG, is_loopback, require_loopback_or_allowed


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.0.0.77", True), ("127.255.255.254", True), ("::1", True), ("[::1]", True),
    ("::ffff:127.0.0.1", True), ("localhost", True), ("LOCALHOST.", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("192.0.2.53", False), ("fd00::1", False),
    ("128.0.0.1", False), ("localhost.example", False), ("db.quay.svc", False), ("", False),
])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


def test_loopback_and_allowed_hosts_pass():
    require_loopback_or_allowed("127.0.0.1", (), "--bind", allow_with="never needed")
    require_loopback_or_allowed("10.0.0.5", ("10.0.0.5",), "--bind", allow_with="never needed")
    require_loopback_or_allowed("fd00::1", ("FD00:0::1",), "--resolver", allow_with="never needed")


def test_anything_else_is_refused_with_one_line_naming_the_way_out():
    with pytest.raises(BadInput) as caught:
        require_loopback_or_allowed("0.0.0.0", ("10.0.0.5",), "--bind", allow_with=f"add {EXPOSE_FLAG}")
    message = str(caught.value)
    assert message == ("--bind 0.0.0.0: not a loopback address; triage keeps its traffic on loopback unless "
                       "told otherwise (add --i-know-this-exposes-dns)")
    assert "\n" not in message
