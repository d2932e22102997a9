"""The repository is self-contained: a user's clone has nothing beside it.

Tests and code read published vectors from the vendored copies under
tests/vectors, never from a folder outside the clone.
"""

import json
import re
import subprocess

from support import REPO

OUTSIDE = re.compile(r"\.\./shared|parent\s*/\s*['\"]shared['\"]|parent\.parent\s*/\s*['\"]shared")


def test_no_tracked_file_reads_outside_the_clone():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        if name.endswith(".md"):
            continue
        path = REPO / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        if OUTSIDE.search(text) and name != "tests/test_self_contained.py":
            offenders.append(name)
    assert offenders == []


def test_vendored_vectors_are_present_and_well_formed():
    official = json.loads((REPO / "tests" / "vectors" / "wechat-official.json").read_text())
    push = json.loads((REPO / "tests" / "vectors" / "wechat-push.json").read_text())
    assert official["vectors"]
    assert push["url_signatures"] and push["decrypt"]
