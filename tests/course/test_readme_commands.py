"""Every command the README tells a user to run exists and accepts its arguments.

A README command that is not one fails quietly: ``nbgrader formgrader`` prints nbgrader's list of
subcommands and exits 0, so neither a person pasting it nor a script notices.  Each command of the
README's code blocks (and each inline ``nbgrader ...``/``python -m ...``/``bash ...``/``jupyter ...``)
is checked against the program it names, through that program's own ``--help``, without running it.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
PROGRAMS = ("bash", "source", "python", "nbgrader", "jupyter", "pip", "dask")
ENVIRONMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")  # VAR=value before a command
NBGRADER_STUBS = {"formgrade": "the formgrader is a Jupyter server extension, not a command"}


def _lines(block: str) -> list[str]:
    return block.replace("\\\n", " ").splitlines()


def readme_commands(text: str) -> list[tuple[str, list[str]]]:
    """(where, argv) of every command in the README: code block lines in full, inline spans as fragments."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh|console|)\n(.*?)^```", text, re.M | re.S):
        for line in _lines(block):
            argv = shlex.split(line, comments=True)
            while argv and ENVIRONMENT.match(argv[0]):
                argv = argv[1:]
            if argv:
                commands.append(("block", argv))
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
        try:
            argv = shlex.split(span)
        except ValueError:  # a lone quote: not a command
            continue
        if len(argv) > 1 and argv[0] in PROGRAMS:
            commands.append(("inline", argv))
    return commands


COMMANDS = readme_commands(README.read_text())


@functools.cache
def run(*argv: str) -> tuple[int, str]:
    """Exit status and output of a program of the venv, run from the repository root."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


def split_options(argv: list[str], help_text: str) -> tuple[list[str], list[str]]:
    """(option names, positional arguments); an option's value is neither (``--to x`` when help shows ``--to=``)."""
    options, positional = [], []
    tokens = iter(argv)
    for token in tokens:
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            options.append(name)
            if "=" not in token and f"{name}=" in help_text:
                next(tokens, None)
        else:
            positional.append(token)
    return options, positional


def assert_options_known(options: list[str], help_text: str, command: str) -> None:
    for name in options:
        assert re.search(rf"(^|[\s\[,]){re.escape(name)}\b", help_text, re.M), f"`{command}`: no option {name}"


def nbgrader_subcommands() -> dict[str, str]:
    """nbgrader's subcommands and their descriptions, from ``nbgrader --help``."""
    code, text = run("nbgrader", "--help")
    assert code == 0, text
    listing = text.split("Subcommands\n===========", 1)[1].split("\nOptions\n=======", 1)[0]
    found = dict(re.findall(r"^(\w+)\n((?:    .*\n)+)", listing, re.M))
    assert "autograde" in found, listing
    return found


def check_nbgrader(argv: list[str], command: str) -> None:
    assert len(argv) > 1, f"`{command}`: no subcommand (nbgrader then prints its help and exits 0)"
    subcommand, rest = argv[1], argv[2:]
    known = nbgrader_subcommands()
    assert subcommand in known, f"`{command}`: '{subcommand}' is not an nbgrader subcommand ({', '.join(known)})"
    assert "DEPRECATED" not in known[subcommand], f"`{command}`: {known[subcommand].strip()}"
    assert subcommand not in NBGRADER_STUBS, f"`{command}`: {NBGRADER_STUBS[subcommand]}"
    code, text = run("nbgrader", subcommand, "--help-all")
    assert code == 0 and "List of subcommands" not in text, text[:500]
    options, positional = split_options(rest, text)
    assert_options_known(options, text, command)
    if positional:  # nbgrader's positional argument is the assignment
        assert (ROOT / "source" / positional[0]).is_dir(), f"`{command}`: no assignment {positional[0]} in source/"


def check_jupyter(argv: list[str], command: str, where: str) -> None:
    if len(argv) == 1:
        return
    code, listing = run("jupyter", "--help")
    available = listing.split("Available subcommands:", 1)[1].split()
    assert argv[1] in available, f"`{command}`: '{argv[1]}' is not a Jupyter command ({', '.join(available)})"
    code, text = run("jupyter", argv[1], "--help-all")
    assert code == 0, text[:500]
    options, _ = split_options(argv[2:], text)
    assert_options_known(options, text, command)


