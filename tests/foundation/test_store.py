import json
import multiprocessing
import os
import subprocess

import git
import pytest

from triage.errors import InputFileError, StoreError
from triage.store import SnapshotStore, load_side

from .test_model import DESIGN_EXAMPLE


def write_snapshot(path, **changes):
    data = json.loads(json.dumps(DESIGN_EXAMPLE))
    data.update(changes)
    path.write_text(json.dumps(data))
    return str(path)


def store_state(root):
    """Every file under the store (minus .git internals) with its bytes, and the commit count."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                files[os.path.relpath(os.path.join(dirpath, f), root)] = fh.read()
    commits = len(list(git.Repo(root).iter_commits())) if os.path.isdir(os.path.join(root, ".git")) else 0
    return files, commits


def test_two_saves_keep_two_runs_and_two_commits(tmp_path):
    snap = write_snapshot(tmp_path / "s.json")
    store = SnapshotStore(str(tmp_path / "store"))
    first, second = store.save("4.3.18", snap), store.save("4.3.18", snap)
    assert first.run_id != second.run_id
    assert [r.run_id for r in store.runs("4.3.18")] == [first.run_id, second.run_id]
    assert [s.label for s in store.load_label("4.3.18")] == ["4.3.19", "4.3.19"]
    repo = git.Repo(store.root)
    assert len(list(repo.iter_commits())) == 2
    assert not repo.is_dirty(untracked_files=True)
    assert [h.message for h in store.history("4.3.18")][0].startswith("triage: save 4.3.18")


def test_corrupt_input_is_refused_and_store_untouched(tmp_path):
    store = SnapshotStore(str(tmp_path / "store"))
    store.save("a", write_snapshot(tmp_path / "s.json"))
    before = store_state(store.root)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(DESIGN_EXAMPLE)[:120])
    with pytest.raises(InputFileError) as err:
        store.save("a", str(bad))
    assert str(bad) in str(err.value)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"benchmarks": [], "version": "1.0"}))
    with pytest.raises(InputFileError, match="schema"):
        store.save("a", str(foreign))
    assert store_state(store.root) == before


def test_corrupt_file_inside_the_store_is_named_on_load(tmp_path):
    store = SnapshotStore(str(tmp_path / "store"))
    run = store.save("a", write_snapshot(tmp_path / "s.json"))
    with open(run.path, "w") as fh:
        fh.write("{not json")
    with pytest.raises(InputFileError) as err:
        store.load_label("a")
    assert run.path in str(err.value)


def test_unknown_label_lists_known_ones(tmp_path):
    store = SnapshotStore(str(tmp_path / "store"))
    store.save("4.3.18", write_snapshot(tmp_path / "s.json"))
    with pytest.raises(StoreError, match=r"unknown label '4.3.20'.*known labels: 4.3.18"):
        store.load_label("4.3.20")
    with pytest.raises(StoreError):
        load_side("4.3.20", store)
    source, snapshots = load_side(str(tmp_path / "s.json"), store)
    assert source == "file" and snapshots[0].label == "4.3.19"
    assert load_side("4.3.18", store)[0] == "label"
    # A path that does not exist yet is still a file spec, never looked up as a label.
    with pytest.raises(InputFileError, match="no such snapshot JSON file"):
        load_side(str(tmp_path / "gone.json"), store)


def test_rm_is_a_commit_and_recoverable(tmp_path):
    store = SnapshotStore(str(tmp_path / "store"))
    run = store.save("a", write_snapshot(tmp_path / "s.json"))
    assert store.remove("a") == 1
    assert store.labels() == []
    repo = git.Repo(store.root)
    assert len(list(repo.iter_commits())) == 2
    assert json.loads(repo.git.show(f"HEAD~1:a/{os.path.basename(run.path)}"))["label"] == "4.3.19"


def test_store_inside_a_repo_commits_only_its_own_files(tmp_path):
    outer = git.Repo.init(tmp_path / "project")
    (tmp_path / "project" / "notes.txt").write_text("staged work of the user\n")
    outer.git.add("notes.txt")
    store = SnapshotStore(str(tmp_path / "project" / "baselines"))
    store.save("a", write_snapshot(tmp_path / "s.json"))
    head = outer.head.commit
    assert sorted(head.stats.files) == [f"baselines/a/{store.runs('a')[0].run_id}.json"]
    assert "notes.txt" in outer.git.diff("--cached", "--name-only")  # the user's staging is intact


def _save_many(root, snap, n):
    store = SnapshotStore(root)
    for _ in range(n):
        store.save("c", snap)


def test_concurrent_saves_lose_nothing(tmp_path):
    snap = write_snapshot(tmp_path / "s.json")
    root = str(tmp_path / "store")
    SnapshotStore(root).save("c", snap)  # create the repo first
    procs = [multiprocessing.Process(target=_save_many, args=(root, snap, 4)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len(SnapshotStore(root).runs("c")) == 13
    assert len(list(git.Repo(root).iter_commits())) == 13
    assert subprocess.run(["git", "-C", root, "status", "--porcelain"], capture_output=True, text=True).stdout == ""


def test_store_inside_a_repo_leaves_no_untracked_files(tmp_path):
    outer = git.Repo.init(tmp_path / "project")
    store = SnapshotStore(str(tmp_path / "project" / "baselines"))
    store.save("a", write_snapshot(tmp_path / "s.json"))
    store.save("a", write_snapshot(tmp_path / "s.json"))
    assert outer.untracked_files == []
    assert not outer.is_dirty()
