"""Which files Plex's video scanner lists, by their names: what it leaves out as samples,
trailers and extras, and the folders it does not go into.

Plex's scanners bundle (Scanners.bundle, Contents/Resources/Common; a copy in
github.com/AllSeeingEyeTolledEweSew/PlexScanners at 2cbf904):

- `Filter.py` `Scan`: a folder whose name `re.match`es `IGNORE_DIRS` (case ignored) is not
  entered, at any depth; a file whose name starts with "." is not listed.
- `VideoFiles.py` `Scan`: below the library's top level, a folder whose name
  `re.match`es `ignore_dirs` is not entered; a file whose path `re.search`es
  `ignore_samples` (and is under 300 MB), `ignore_trailers` or `ignore_extras` is not
  listed, nor one whose name starts with `ignore_extras_startswith`.

Plex searches the whole path it has for the file; here the part below the section's
folder is searched (where the household's titles are), so that the test run's own
temporary folders do not decide.
"""

from __future__ import annotations

import re
from pathlib import Path

# Filter.py
IGNORE_DIRS = ["@eaDir", ".*_UNPACK_.*", ".*_FAILED_.*", r"\..*", r"lost\+found"]
IGNORE_DIRS += [".AppleDouble", r".*\.itlp$"]
# VideoFiles.py
IGNORE_SAMPLES = [r"[-\._]sample", r"sample[-\._]"]
IGNORE_TRAILERS = [r"-trailer\."]
IGNORE_EXTRAS = [r"^trailer.?$", r"-deleted\.", r"-behindthescenes\.", r"-interview\."]
IGNORE_EXTRAS += [r"-scene\.", r"-featurette\.", r"-short\."]
IGNORE_EXTRAS_STARTSWITH = [r"^movie-trailer.*"]
IGNORE_SUBDIRS = [r"\bextras?\b", "!?samples?", "bonus", ".*bonus disc.*", "bdmv", "video_ts"]
IGNORE_SUBDIRS += [r"^interview.?$", r"^scene.?$", r"^trailer.?$", r"^deleted.?(scene.?)?$"]
IGNORE_SUBDIRS += [r"^behind.?the.?scenes$", r"^featurette.?$", r"^short.?$"]
SAMPLE_MAX_BYTES = 300 * 1024 * 1024


def _matches(patterns: list[str], text: str) -> bool:
    return any(re.match(rx, text, re.IGNORECASE) for rx in patterns)


def _searches(patterns: list[str], text: str) -> bool:
    return any(re.search(rx, text, re.IGNORECASE) for rx in patterns)


def lists_file(file: Path, section_dir: Path) -> bool:
    """Whether Plex's scan of `section_dir` lists `file` (a file below it)."""
    if not file.is_file():
        return False
    *folders, name = file.relative_to(section_dir).parts
    for depth, folder in enumerate(folders):
        # A folder at depth 0 is in the library's top level, where only Filter.py looks.
        if _matches(IGNORE_DIRS, folder) or (depth > 0 and _matches(IGNORE_SUBDIRS, folder)):
            return False
    path = "/".join([*folders, name])
    if name.startswith(".") or _searches(IGNORE_EXTRAS_STARTSWITH, name):
        return False
    if _searches(IGNORE_TRAILERS, path) or _searches(IGNORE_EXTRAS, path):
        return False
    return not (_searches(IGNORE_SAMPLES, path) and file.stat().st_size < SAMPLE_MAX_BYTES)
