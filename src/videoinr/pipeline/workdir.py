"""Stage 4a, the output side: destination and --force checks, the hidden work folder beside the output
(owned through a flock), its resume record (`job.json`), and the final rename into place."""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import torch

from videoinr.errors import VideoINRError, resolve_path
from videoinr.pipeline.budget import Budget
from videoinr.fileio import (OUTPUT_VIDEO_EXTENSIONS, atomic_write_bytes, file_digest, fsync_dir, publish,
                             replace_folder)
from videoinr.pipeline.job import is_video_output

try:
    import fcntl
except ImportError:  # Windows: no flock; runs on the same output are not guarded there
    fcntl = None

JOB_FILE = "job.json"
DONE_FILE = "done.jsonl"  # the record of finished frames/segments (name, size, SHA-256), one JSON line each
LOCK_FILE = ".lock"  # in the work folder: flock'ed by the run that owns it, for that run's life
FRAME_NAME = re.compile(r"\d{6,}\.png")  # the numbered frames of a folder output
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def disk_full(e: BaseException) -> bool:
    """True for an out-of-space error (builtin OSError or PyAV's av.error.OSError, which subclasses it)."""
    return isinstance(e, OSError) and getattr(e, "errno", None) in _DISK_FULL


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) that `folder` accepts."""
    try:
        return min(255, int(os.pathconf(folder, "PC_NAME_MAX")))
    except (OSError, ValueError, AttributeError):
        return 255


def _aside(path: Path, tag: str) -> Path:
    """The hidden sibling `.NAME.videoinr-TAG` of `path`; a NAME too long for that is cut to 64 characters
    plus 16 hex digits of its SHA-1, so every legal output name has one that is legal too."""
    name = f".{path.name}.videoinr-{tag}"
    if len(os.fsencode(name)) <= _name_max(path.parent):
        return path.with_name(name)
    stem = path.name[:64]
    while len(os.fsencode(stem)) > 64:
        stem = stem[:-1]
    digest = hashlib.sha1(os.fsencode(path.name)).hexdigest()[:16]
    return path.with_name(f".{stem}~{digest}.videoinr-{tag}")


def work_dir(output: Path) -> Path:
    return _aside(output, "part")


class WorkLock:
    """Exclusive ownership of an output's work folder: `fcntl.flock` on `.lock` inside it.

    Held for the run's life and released by the OS however the process ends (a killed run's folder is
    taken over by the next run, e.g. with --resume). A second run on the same output stops at once with
    the first one's process id, touching nothing. The owner removes the folder only by first renaming it
    away (or renaming it into place as a folder output), so a run that locked the lock file of a folder
    being removed sees that the path no longer names the file it locked, and starts over.
    """

    def __init__(self, work: Path, output: Path) -> None:
        self.work, self.output = work, output
        self.fd: int | None = None
        self.fresh = False  # the folder held nothing but the lock file when locked (nothing to keep)

    def acquire(self) -> "WorkLock":
        lock = self.work / LOCK_FILE
        for _ in range(50):
            try:
                self.work.mkdir()
            except FileExistsError:
                pass
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:
                continue  # renamed away by the run that held it: make a new one
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                        who = f"process {pid}" if pid.isdigit() else "a process that is just starting"
                        raise VideoINRError(
                            f"{self.output}: another videoinr run ({who}) is writing this output; wait for it "
                            "to end or choose another output"
                        ) from None
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(lock))
                except FileNotFoundError:
                    same = False
                if same:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    self.fd, fd = fd, None
                    self.fresh = set(os.listdir(self.work)) <= {LOCK_FILE}
                    return self
            finally:
                if fd is not None:
                    os.close(fd)
        raise VideoINRError(f"{self.work}: cannot lock the work folder (it keeps being replaced)")

    def remove_work(self) -> None:
        """Delete the work folder (lock file included) while still holding the lock."""
        gone = self.work.with_name(f".videoinr-gone-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(self.work, gone)
        except OSError:
            gone = self.work
        shutil.rmtree(gone, ignore_errors=True)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class FinishedFiles:
    """What `--resume` may reuse: the record (DONE_FILE) of every frame or segment finished in a work folder.

    A unit is recorded (its name, size and SHA-256, one JSON line appended and fsynced) only after it was
    written, fsynced and renamed into place (`videoinr.fileio.publish`). `verify()` on a resumed run
    re-reads every recorded file: one that is missing, or whose size or checksum changed (a power loss cut
    it, a disk corrupted it), is deleted with any unrecorded file of `pattern`, and is redone.

    Several writers (the tasks of a Ray run) each append to a record of their own (`for_writer`), so no
    file has two writers, even on a shared filesystem; `verify()` merges those records into the main one.
    """

    def __init__(self, work: Path, pattern: re.Pattern, record: str = DONE_FILE) -> None:
        self.work, self.pattern = work, pattern
        self.path = work / record
        self.good: set[str] = set()

    def _records(self) -> list[Path]:
        """The main record and every writer's record in the work folder."""
        return [self.work / DONE_FILE] + sorted(self.work.glob(DONE_FILE + ".*"))

    @staticmethod
    def _read(path: Path) -> dict[str, tuple[int, str]]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise VideoINRError(f"{path}: cannot read ({e.strerror or e})") from None
        records = {}
        for line in text.splitlines():
            try:
                r = json.loads(line)
                records[str(r["name"])] = (int(r["size"]), str(r["sha256"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash: its file is redone
        return records

    def for_writer(self, key: str) -> "FinishedFiles":
        """The record of one writer among several (`key`: a name unique to it, the same when it is retried).
        Counts as done what this record holds already (checked: a retried writer reuses what it finished
        before it died) besides the files already verified by the run; deletes nothing."""
        mine = FinishedFiles(self.work, self.pattern, f"{DONE_FILE}.{key}")
        mine.good = set(self.good)
        for name, want in self._read(mine.path).items():
            p = self.work / name
            try:
                if p.is_file() and not p.is_symlink() and file_digest(p) == want:
                    mine.good.add(name)
            except OSError:
                pass
        return mine

    def verify(self) -> list[str]:
        """Load the records and check every file in them; returns the names that failed (deleted)."""
        records: dict[str, tuple[int, str]] = {}
        shards = self._records()
        for path in shards:
            records.update(self._read(path))
        failed, good = [], set()
        for p in self.work.iterdir():
            if not self.pattern.fullmatch(p.name):
                continue
            want = records.get(p.name)
            try:
                ok = want is not None and p.is_file() and not p.is_symlink() and file_digest(p) == want
            except OSError:
                ok = False
            if ok:
                good.add(p.name)
            else:
                failed.append(p.name)
                p.unlink(missing_ok=True)
        self.good = good
        # rewrite the record with the files that passed, so later failures are judged on it alone
        data = "".join(json.dumps({"name": n, "size": records[n][0], "sha256": records[n][1]}) + "\n"
                       for n in sorted(good))
        try:
            atomic_write_bytes(self.path, data.encode())
        except OSError as e:
            raise VideoINRError(f"{self.work}: cannot write here ({e.strerror or e})") from None
        for path in shards[1:]:  # merged into the main record
            path.unlink(missing_ok=True)
        return sorted(failed)

    def is_done(self, name: str) -> bool:
        return name in self.good

    def add(self, path: Path) -> None:
        """Record the finished file `path` (already published under its final name)."""
        size, digest = file_digest(path)
        line = json.dumps({"name": path.name, "size": size, "sha256": digest}) + "\n"
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_dir(self.work)
        self.good.add(path.name)

    def remove(self) -> None:
        for path in self._records():
            path.unlink(missing_ok=True)


def output_parent(out: Path) -> Path:
    return out.parent if str(out.parent) else Path(".")


def check_destination(out: Path) -> None:
    """Refuse an output of unknown type or in a folder that is missing or not writable."""
    out_is_video = is_video_output(out)
    if out.suffix and not out_is_video:
        raise VideoINRError(f"{out}: unknown output type {out.suffix!r} (use a video extension such as .mp4, "
                            "or a folder name without extension for PNG frames)")
    if out_is_video and out.suffix.lower() not in OUTPUT_VIDEO_EXTENSIONS:
        raise VideoINRError(f"{out}: cannot write {out.suffix} (use one of "
                            f"{', '.join(sorted(OUTPUT_VIDEO_EXTENSIONS))})")
    parent = output_parent(out)
    if not parent.is_dir():
        raise VideoINRError(f"{out}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VideoINRError(f"{out}: output folder {parent} is not writable")


def check_name(out: Path, parent: Path) -> None:
    limit = _name_max(parent)
    n = len(os.fsencode(out.name))
    if n > limit:
        raise VideoINRError(f"{out}: file name too long ({n} bytes; at most {limit} here)")


def _replace_problem(out: Path, out_is_video: bool) -> str | None:
    """Why --force may not replace `out` (None: it may). The one rule (docs/UPSCALE.md, "--force"): a
    regular file at a video output's name; a folder holding only numbered PNG frames (and the lock file)
    at a folder output's name; an empty folder. Never a symbolic link (broken or not), the input or a
    folder holding it (`check_output`), or anything else."""
    if out.is_symlink():
        return "is a symbolic link" if out.exists() else "is a broken symlink (its target does not exist)"
    if out.is_dir():
        if out.is_symlink():
            return "is a link to a folder"
        entries = list(out.iterdir())
        if not entries:
            return None
        if out_is_video:
            return "is a folder, not a video file"
        for p in entries:
            if p.is_symlink() or not p.is_file() or not (FRAME_NAME.fullmatch(p.name) or p.name == LOCK_FILE):
                return f"holds {p.name!r}, which is not a frame written by videoinr"
        return None
    if not out_is_video:
        return "exists and is not a folder"
    return None


def check_output(out: Path, src_path: Path, out_is_video: bool, force: bool) -> None:
    """Refuse an output that is or contains the input, or that --force may not replace."""
    o, s = resolve_path(out), resolve_path(src_path)
    if o == s:
        raise VideoINRError(f"{out}: output would overwrite the input")
    if o in s.parents:
        raise VideoINRError(f"{out}: output folder contains the input {src_path}; choose another output")
    if out.is_symlink():  # never written through nor replaced, with or without --force
        what = "symbolic link" if out.exists() else "broken symlink (its target does not exist)"
        raise VideoINRError(f"{out}: output is a {what}; videoinr does not replace links (remove it or choose "
                            "another output)")
    if not out.exists():
        return
    if out.is_dir() and not any(out.iterdir()):
        return  # an empty folder is as good as none
    if not force:
        raise VideoINRError(f"{out}: already exists (use --force to overwrite)")
    why = _replace_problem(out, out_is_video)
    if why:
        raise VideoINRError(f"{out}: {why}; --force replaces only outputs of videoinr (move it away yourself)")


def move_into_place(src: Path, dst: Path, video: bool) -> None:
    """Rename src to dst, replacing an existing dst (file or folder) only after src is complete, and only
    if dst is still something --force may replace (checked again: it may have changed meanwhile)."""
    if dst.exists() or dst.is_symlink():
        why = _replace_problem(dst, video)
        if why:
            raise VideoINRError(f"{dst}: {why} (changed during the run); nothing replaced")
    if src.is_dir():
        replace_folder(src, dst, _aside(dst, "old"))
    else:
        publish(src, dst)


def model_fingerprint(model) -> str:
    h = hashlib.sha1()
    h.update(json.dumps(getattr(model.cfg, "to_dict", lambda: repr(model.cfg))(), sort_keys=True, default=str).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def input_stamp(path: Path) -> list:
    if path.is_dir():
        st = [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in sorted(path.iterdir()) if p.is_file()]
        return [len(st), hashlib.sha1(json.dumps(st).encode()).hexdigest()]
    s = path.stat()
    return [s.st_size, int(s.st_mtime)]


def prepare_work(work: Path, settings: dict, budget: Budget, limit: int, resume: bool) -> Budget:
    """Create (or, with resume, reopen) the work folder; returns the render chunking to use.

    A resumed run must match the interrupted one's `settings` exactly, and reuses its chunking so the
    result is the same as one uninterrupted run's (when it still fits the memory limit).
    """
    job = work / JOB_FILE
    try:
        leftovers = [p for p in work.iterdir() if p.name != LOCK_FILE]  # of an interrupted run
    except OSError as e:
        raise VideoINRError(f"{work}: cannot read ({e.strerror or e})") from None
    if leftovers:
        old = None
        if resume:
            try:
                old = json.loads(job.read_text())
            except (OSError, ValueError):
                old = None
            if old is None or old.get("settings") != json.loads(json.dumps(settings)):
                raise VideoINRError(
                    f"{work}: the interrupted run used other settings or input; rerun without --resume to start over"
                )
            b = old.get("budget", {})
            if b and b.get("peak_bytes", 1 << 62) <= limit:
                budget = Budget(int(b["max_query_points"]), int(b["t_per_call"]), int(b["peak_bytes"]))
        if old is None:
            for p in leftovers:  # start over, keeping the lock file
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
    try:
        atomic_write_bytes(job, json.dumps({"settings": settings, "budget": dataclasses.asdict(budget)}).encode())
    except OSError as e:
        raise VideoINRError(f"{work}: cannot write here ({e.strerror or e})") from None
    return budget
