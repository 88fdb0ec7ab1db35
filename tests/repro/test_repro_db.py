"""`triage repro db`: its profiles, what it refuses before any packet, and a reduced-scale
storm against a real throwaway PostgreSQL whose snapshots `triage compare` judges.

The full-scale storm (200,000 rows, both profiles) is the README's figure and
bench/db_storm.py's; here the tables are half that and the answers are the same."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from triage.errors import BadInput, InputFileError
from triage.repro import postgres
from triage.report import RenderOptions, render
from triage.repro.db_profile import StormProfile, parse_storm_profile


def test_profiles_compose_like_the_dns_reproducers():
    assert parse_storm_profile("with-index") == StormProfile()
    p = parse_storm_profile("without-index,pods=12,pool=5,max_connections=40")
    assert (p.index, p.pods, p.pool, p.max_connections, p.connections) == (False, 12, 5, 40, 60)
    assert parse_storm_profile("pods=3").index is True
    assert parse_storm_profile("").spec == "with-index"


@pytest.mark.parametrize("spec, message", [
    ("with-index,without-index", "profile: with-index and without-index: pick one"),
    ("pods=0", "profile: pods: expected an integer 1..50, got '0'"),
    ("pool=many", "profile: pool: expected an integer 1..50, got 'many'"),
    ("pods", "profile: pods: needs a value, e.g. pods=10"),
    ("max_connections=2", "profile: max_connections: expected an integer 5..10000, got '2'"),
    ("drop=2%", "profile: unknown key 'drop'; expected with-index, without-index, pods=N, pool=M, max_connections=K"),
    ("pods=50,pool=50", "profile 'pods=50,pool=50': pods x pool is 2500; at most 500 (one thread and one connection "
                        "each)"),
    ("pods=2,,pool=3", "profile: empty item in 'pods=2,,pool=3'; items are separated by single commas"),
])
def test_a_bad_profile_is_one_line_naming_what_was_expected(spec, message):
    with pytest.raises(BadInput) as info:
        parse_storm_profile(spec)
    assert str(info.value) == message


def test_a_profile_file(tmp_path):
    path = tmp_path / "storm.yaml"
    path.write_text("without-index: true\npods: 4\n")
    assert parse_storm_profile(str(path)) == StormProfile("storm.yaml", index=False, pods=4)
    path.write_text("pods: lots\n")
    with pytest.raises(InputFileError) as info:
        parse_storm_profile(str(path))
    assert str(info.value) == f"{path}: pods: expected an integer 1..50, got 'lots'"


@pytest.mark.parametrize("args, message", [
    ((), "expected --dsn DSN (a server you have) or --embedded (a throwaway one), one of them"),
    (("--embedded", "--dsn", "postgresql://quay@127.0.0.1/quay"), "expected --dsn DSN (a server you have)"),
    # Names are not resolved for the check (that would be a packet): a name is loopback only as localhost.
    (("--dsn", "postgresql://quay:Sekr1t-pw@db.quay.example:5432/quay"),
     "--dsn host db.quay.example: not a loopback address; triage keeps its traffic on loopback unless told otherwise "
     "(add --allow-load db.quay.example)"),
    (("--dsn", "host=127.0.0.1,10.1.2.3 dbname=quay", "--allow-load", "10.9.9.9"),
     "--dsn host 10.1.2.3: not a loopback address"),
    (("--dsn", "postgresql://quay@127.0.0.1/quay", "--profile", "max_connections=20"),
     "profile 'max_connections=20': max_connections needs --embedded; triage never changes the settings of a server "
     "you name"),
    (("--embedded", "--rows", "10"), "--rows: expected 1,000..20,000,000, got 10"),
    (("--embedded", "--duration", "0"), "--duration: expected 1..600, got 0"),
    (("--embedded", "--format", "yaml"), "--format: expected table or json, got 'yaml'"),
    (("--embedded", "--compare", "with-index", "pods=many"), "profile: pods: expected an integer 1..50, got 'many'"),
])
def test_refused_with_exit_2_before_anything_starts(triage, args, message):
    done = triage("repro", "db", *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"triage: error: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Sekr1t-pw" not in done.stderr
    assert done.stdout == ""


def test_embedded_without_the_server_binaries_is_exit_2_naming_them(triage, monkeypatch):
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    done = triage("repro", "db", "--embedded")
    assert done.returncode == 2
    assert "--embedded: PostgreSQL server binaries (initdb, pg_ctl) not found" in done.stderr


@pytest.fixture(scope="module")
def storm(tmp_path_factory):
    """The reduced storm, both profiles, once for the tests below (about 15 s): the engine call
    `triage repro db --embedded --compare with-index without-index --rows 100000 --rate 40
    --snapshot-dir snaps` makes (the command itself is a few lines over it, checked above)."""
    from triage import engine
    from triage.repro.db_repro import DbTarget
    from triage.repro.db_storm import StormOptions

    if postgres.find_bindir() is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail("PostgreSQL server binaries not found; .ci/run installs them")
        pytest.skip("PostgreSQL server binaries not found")
    root = tmp_path_factory.mktemp("storm")
    before = set(os.listdir(tempfile.gettempdir()))
    report = engine.repro_db(["with-index", "without-index"], DbTarget(embedded=True),
                             StormOptions(rows=100_000, rate=40), snapshot_dir=str(root / "snaps"))
    return root, report, before


def test_without_the_index_connections_reach_the_limit_and_requests_fail_with_it_the_storm_is_absorbed(storm):
    _, report, _ = storm
    with_index, without = json.loads(render(report, "json"))["sides"]
    assert (with_index["profile"], without["profile"]) == ("with-index", "without-index")
    usable = without["max_connections"] - without["superuser_reserved"]
    assert without["reached_max_connections"]
    assert without["connect_refusals"].get("too many clients", 0) > 0
    assert without["failed_requests"] > 0
    assert "Seq Scan on triage_repro.manifestblob" in without["plan"]
    assert not with_index["reached_max_connections"]
    assert with_index["peak_clients"] < usable
    assert with_index["failed_requests"] == 0 and with_index["connect_refusals"] == {}
    assert "Index Scan using manifestblob_repository_id_blob_id" in with_index["plan"]
    assert with_index["pods_warm"] == with_index["pods"]
    # The timeline: one row a second, connections never more than the server allows.
    for side in (with_index, without):
        assert side["timeline"] and all(row["clients"] is None or row["clients"] <= side["max_connections"]
                                        for row in side["timeline"])
    assert max(row["clients"] or 0 for row in without["timeline"]) > max(row["clients"] or 0
                                                                         for row in with_index["timeline"])


def test_the_table_shows_both_sides_and_the_climb_against_max_connections(storm):
    _, report, _ = storm
    text = render(report, "table", RenderOptions(width=140))
    assert text.startswith("repro db · embedded PostgreSQL ")
    assert "with-index: connections against max_connections 50" in text
    assert "without-index: connections against max_connections 50" in text
    assert "reached max_connections" in text and "too many clients" in text
    assert "\x1b[" not in text  # no colour unless asked


def test_its_snapshots_compare_as_a_database_root_with_the_plan_flip_in_the_evidence(storm, triage):
    root, report, _ = storm
    assert sorted(os.listdir(root / "snaps")) == ["1-with-index.json", "2-without-index.json"]
    assert report.saved == [str(root / "snaps" / name) for name in ("1-with-index.json", "2-without-index.json")]
    compared = triage("compare", "snaps/1-with-index.json", "snaps/2-without-index.json", "--format", "json", cwd=root)
    assert compared.returncode == 3, compared.stderr
    verdict = compared.json()
    roles = {s["layer"]: s["role"] for s in verdict["suspects"]}
    assert roles == {"database": "root", "app": "downstream"}
    evidence = {e["metric"]: e["text"] for s in verdict["suspects"] for e in s["evidence"]}
    plan = evidence["database.query.repro-db/image-layer-fetch.plan"]
    assert "triage_repro.manifestblob Index Scan using manifestblob_repository_id_blob_id → Seq Scan" in plan, plan
    assert plan.endswith("(rows: triage_repro.manifestblob 100,000)")


def test_the_throwaway_server_is_gone_afterwards(storm):
    _, _, before = storm
    left = {name for name in set(os.listdir(tempfile.gettempdir())) - before if name.startswith("triage-pg-")}
    assert not left
