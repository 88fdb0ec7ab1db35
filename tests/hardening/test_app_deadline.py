"""Issue 16, item 10: an app target's ``timeout`` bounds each request in total. A server that
answers at once but trickles its body a byte at a time never trips a per-read timeout; the
request must still fail as a timeout instead of running on (121 s for ``timeout: 5``)."""

from __future__ import annotations

from tests.app.http_server import Answer, ControlledServer, always
from triage.config import parse_config
from triage.runner import RunOptions, run_probes


def _run(url: str, timeout: float, samples: int):
    config = parse_config(f"targets:\n  - name: slow\n    url: \"{url}\"\n    timeout: {timeout}\n"
                          "    fanout: false\n", "triage.yaml")
    (result,) = run_probes(config, RunOptions(layers=("app",), label="t", samples=samples)).results
    return result


def test_a_trickled_body_is_a_timeout_not_an_answer():
    # 40 bytes, one every 0.25 s: 10 s in all, each read well inside the 1 s timeout.
    with ControlledServer(always(Answer(body_size=40, trickle_s=0.25))) as server:
        result = _run(server.url + "/slow", timeout=1, samples=1)
    assert result.status == "error", result
    assert "timeout: no complete answer within 1s (the request's total deadline)" in result.error


def test_answers_inside_the_deadline_are_untouched():
    with ControlledServer(always(Answer(body_size=5000))) as server:
        result = _run(server.url + "/fast", timeout=5, samples=20)
    assert result.status == "ok", result.error
    errors = next(m for m in result.measurements if m.metric == "errors")
    assert (errors.events, errors.trials) == (0, 20)
