import os
import shutil

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "kernel")


@pytest.fixture
def proc_capture(tmp_path):
    """Lay a recorded capture (flat files named like net_snmp) out as a /proc tree."""
    def build(name: str, into: str = "proc") -> str:
        root = tmp_path / into
        for flat in os.listdir(os.path.join(FIXTURES, name)):
            rel = flat.replace("net_stat_", "net/stat/").replace("net_", "net/", 1)
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(os.path.join(FIXTURES, name, flat), dest)
        return str(root)
    return build
