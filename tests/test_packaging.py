"""Installation facts: namespaced target folders, no generic top-level names, the lava 3.11 patch."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from neurodelay.backends.loihi2 import py311_patch

ROOT = Path(__file__).resolve().parents[1]


def test_target_folders_import_inside_the_neurodelay_namespace():
    assert importlib.util.find_spec("neurodelay.backends").origin.startswith(str(ROOT / "backends"))
    assert importlib.util.find_spec("neurodelay.exporters").origin.startswith(str(ROOT / "exporters"))


def test_no_generic_top_level_names_installed():
    code = "import importlib.util as u; print(u.find_spec('backends'), u.find_spec('exporters'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert result.stdout.strip() == "None None"


def test_core_never_imports_target_packages():
    pattern = re.compile(r"^\s*(import|from)\s+(lava|spynnaker|pyNN)\b")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "neurodelay").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.match(line)
    ]
    assert offenders == []


ORIGINAL = """from dataclasses import dataclass, InitVar
class A:
    x: ByteEncoder = ByteEncoder()
    y: ByteEncoder = ByteEncoder()
    p: ByteEncoder = ByteEncoder()
class B:
    x: ByteEncoder = ByteEncoder()
    y: ByteEncoder = ByteEncoder()
    z: ByteEncoder = ByteEncoder()
class C:
    hi: ByteEncoder = ByteEncoder()
    lo: ByteEncoder = ByteEncoder()
"""


def test_lava_patch_rewrites_exactly_the_eight_fields_and_is_idempotent(tmp_path):
    patched = py311_patch.patched_source(ORIGINAL)
    assert patched.count("field(default_factory=ByteEncoder)") == 8
    assert "ByteEncoder()" not in patched and "InitVar, field" in patched
    assert py311_patch.patched_source(patched) == patched
    target = tmp_path / "var_model.py"
    target.write_text(ORIGINAL)
    assert py311_patch.apply(target) is True
    assert py311_patch.apply(target) is False
    assert target.read_text() == patched


def test_lava_patch_refuses_unknown_file():
    with pytest.raises(py311_patch.LavaPatchError):
        py311_patch.patched_source("class A:\n    x: ByteEncoder = ByteEncoder()\n")


def test_installed_lava_is_patched_and_imports():
    target = py311_patch.installed_target()
    text = target.read_text()
    assert py311_patch.patched_source(text) == text
    result = subprocess.run(
        [sys.executable, "-c", "import lava.magma.compiler.var_model"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
