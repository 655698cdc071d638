"""An LMS's bulk download as one ``.zip``, extracted safely, and the download's own top folder looked
through. Trusted side.

A member is extracted only as a regular file or a folder strictly inside the work folder: absolute paths,
``..``, links, devices, control characters in a name and anything beyond the size limits are skipped, each
said with its reason. Member times are kept (they are the hand-in times when the LMS wrote no other).
"""

import datetime as dt
import os
import re
import stat
import tempfile
import zipfile

from autograder.intake import gradescope_metadata
from autograder.intake.handin_files import (
    UNREADABLE,
    Workspace,
    has_control_chars,
    make_dirs,
    mode_of,
    skip_reason,
    write_member,
)
from autograder.intake.lms_names import readings

MAX_MEMBERS = 200_000
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 16 << 30


def extract(workspace: Workspace, archive_path: str) -> str:
    """The folder under the work folder where the download's members were written."""
    dest = tempfile.mkdtemp(prefix="download-", dir=workspace.work())
    total = 0
    fd = os.open(archive_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f, zipfile.ZipFile(f) as archive:
        for index, member in enumerate(archive.infolist()):
            raw = member.filename
            if index >= MAX_MEMBERS:
                workspace.skip(raw, "beyond the size limits: the rest of the zip was not extracted")
                break
            reason = _refused(member)
            if reason:
                workspace.skip(raw, reason)
                continue
            parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts:
                continue
            if member.is_dir():
                try:
                    make_dirs(dest, parts)
                except (OSError, ValueError) as error:
                    workspace.skip(raw, f"not extracted ({error})")
            elif member.file_size > MAX_MEMBER_BYTES or total + member.file_size > MAX_TOTAL_BYTES:
                workspace.skip(raw, "beyond the size limits: not extracted")
            else:
                try:
                    parent = make_dirs(dest, parts[:-1])
                    target = os.path.join(parent, parts[-1])
                    total += write_member(archive, member, target, min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES - total))
                except UNREADABLE as e:
                    workspace.skip(raw, f"not extracted ({type(e).__name__}: {e})")
                    continue
                _keep_member_time(workspace, member, target)
    return dest


def _refused(member: zipfile.ZipInfo) -> str:
    """Why a member is not extracted at all, or "" (a folder or a regular file inside the download)."""
    name = member.filename.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    mode = member.external_attr >> 16
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path in the zip: not extracted"
    if ".." in parts:
        return "path outside the zip: not extracted"
    if any(has_control_chars(p) for p in parts):
        return "control characters in the name: not extracted"
    if not parts or member.is_dir():
        return ""
    if stat.S_ISLNK(mode):
        return "symbolic link in the zip: not extracted"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "not a regular file in the zip: not extracted"
    return ""


def _keep_member_time(workspace: Workspace, member: zipfile.ZipInfo, target: str) -> None:
    try:
        when = workspace.zone(dt.datetime(*member.date_time))
    except (ValueError, OverflowError):
        return
    workspace.member_times[target] = when
    try:
        os.utime(target, (when.timestamp(), when.timestamp()), follow_symlinks=False)
    except (OSError, OverflowError):
        pass


def unwrap(root: str, skipped: list[tuple[str, str]]) -> str:
    """The download's own top folder (``assignment_123_export/``), when everything sits inside one."""
    for _ in range(3):
        try:
            paths = [os.path.join(root, n) for n in os.listdir(root)]
            names = [os.path.basename(p) for p in paths if not skip_reason(os.path.basename(p), mode_of(p) or 0, p)]
        except OSError:
            return root
        if len(names) != 1 or not stat.S_ISDIR(mode_of(os.path.join(root, names[0])) or 0):
            return root
        inner = os.path.join(root, names[0])
        try:
            children = os.listdir(inner)
        except OSError:
            return root
        if not any(
            c == gradescope_metadata.FILE_NAME or readings(c, stat.S_ISDIR(mode_of(os.path.join(inner, c)) or 0))
            for c in children
        ):
            return root
        skipped.append((names[0] + "/", "the download's top folder: its contents were collected"))
        root = inner
    return root