def check_autograder(argv: list[str], command: str, where: str) -> None:
    if len(argv) == 1:
        return
    code, text = run(sys.executable, "-m", "autograder", argv[0], "--help")
    assert code == 0, f"`{command}`: {text[-500:]}"
    options, _ = split_options(argv[1:], text)
    assert_options_known(options, text, command)
    if where == "block":  # a whole command: argparse must take it as it stands
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"`{command}`: python -m autograder rejects these arguments (exit {exc.code})")


def check_python(argv: list[str], command: str, where: str) -> None:
    assert argv[1:2] == ["-m"] and len(argv) > 2, f"`{command}`: only `python -m MODULE` commands are checked"
    module = argv[2]
    assert importlib.util.find_spec(module) is not None, f"`{command}`: no module {module} in this environment"
    if module == "autograder":
        check_autograder(argv[3:], command, where)
    elif module == "pip":
        check_pip(argv[2:], command)
    else:
        code, text = run(sys.executable, "-m", module, "--help")
        assert code == 0, f"`{command}`: {text[-500:]}"


def check_pip(argv: list[str], command: str) -> None:
    code, text = run(sys.executable, "-m", "pip", *argv[1:2], "--help")
    assert code == 0, f"`{command}`: {text[-500:]}"
    options, positional = split_options(argv[2:], text)
    assert_options_known(options, text, command)
    for target in positional:  # pip install . / -e .[test]: a local project
        if target.startswith(".") or target.startswith("/"):
            assert (ROOT / target.split("[", 1)[0] / "pyproject.toml").exists(), f"`{command}`: no project at {target}"


def check_dask(argv: list[str], command: str) -> None:
    """``dask scheduler`` / ``dask worker``: the subcommand exists and knows every option given."""
    code, help_text = run(str(BIN / "dask"), argv[1], "--help")
    assert code == 0, f"`{command}`: `dask {argv[1]}` is not a command:\n{help_text[-500:]}"
    options, _ = split_options(argv[2:], help_text)
    assert_options_known(options, help_text, command)


def check_script(argv: list[str], command: str) -> None:
    assert len(argv) > 1, f"`{command}`: no script"
    script = ROOT / argv[1]
    assert script.is_file(), f"`{command}`: {argv[1]} does not exist"
    if argv[0] == "bash":
        code, text = run("bash", "-n", str(script))
        assert code == 0, f"`{command}`: {text}"


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[" ".join(argv)[:60] for _, argv in COMMANDS])
def test_readme_command_exists_and_accepts_its_arguments(where, argv):
    command = shlex.join(argv)
    program = argv[0]
    if program in ("bash", "source", "."):
        check_script(argv, command)
    elif program in ("python", "python3", "python3.11"):
        check_python(argv, command, where)
    elif program == "nbgrader":
        check_nbgrader(argv, command)
    elif program == "jupyter":
        check_jupyter(argv, command, where)
    elif program == "pip":
        check_pip(argv, command)
    elif program == "dask":
        check_dask(argv, command)
    else:
        pytest.fail(f"the README tells users to run `{command}`; teach this test how to check `{program}`")


def test_the_readme_has_commands():
    """The parser finds them (a README reformatted into another fence style would silently check nothing)."""
    programs = {argv[0] for where, argv in COMMANDS if where == "block"}
    assert {"bash", "nbgrader", "python"} <= programs, COMMANDS


def test_every_script_the_readme_names_exists():
    named = set(re.findall(r"\bscripts/[\w.-]+\.(?:sh|py)\b", README.read_text()))
    assert named
    assert not [name for name in sorted(named) if not (ROOT / name).is_file()]


def test_the_formgrader_the_readme_sends_to_is_enabled():
    """The README's hand grading is nbgrader's formgrader server extension in ``jupyter lab``."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    assert "Formgrader" in README.read_text()
    extension = "nbgrader.server_extensions.formgrader"
    assert importlib.util.find_spec(extension) is not None
    assert ExtensionConfigManager(read_config_path=jupyter_config_path()).enabled(extension), \
        "the formgrader is not enabled: jupyter server extension enable --sys-prefix " + extension


def test_grade_samples_says_its_feedback_precedes_hand_grading():
    """It writes feedback before anyone graded the written answers: its output and the README say so."""
    script = (ROOT / "scripts" / "grade_samples.sh").read_text()
    if "generate_feedback" not in script:
        pytest.skip("grade_samples.sh no longer generates feedback")
    said = " ".join(line for line in script.splitlines() if line.strip().startswith("echo"))
    assert "before any hand grading" in said and "generate_feedback" in said
    assert "before anyone has graded the\nwritten answers" in README.read_text()
