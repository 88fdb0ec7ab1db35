import os
import socket
import time

import pytest

from triage.probes import GROUP_END, ProbeContext, kernel, measure
from triage.config import Config, parse_config

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kernel")
linux_only = pytest.mark.skipif(not os.path.exists("/proc/net/snmp"), reason="needs Linux /proc")


def ctx(proc_root="/proc", samples=30, config=None):
    return ProbeContext(config=config or Config(), samples=samples, deadline=time.monotonic() + 30, proc_root=proc_root)


def read(name, flat):
    with open(os.path.join(FIXTURES, name, flat)) as fh:
        return fh.read()


@pytest.mark.parametrize("capture", ["linux-6.18", "rhel7-3.10", "rhel8-4.18/before"])
def test_snmp_and_netstat_parse_on_every_recorded_kernel(capture):
    snmp = kernel.parse_proc_pairs(read(capture, "net_snmp"))
    netstat = kernel.parse_proc_pairs(read(capture, "net_netstat"))
    assert {"Tcp.RetransSegs", "Tcp.OutSegs", "Udp.InErrors", "Udp.RcvbufErrors"} <= snmp.keys()
    assert "TcpExt.ListenOverflows" in netstat and "TcpExt.TCPSynRetrans" in netstat


def test_rhel7_values_are_read_by_column_name():
    snmp = kernel.parse_proc_pairs(read("rhel7-3.10", "net_snmp"))
    assert snmp["Tcp.RetransSegs"] == 1203344
    assert snmp["Udp.RcvbufErrors"] == 4400
    assert "Udp.IgnoredMulti" not in snmp  # 3.10 has no such column
    netstat = kernel.parse_proc_pairs(read("rhel7-3.10", "net_netstat"))
    assert netstat["TcpExt.TCPSynRetrans"] == 14002
    assert netstat["TcpExt.ListenDrops"] == 88


def test_mismatched_section_is_left_out_not_misread():
    text = "Tcp: A B C\nTcp: 1 2\nUdp: X Y\nUdp: 5 6\n"
    assert kernel.parse_proc_pairs(text) == {"Udp.X": 5, "Udp.Y": 6}


def test_conntrack_stat_columns_found_by_name_across_layouts():
    old = kernel.parse_conntrack_stat(read("rhel7-3.10", "net_stat_nf_conntrack"))
    assert (old["insert_failed"], old["drop"], old["search_restart"]) == (12, 3, 4)
    new = kernel.parse_conntrack_stat(read("linux-6.18", "net_stat_nf_conntrack"))
    assert "clashres" in new and "entries" not in new


def test_softnet_sums_dropped_and_squeezed_over_cpus():
    assert kernel.parse_softnet_stat(read("rhel7-3.10", "net_softnet_stat")) == {
        "softnet_dropped": 3, "softnet_time_squeeze": 0x1f + 0x21}
    with pytest.raises(ValueError):
        kernel.parse_softnet_stat("garbage\n")


def test_counter_window_reports_deltas_and_rates(proc_capture):
    before, after = proc_capture("rhel8-4.18/before", "before"), proc_capture("rhel8-4.18/after", "after")
    c = ctx(before)
    gen = kernel.counters(None, c)
    assert next(gen) is None
    c.proc_root = after
    got = {m.metric: m for m in gen}
    assert got["tcp_retrans_segs"].value == 50
    assert got["tcp_retrans_segs"].extra["counter"] is True and got["tcp_retrans_segs"].extra["window_s"] >= 0
    assert "tcp_out_rsts" not in got  # resets follow applications: a symptom, not kernel trouble
    assert got["tcp_syn_retrans"].value == 30
    assert got["tcp_listen_overflows"].value == 30
    assert got["udp_rcvbuf_errors"].value == 16
    assert (got["tcp_retransmit_rate"].events, got["tcp_retransmit_rate"].trials) == (50, 10000)
    assert (got["udp_in_error_rate"].events, got["udp_in_error_rate"].trials) == (20, 2000)
    assert got["softnet_dropped"].value == 4 and got["softnet_time_squeeze"].value == 6
    assert got["conntrack_insert_failed"].value == 10 and got["conntrack_drop"].value == 4
    assert c.notes == ["conntrack not loaded (no nf_conntrack_count); conntrack fill left out"]


