import pytest

from triage.config import Config, load_config, parse_config
from triage.secrets import mask_secrets
from triage.errors import InputFileError

GOOD = """\
samples: 50
targets:
  - name: registry
    url: http://127.0.0.1:8080/health
  - name: registry-db
    dsn: postgresql://quay:s3cret@db.example:5433/quay
    queries:
      - {name: image-layer-fetch, sql: "SELECT 1"}
  - name: db-host
    host: quay-db.quay.svc
    port: 5432
dns:
  resolvers: [system, "127.0.0.1:5353"]
  names: [quay-db.quay.svc]
kubernetes:
  kubeconfig: ~/.kube/config
  context: staging
  namespaces: [quay]
"""


def test_design_example_config_loads():
    cfg = parse_config(GOOD, "triage.yaml")
    assert cfg.samples == 50
    assert [t.name for t in cfg.targets] == ["registry", "registry-db", "db-host"]
    assert cfg.endpoints() == [("registry", ("127.0.0.1", 8080)), ("registry-db", ("db.example", 5433)),
                               ("db-host", ("quay-db.quay.svc", 5432))]
    assert cfg.targets[1].queries[0].name == "image-layer-fetch"
    assert cfg.dns.resolvers == ("system", "127.0.0.1:5353")
    assert cfg.kubernetes.context == "staging" and cfg.kubernetes.enabled
    assert not cfg.kubernetes.kubeconfig.startswith("~")


def test_bad_port_names_file_line_field_and_expectation():
    text = GOOD.replace("port: 5432", "port: abc")
    with pytest.raises(InputFileError) as err:
        parse_config(text, "triage.yaml")
    assert str(err.value) == "triage.yaml:11: targets[2].port: expected an integer 1-65535, got 'abc'"


@pytest.mark.parametrize("text, where", [
    ("samples: 0\n", "triage.yaml:1: samples: expected an integer"),
    ("sample: 10\n", "triage.yaml:1: sample: unknown key, expected one of"),
    ("targets:\n  - name: a\n", "triage.yaml:2: targets[0]: expected one of url"),
    ("targets:\n  - url: http://x/\n", "triage.yaml:2: targets[0].name: required"),
    ("dns:\n  resolvers: [system, 'not-an-ip']\n", "triage.yaml:2: dns.resolvers[1]: expected 'system', IP[:port]"),
    ("targets:\n  - name: a\n    url: ftp://x/\n", "triage.yaml:3: targets[0].url: expected an http"),
    ("samples: [1\n", "triage.yaml:2: not valid YAML"),
    ("targets:\n  - {name: a, host: h}\n  - {name: a, host: h}\n", "triage.yaml:3: targets[1].name: expected a unique name"),
    ("groups: 0\n", "triage.yaml:1: groups: expected an integer 1-10000, got 0"),
    ("spread: -1\n", "triage.yaml:1: spread: expected a number 0-3600, got -1"),
    ("dns:\n  groups: many\n", "triage.yaml:2: dns.groups: expected an integer 1-10000, got 'many'"),
    ("kubernetes:\n  groups: 2.5\n", "triage.yaml:2: kubernetes.groups: expected an integer 1-10000, got 2.5"),
    ("targets:\n  - {name: a, host: h, groups: true}\n", "triage.yaml:2: targets[0].groups: expected an integer"),
])
def test_validation_errors_point_at_the_line(text, where):
    with pytest.raises(InputFileError) as err:
        parse_config(text, "triage.yaml")
    assert str(err.value).startswith(where)


def test_env_references_expand_and_missing_ones_are_named(monkeypatch):
    monkeypatch.setenv("REG_TOKEN", "tok-123")
    text = "targets:\n  - name: a\n    url: http://h/\n    headers: {Authorization: 'Bearer ${REG_TOKEN}'}\n"
    assert parse_config(text, "t.yaml").targets[0].headers == {"Authorization": "Bearer tok-123"}
    monkeypatch.delenv("REG_TOKEN")
    with pytest.raises(InputFileError) as err:
        parse_config(text, "t.yaml")
    assert "environment variable REG_TOKEN is not set" in str(err.value)
    assert "t.yaml:4: targets[0].headers.Authorization" in str(err.value)


def test_secrets_are_masked_wherever_a_target_is_shown():
    cfg = parse_config(GOOD, "triage.yaml")
    assert cfg.targets[1].shown == "postgresql://quay:***@db.example:5433/quay"
    assert "s3cret" not in repr(cfg)
    assert mask_secrets("host=db user=q password='p w' dbname=x") == "host=db user=q password=*** dbname=x"
    assert mask_secrets("https://u:pw@h/x") == "https://u:***@h/x"
    assert mask_secrets("host=db password='se\\' cret' user=q") == "host=db password=*** user=q"
    assert mask_secrets("Authorization: Bearer abc123; key abc", ["abc", "Bearer abc123"]) == \
        "Authorization: ***; key ***"


def test_defaults_when_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None) == Config()
    (tmp_path / "triage.yaml").write_text("samples: 7\n")
    assert load_config(None).samples == 7
    with pytest.raises(InputFileError) as err:
        load_config(str(tmp_path / "missing.yaml"))
    assert "missing.yaml: no such config file" in str(err.value)


@pytest.mark.parametrize("spec, ok", [
    ("system", True), ("127.0.0.1", True), ("127.0.0.1:5353", True), ("[::1]:5353", True), ("::1", True),
    ("cluster-dns=127.0.0.1:5353", True), ("bad name=127.0.0.1", False), ("x=not-ip", False),
    ("127.0.0.1:99999", False), ("[::1]x", False),
])
def test_resolver_specs(spec, ok):
    text = f"dns:\n  resolvers: ['{spec}']\n"
    if ok:
        assert parse_config(text, "t.yaml").dns.resolvers == (spec,)
    else:
        with pytest.raises(InputFileError, match="dns.resolvers"):
            parse_config(text, "t.yaml")


def test_groups_default_to_ten_spread_over_a_second_and_are_overridden_per_section_and_target():
    cfg = parse_config(GOOD, "triage.yaml")
    assert (cfg.groups, cfg.spread_s) == (10, 1.0)
    assert cfg.dns.groups is None and cfg.kubernetes.groups is None and cfg.targets[0].groups is None
    text = ("groups: 5\nspread: 0\ntargets:\n  - {name: a, url: 'http://h/', groups: 2}\n"
            "dns:\n  groups: 20\nkubernetes:\n  groups: 4\n")
    cfg = parse_config(text, "t.yaml")
    assert (cfg.groups, cfg.spread_s, cfg.targets[0].groups, cfg.dns.groups, cfg.kubernetes.groups) == (5, 0.0, 2, 20, 4)
