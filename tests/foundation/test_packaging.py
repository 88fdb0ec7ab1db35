"""What `pip install .` puts into site-packages: the probes live under triage, so nothing
named `probes` can collide with another project's."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_the_wheel_holds_triage_probes_and_no_top_level_probes(tmp_path):
    # Build from a copy, so the build leaves neither build/ nor a rewritten egg-info in the checkout.
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "triage"), src / "triage", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    if built.returncode != 0 and "invalid command 'bdist_wheel'" in built.stdout + built.stderr:
        pytest.skip("cannot build a wheel offline: this setuptools needs the `wheel` package (pip install -e '.[test]')")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = os.listdir(tmp_path / "dist")
    names = zipfile.ZipFile(tmp_path / "dist" / wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert top_level == {"triage"}
    assert "triage/probes/__init__.py" in names and "triage/probes/dns.py" in names
