"""Output files: never written over, never seen half-written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from app.core.files import FileExists, FolderBusy, FolderLock, claim_stem, new_file, write_new

BIG = 64 * 1024 * 1024  # long enough to write that a reader polling meanwhile would catch a partial file


def test_a_reader_never_finds_the_file_half_written(tmp_path):
    path = tmp_path / "capture.png"
    data = bytes(range(256)) * (BIG // 256)
    seen: list[int] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            if path.exists():
                seen.append(path.stat().st_size)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        write_new(path, data)
    finally:
        done.set()
        reader.join()
    assert path.read_bytes() == data
    assert set(seen) <= {len(data)}  # whenever the name was there, the whole file was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capture.png"]  # no temporary file left
    # while being written, the file is hidden and no "*.png" pattern takes it for a finished one
    with new_file(tmp_path / "next.png") as tmp:
        tmp.write_bytes(data)
        assert tmp.name.startswith(".next.png.") and list(tmp_path.glob("*.png")) == [path]
    with new_file(tmp_path / "run.mp4", keep_suffix=True) as tmp:  # for ffmpeg, which goes by the suffix
        assert tmp.name.startswith(".run.mp4.") and tmp.suffix == ".mp4"
        tmp.write_bytes(data)


def test_writers_racing_for_one_name_leave_one_whole_file(tmp_path):
    path = tmp_path / "pose.json"
    won: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(8)

    def write(n: int) -> None:
        start.wait()
        try:
            write_new(path, bytes([n]) * 1_000_000)
            won.append(n)
        except FileExists:
            refused.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7
    assert path.read_bytes() == bytes(won) * 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["pose.json"]


def test_an_existing_file_is_refused_and_kept_unless_overwrite(tmp_path):
    path = tmp_path / "a.json"
    write_new(path, b"first")
    with pytest.raises(FileExists, match="exists"):
        write_new(path, b"second")
    assert path.read_bytes() == b"first"
    write_new(path, b"third", overwrite=True)
    assert path.read_bytes() == b"third"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_files_that_belong_together_claim_a_free_stem_even_against_a_racing_writer(tmp_path):
    write_new(tmp_path / "hen-grad.png", b"an older run's picture")  # any of the suffixes makes a stem taken
    stem, path = claim_stem(tmp_path, "hen-grad", (".json", ".png"), lambda p: write_new(p, b"mine"))
    assert stem == "hen-grad-2" and path.read_bytes() == b"mine"

    def raced(p):  # another run takes the same name between the check and the write
        if p.name == "hen-grad-3.json":
            write_new(p, b"theirs")
        return write_new(p, b"mine")

    stem, path = claim_stem(tmp_path, "hen-grad", (".json", ".png"), raced)
    assert stem == "hen-grad-4" and path.read_bytes() == b"mine"
    assert (tmp_path / "hen-grad-3.json").read_bytes() == b"theirs"  # both runs keep their files
    assert claim_stem(tmp_path, "hen", (".json",), lambda p: write_new(p, b"x"), numbered=True)[0] == "hen-001"
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(FileExistsError):  # a folder that is a file: an error, not a search for a free name
        claim_stem(tmp_path / "a-file", "hen", (".json",), lambda p: write_new(p, b"x"))


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_new_files_get_the_usual_permissions(tmp_path, umask):
    """0666 less the umask, as for any new file: not 0600 from a temporary file."""
    old = os.umask(umask)
    try:
        path = write_new(tmp_path / "shot.png", b"x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]  # the temporary file is gone


def test_a_folder_has_one_writer_at_a_time_and_keeps_no_lock_file(tmp_path):
    folder = tmp_path / "made" / "here"
    with FolderLock(folder, "sweep"):
        assert folder.is_dir()
    assert not folder.exists()  # made for a writer that wrote nothing: removed again
    folder.mkdir()
    with FolderLock(folder, "sweep"):
        with pytest.raises(FolderBusy, match="here is in use by another sweep"):
            FolderLock(folder, "sweep")
        FolderLock(tmp_path / "other", "sweep").release()  # other folders are free
    with FolderLock(folder, "sweep"):  # released on leaving the block
        pass
    held = FolderLock(folder, "sweep")
    del held  # and when dropped
    FolderLock(folder, "sweep").release()
    assert list(folder.iterdir()) == []
    with FolderLock(tmp_path / "new", "sweep"):  # a folder it made and nothing was written to is removed
        pass
    with FolderLock(tmp_path / "kept", "sweep") as lock:
        (lock.folder / "archive.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "made"]  # "other" and "new" were made empty


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_folder_that_cannot_be_made_is_named_and_nothing_is_left_half_set(tmp_path, recwarn):
    """Issue 43: FolderLock raised before it had a folder, and its __del__ then printed
    an AttributeError traceback; new_file named its hidden temporary file."""
    with pytest.raises(OSError, match=r"^\[Errno 2\] cannot make the folder /proc/sweep: No such file or directory$"):
        FolderLock(Path("/proc/sweep"), "sweep")
    with pytest.raises(OSError, match=r"cannot write /proc/x.png: No such file or directory$"):
        write_new(Path("/proc/x.png"), b"data")
    assert not recwarn.list
