"""Atomic writes: the target is either as it was or complete, no temporary file stays, and the data is synced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.files import atomic_path, write_atomic


def leftovers(folder: Path, *keep: str) -> list[str]:
    """Files in ``folder`` other than ``keep``: temporary files a write left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_text_and_bytes_are_written_and_no_temporary_file_stays(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, "première\n")
    assert target.read_bytes() == "première\n".encode()
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert leftovers(tmp_path, "state.json") == []


def test_a_new_file_gets_the_usual_permissions_unless_told(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    write_atomic(tmp_path / "atomic.txt", "x")
    assert stat.S_IMODE((tmp_path / "atomic.txt").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    if os.name != "nt":  # Windows has no owner-only bits
        write_atomic(tmp_path / "secret.json", "{}", mode=0o600)
        assert stat.S_IMODE((tmp_path / "secret.json").stat().st_mode) == 0o600


def test_a_failing_writer_leaves_the_original_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "runs.parquet"
    target.write_text("original")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as temporary:
        temporary.write_text("half a fil")
        raise RuntimeError("disk full")
    assert target.read_text() == "original"
    assert leftovers(tmp_path, "runs.parquet") == []


def test_an_interrupted_write_cleans_up_too(tmp_path: Path) -> None:
    target = tmp_path / "game.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(target):
        raise KeyboardInterrupt
    assert leftovers(tmp_path) == []


def test_write_atomic_failing_midway_leaves_the_original(tmp_path: Path) -> None:
    target = tmp_path / "doc.yaml"
    target.write_text("original")
    with pytest.raises(TypeError):
        write_atomic(target, 3)  # type: ignore[arg-type]
    assert target.read_text() == "original"
    assert leftovers(tmp_path, "doc.yaml") == []


def test_a_writer_that_wants_a_path_gets_a_hidden_one_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "cache.npz"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first.parent == second.parent == tmp_path
        assert first != second  # two writers never share one temporary file
        assert first.name.startswith(".cache.npz.") and first.suffix == ".tmp"
        assert first.exists() and not target.exists()
        first.write_bytes(b"first")
        second.write_bytes(b"second")
    assert target.read_bytes() == b"first"  # the outer block ends last: the last to finish wins, whole
    assert leftovers(tmp_path, "cache.npz") == []


def test_the_file_is_synced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd))
    )
    write_atomic(tmp_path / "x.txt", "x")
    assert synced == ([False] if os.name == "nt" else [False, True])


def test_the_calibration_document_and_the_start_state_cache_are_written_atomically(tmp_path: Path) -> None:
    from sim.start_state import StartState, _save
    from sim.validation.calibrate import write_document

    write_document(tmp_path / "calibrated.yaml", {"parameters": {"a.b": {"value": 0.5}}})
    assert yaml.safe_load((tmp_path / "calibrated.yaml").read_text()) == {"parameters": {"a.b": {"value": 0.5}}}
    arrays = {"age": np.arange(3.0)}
    citizens = {public: dict(arrays) for public in ("korea", "japan")}
    _save(tmp_path / "state.npz", [StartState(citizens, {"drivers.trade.boycott": 0.25})])
    assert leftovers(tmp_path, "calibrated.yaml", "state.npz") == []
    with np.load(tmp_path / "state.npz") as data:
        assert np.array_equal(data["0/korea/age"], arrays["age"])
        assert data["0/scalars"].tolist() == [0.25]
