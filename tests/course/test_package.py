"""The package declares what it needs: ``pip install .`` gives an engine that imports and runs.

``pyproject.toml`` declares the dependencies (ranges) and ``requirements.txt`` is the lock the
scripts install (pins).  The lock must satisfy every declared requirement, and an install of the
package into a clean venv whose only packages are the lock's must work without fetching anything:
that is ``pip install .`` checked offline, in seconds.  (Resolving the same from the registries
downloads about 1.5 GB; it is not repeated on every run.)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NOT_LOCKED = {"pip", "setuptools", "wheel"}  # the installer's own, as pip freeze leaves them out


def lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"requirements.txt is a lock: pin {line} with =="
            pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def declared() -> list[Requirement]:
    groups = [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()]
    return [Requirement(text) for group in groups for text in group]


def closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """The installed distributions these requirements need, directly or not (with the extras they ask for)."""
    found: dict[str, tuple[metadata.Distribution, set[str]]] = {}
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras) | (found[name][1] if name in found else set())
        if name in found and extras == found[name][1]:
            continue
        distribution = metadata.distribution(name)
        found[name] = (distribution, extras)
        for text in distribution.requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                todo.append(needed)
    return {name: distribution for name, (distribution, _) in found.items()}


def test_the_lock_is_what_the_declared_requirements_need():
    pins = lock()
    needed = set(closure(declared())) - NOT_LOCKED
    assert set(pins) == needed, ("requirements.txt and pyproject.toml disagree: locked but not needed "
                                 f"{sorted(set(pins) - needed)}, needed but not locked {sorted(needed - set(pins))}")
    assert {"test", "dask", "postgres"} <= set(PROJECT["optional-dependencies"])
    assert "torch==2.13.0" in PROJECT["dependencies"]
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared in pyproject.toml but not locked in requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"the lock's {name}=={pins[name]} breaks {requirement}"


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{' '.join(map(str, argv))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_pip_install_in_a_clean_venv_imports_and_runs(tmp_path):
    """A clean venv sees only the packages the declared requirements need, as locked (not the checkout's
    editable install); ``pip install .`` there, offline, must find each one already satisfied and give
    a ``python -m autograder`` that imports every layer and runs."""
    source = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT / "autograder", source / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source)
    locked = tmp_path / "locked"  # only what the declared requirements need: an undeclared import fails
    locked.mkdir()
    for distribution in closure(declared()).values():
        for top in {file.parts[0] for file in distribution.files or [] if file.parts[0] != ".."}:
            target = Path(distribution.locate_file(top))
            if not (locked / top).exists() and target.exists() and not top.endswith(".pth"):
                (locked / top).symlink_to(target)
    venv = tmp_path / "venv"
    run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (purelib / "locked.pth").write_text(f"{locked}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    pip = [sys.executable, "-m", "pip", "--python", python]
    run(*pip, "install", "--no-index", "--no-build-isolation", ".[test,dask,postgres]", cwd=source, env=env)
    run(*pip, "check", cwd=tmp_path, env=env)
    where = run(python, "-c", "import autograder, autograder.grading.engine, autograder.batch.run, "
                              "autograder.nbgrader_steps; print(autograder.__file__)", cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(purelib), where
    assert "grade-all" in run(python, "-m", "autograder", "--help", cwd=tmp_path, env=env)
