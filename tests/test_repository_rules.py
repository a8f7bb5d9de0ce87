"""Rules about the repository's text: the core names no target outside the targets' own modules, and no
file points at a path outside the repository (what the code relies on is in docs/)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_NAMES = re.compile(r"loihi|spinnaker|lava|spynnaker|pynn", re.IGNORECASE)
DOCS_CITATION = re.compile(r"docs/\w+\.md")  # citing the docs page of a chip is not naming it in code
OWN_MODULES = re.compile(r"^neurodelay/(targets/|(quant|refsim|parity)/(loihi2|spinnaker)(_\w+)?(\.py|/))")


def test_the_core_names_targets_only_in_their_own_modules():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "neurodelay").rglob("*.py"))
        if not OWN_MODULES.match(str(path.relative_to(ROOT)))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TARGET_NAMES.search(DOCS_CITATION.sub("", line))
    ]
    assert offenders == []


def test_no_file_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    # one letter of each in brackets, so that this file does not itself spell the paths it looks for
    outside = re.compile(r"/w[o]rk/|share[d]/|eventpro[p]\.md|loihi2-lav[a]\.md|(?<!docs/)\breferenc[e]/")
    offenders = []
    for name in files:
        path = ROOT / name
        if name.startswith("benchmarks/results/") or path.suffix in {".png", ".ndnet", ".npz"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}:{number}" for number, line in enumerate(text.splitlines(), 1) if outside.search(line)]
    assert offenders == []