def test_missing_files_drop_metrics_with_a_reason(tmp_path):
    empty = tmp_path / "proc"
    (empty / "net").mkdir(parents=True)
    (empty / "net" / "snmp").write_text(read("rhel7-3.10", "net_snmp"))
    c = ctx(str(empty))
    gen = kernel.counters(None, c)
    next(gen)
    got = {m.metric for m in gen}
    assert "tcp_retrans_segs" in got and "tcp_syn_retrans" not in got
    assert any("net/netstat" in n for n in c.notes)
    assert any("softnet_stat" in n for n in c.notes)
    assert any("TcpExt.TCPSynRetrans" in n for n in c.notes)


@linux_only
def test_real_proc_counters_and_facts():
    c = ctx()
    gen = kernel.counters(None, c)
    next(gen)
    got = {m.metric: m for m in gen}
    assert got["tcp_retrans_segs"].value >= 0 and got["tcp_retrans_segs"].kind == "gauge"
    facts = {m.metric: m.value for m in kernel.facts(None, ctx())}
    assert facts["kernel_release"] == os.uname().release
    with open("/proc/sys/net/core/somaxconn") as fh:
        assert facts["net.core.somaxconn"] == fh.read().strip()
    assert len(facts) >= 10


def test_tcp_connect_to_own_loopback_listener():
    out = {m.metric: m for m in measure(kernel.tcp_connect, None, ctx(samples=25))}
    assert len(out["connect_latency"].values) == 25
    assert out["connect_latency"].groups == (3, 3, 3, 3, 3, 2, 2, 2, 2, 2)  # the default 10 sub-runs
    assert all(v > 0 for v in out["connect_latency"].values)
    assert (out["connect_failures"].events, out["connect_failures"].trials) == (0, 25)


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_tcp_connect_to_a_real_listener_target(listening_port):
    port = listening_port
    cfg = parse_config(f"targets:\n  - {{name: db, host: 127.0.0.1, port: {port}}}\n", "t.yaml")
    assert kernel._connect_targets(cfg) == [("db", ("127.0.0.1", port))]
    out = {m.metric: m for m in measure(kernel.tcp_connect, ("127.0.0.1", port), ctx(samples=20, config=cfg))}
    assert len(out["connect_latency"].values) == 20


def test_refused_connects_are_a_proportion_not_a_crash():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    c = ctx(samples=10)
    out = {m.metric: m for m in measure(kernel.tcp_connect, ("127.0.0.1", port), c)}
    assert "connect_latency" not in out
    assert (out["connect_failures"].events, out["connect_failures"].trials) == (10, 10)
    assert any("refused" in n.lower() for n in c.notes)


def test_tcp_connect_takes_its_samples_in_the_configured_groups_and_pauses_between_them(listening_port):
    cfg = parse_config(f"groups: 4\ntargets:\n  - {{name: db, host: 127.0.0.1, port: {listening_port}}}\n", "t.yaml")
    items = list(kernel.tcp_connect(("127.0.0.1", listening_port), ctx(samples=10, config=cfg)))
    # Three pauses between four groups; the measurements come after the last group.
    assert [i for i, item in enumerate(items) if item is GROUP_END] == [0, 1, 2]
    latency = next(m for m in items[3:] if m.metric == "connect_latency")
    assert latency.groups == (3, 3, 2, 2) and len(latency.values) == 10


def test_counters_read_each_round_keep_per_round_counts(proc_capture):
    from triage.probes import ROUND

    before, after = proc_capture("rhel8-4.18/before", "before"), proc_capture("rhel8-4.18/after", "after")
    c = ctx(before)
    gen = kernel.counters(None, c)
    assert next(gen) is None
    assert gen.send(ROUND) is None  # round 1: nothing happened
    c.proc_root = after
    assert gen.send(ROUND) is None  # round 2: everything happened
    got = {m.metric: m for m in gen}  # round 3 ends at the close: nothing more
    retrans = got["tcp_retrans_segs"]
    assert retrans.value == 50 and retrans.extra["rounds"] == [0, 50, 0]
    assert len(retrans.extra["round_s"]) == 3 and all(s >= 0 for s in retrans.extra["round_s"])
    assert (got["tcp_retransmit_rate"].events, got["tcp_retransmit_rate"].trials) == (50, 10000)
    assert got["tcp_retransmit_rate"].extra["rounds"] == [[0, 0], [50, 10000], [0, 0]]
