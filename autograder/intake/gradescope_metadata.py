"""Gradescope's ``submission_metadata.yml``: who handed in each ``submission_<number>/`` folder, and when.
Trusted side.

Gradescope writes the file (Ruby's YAML, keys such as ``:submitters``); a student cannot, yet it is read
as hostile all the same: never through a link, at most ``MAX_BYTES``, with a safe loader (no object is
built from a tag), and YAML it cannot read is a ``problem`` that the collection reports, never a crash.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from autograder.intake import submission

FILE_NAME = "submission_metadata.yml"
MAX_BYTES = 50 << 20
TIMESTAMP = re.compile(r"\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?")


class _SafeLoaderKeepingTags(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, which also reads a value Ruby tagged (``!ruby/object:...``, a Gradescope
    export may hold some) as the plain mapping, list or text it is: a tag never builds an object."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # the remaining kind: a ScalarNode


_SafeLoaderKeepingTags.add_multi_constructor("!", _untagged)
_SafeLoaderKeepingTags.add_multi_constructor("tag:", _untagged)


@dataclass
class Person:
    """One submitter as Gradescope lists them ("" where a field is missing)."""

    name: str
    sid: str
    email: str


@dataclass
class Handin:
    """One ``submission_<number>`` of the metadata."""

    submitters: list[Person]
    created_at: dt.datetime | None  # timezone-aware


@dataclass
class Metadata:
    """The file read: ``handins`` by folder name, ``problem`` ("" or why none could be read from it)."""

    handins: dict[str, Handin]
    problem: str = ""


def read(path: str, zone: Callable[[dt.datetime], dt.datetime]) -> Metadata | None:
    """The metadata file at ``path``; None when it is not a regular file one may read (a link, too large).

    ``zone``: gives a time written without a zone its zone."""
    try:
        data = submission.read_regular(None, path, MAX_BYTES)  # never through a link
    except (OSError, ValueError):
        return None
    try:
        parsed = yaml.load(data.decode("utf-8", "replace"), Loader=_SafeLoaderKeepingTags)  # a SafeLoader: no object built
    except Exception as error:  # whatever the loader refuses (bad YAML, too deep) is reported, not raised
        return Metadata({}, f"not readable as YAML ({_first_line(error)})")
    if not isinstance(parsed, dict):
        return Metadata({}, "not a mapping of submissions")
    handins = {}
    for key, value in parsed.items():
        if not isinstance(value, dict):
            continue
        people = []
        submitters = value.get(":submitters")
        for person in submitters if isinstance(submitters, list) else []:
            if isinstance(person, dict):
                people.append(Person(*(str(person.get(":" + k) or "").strip() for k in ("name", "sid", "email"))))
        handins[str(key)] = Handin(people, timestamp(value.get(":created_at"), zone))
    return Metadata(handins)


def _first_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 160 else text[:159] + "…"


def timestamp(value: object, zone: Callable[[dt.datetime], dt.datetime]) -> dt.datetime | None:
    """A timezone-aware time from a YAML time or Ruby's text form of one (``2024-05-01 12:34:56.789 -07:00``)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else zone(value)
    match = TIMESTAMP.match(str(value or ""))
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    try:
        naive = dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return None
    if not match[8]:
        return zone(naive)
    if match[8] == "Z":
        return naive.replace(tzinfo=dt.timezone.utc)
    sign = -1 if match[8][0] == "-" else 1
    digits = match[8][1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return naive.replace(tzinfo=dt.timezone(sign * offset))
