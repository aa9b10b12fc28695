"""Evidence of tampering that the student's code cannot erase: a static scan of the student's cells.

The worker's monitor watches from inside the student's process, so code that silences it (``os.dup2``
of ``/dev/null`` onto its descriptor) hides everything it would have seen.  This scan runs in the
grading process, on the submitted source, before any of it runs: nothing the code does can reach it.
It can be evaded only by hiding what the code does, and hiding (``exec`` of anything, names built
from pieces) is flagged too.  What it looks for is listed in :mod:`autograder.assignment.tamper_rules`.
A flag costs no points; it names the cell and line, for a person to read.

The scan resolves the code's imports and aliases (``from os import dup2 as d``, ``o = os``,
``__import__("os")``, ``getattr(sys, "_getframe")``), flow-insensitively over all the cells, since
they share one namespace.  It is bounded: a cell over ``MAX_CELL_CHARS``, a submission over
``MAX_NODES`` syntax nodes, or one the parser cannot take (nested too deeply) gives one flag;
a cell that does not parse (a ``SyntaxError``) does not run either, and gives none.
"""
from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Sequence
from functools import cache

from autograder.assignment import course
from autograder.assignment import tamper_rules as rules
from autograder.assignment.submission import Submission
from autograder.assignment.tamper_fold import Folder

MAX_FLAGS = 20
MAX_CELL_CHARS = 100_000    # honest answers: under 10,000 characters in all their cells
MAX_NODES = 100_000         # syntax nodes in all the student's cells (honest: about 1,000)
PREFIX = "tampering"

_BUILTINS = frozenset(dir(builtins))
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_IMPORTERS = frozenset({"builtins.__import__", "importlib.import_module", "importlib.__import__"})
_ATTRIBUTE_FUNCTIONS = frozenset({"builtins.getattr", "builtins.setattr", "builtins.delattr",
                                  "builtins.object.__setattr__", "builtins.object.__delattr__",
                                  "builtins.object.__getattribute__", "builtins.type.__setattr__"})
_FD_FUNCTIONS = frozenset({"os.write", "os.read", "os.pwrite", "os.pread", "os.writev", "os.readv", "os.lseek",
                           "os.fsync"})
_STANDARD_FDS = (0, 1, 2)
_MESSAGES = frozenset({"builtins.print", "warnings.warn", "logging.info", "logging.warning", "logging.debug",
                       "logging.error"})


def scan_submission(submission: Submission) -> list[str]:
    """Flags for what the student's cells (not the course's provided cells) contain that only tampering needs."""
    provided = course.provided_cells()
    return scan_cells([(cell.label, cell.source) for cell in submission.cells if cell.grade_id not in provided])


def scan_cells(cells: Sequence[tuple[str, str]]) -> list[str]:
    """Flags for (label, source) cells that run in one namespace, in order: at most MAX_FLAGS, deterministic."""
    return _Scan(_course_aliases()).run(cells)


@cache
def _course_aliases() -> dict[str, frozenset[str]]:
    """What the names the course code imports (``os``, ``sys``, ``F``...) stand for in the student's cells."""
    scan = _Scan({})
    sources = [course.PRELUDE, *course.cells(tuple(sorted(course.provided_cells()))).values()]
    for source in sources:
        scan.learn_imports(ast.walk(ast.parse(source)))
    return {name: frozenset(found) for name, found in scan.aliases.items()}


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _shown(node: ast.AST) -> str:
    """A short piece of the code, to name an object in a flag."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        return "an object"
    return text if len(text) <= 40 else text[:37] + "..."


def _own_names(scope: ast.AST) -> set[str]:
    """The names a scope binds itself (parameters, assignments, definitions), not its nested scopes'."""
    names: set[str] = set()
    if isinstance(scope, _FUNCTIONS):
        arguments = scope.args
        names.update(a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                     arguments.vararg, arguments.kwarg) if a is not None)
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    stack: list[ast.AST] = list(body)
    declared_global: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared_global.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names - declared_global


class _Scan:
    """One scan of one submission: learn what the names stand for, then look at every node once."""

    def __init__(self, aliases: dict[str, frozenset[str]]) -> None:
        self.aliases: dict[str, set[str]] = {name: set(found) for name, found in aliases.items()}
        self.module_bound: set[str] = set()
        self.found: dict[tuple[int, str], list[tuple[int, int, str]]] = {}
        self.nodes = 0
        self.folder = Folder(lambda node: self._resolve(node, frozenset()))

    # ---- the whole run

    def run(self, cells: Sequence[tuple[str, str]]) -> list[str]:
        labels = [label for label, _ in cells]
        trees: list[tuple[int, ast.Module]] = []
        bindings: list[ast.AST] = []
        for index, (_, source) in enumerate(cells):
            tree = self._parse(index, source)
            if tree is None:
                continue
            nodes = list(ast.walk(tree))
            self.nodes += len(nodes)
            if self.nodes > MAX_NODES:  # the rest is not scanned: one flag says so
                self._note(index, 1, 0, f"over {MAX_NODES:,} syntax nodes in the cells", rules.UNSCANNABLE)
                break
            trees.append((index, tree))
            self.learn_imports(nodes)
            bindings += [node for node in nodes if isinstance(node, (ast.Assign, ast.NamedExpr))]
            self.module_bound |= _own_names(tree)
        for _ in range(2):  # aliases of aliases: o = os; p = o
            self._learn_assignments(bindings)
        for index, tree in trees:
            self._scan(index, tree)
        return self._flags(labels)

    def _parse(self, index: int, source: str) -> ast.Module | None:
        if len(source) > MAX_CELL_CHARS:
            self._note(index, 1, 0, f"a cell of {len(source):,} characters", rules.UNSCANNABLE)
            return None
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError):  # it cannot run either: the loader reports it
            return None
        except (RecursionError, MemoryError):
            self._note(index, 1, 0, "code nested too deeply to parse", rules.UNSCANNABLE)
            return None

    def learn_imports(self, nodes: Iterable[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        root = alias.name.split(".")[0]
                        self.aliases.setdefault(root, set()).add(root)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        self.aliases.setdefault(alias.asname or alias.name, set()).add(f"{node.module}.{alias.name}")

    def _learn_assignments(self, bindings: list[ast.AST]) -> None:
        for node in bindings:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
            found = self._resolve(node.value, frozenset())  # type: ignore[attr-defined]
            for target in targets:
                if found and isinstance(target, ast.Name):
                    self.aliases.setdefault(target.id, set()).update(found)

    # ---- what a name stands for

    def _resolve(self, node: ast.AST, local: frozenset[str]) -> set[str]:
        """The dotted names an expression may stand for (empty when it is none the scan knows)."""
        suffix: list[str] = []
        while isinstance(node, ast.Attribute) and len(suffix) < 64:
            suffix.append(node.attr)
            node = node.value
        base = self._base(node, local)
        tail = "".join("." + part for part in reversed(suffix))
        return {name + tail for name in base}

    def _base(self, node: ast.AST, local: frozenset[str]) -> set[str]:
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return set(self.aliases[node.id])
            if node.id in local or node.id in self.module_bound:
                return set()
            if node.id in rules.MODULES:
                return {node.id}
            if node.id == "__builtins__":
                return {"builtins"}
            return {f"builtins.{node.id}"} if node.id in _BUILTINS else set()
        if isinstance(node, ast.Call) and node.args:
            function = self._resolve(node.func, local)
            if function & _IMPORTERS:
                name = self.folder.fold(node.args[0])
                return {name} if name else set()
            if "builtins.getattr" in function and len(node.args) >= 2:
                name = self.folder.fold(node.args[1])
                return {f"{owner}.{name}" for owner in self._resolve(node.args[0], local)} if name else set()
        if isinstance(node, ast.Subscript) and "sys.modules" in self._resolve(node.value, local):
            name = self.folder.fold(node.slice)
            return {name} if name else set()
        return set()

    # ---- the scan

    def _scan(self, index: int, tree: ast.Module) -> None:
        stack: list[tuple[ast.AST, ast.AST | None, frozenset[str], bool]] = [(tree, None, frozenset(), False)]
        while stack:
            node, parent, local, message = stack.pop()
            inner = local | _own_names(node) if isinstance(node, _FUNCTIONS) else local
            message = message or self._is_message(node, local)
            self._look(index, node, parent, local, message)
            stack.extend((child, node, inner, message) for child in ast.iter_child_nodes(node))

    def _is_message(self, node: ast.AST, local: frozenset[str]) -> bool:
        """Text only shown to a person: a docstring, a printed or raised message."""
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return True
        if isinstance(node, (ast.Assert, ast.Raise)):
            return True
        return isinstance(node, ast.Call) and bool(self._resolve(node.func, local) & _MESSAGES)

    def _look(self, index: int, node: ast.AST, parent: ast.AST | None, local: frozenset[str], message: bool) -> None:
        at = (index, getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if isinstance(node, (ast.Name, ast.Attribute)):
            self._identifier(at, node.id if isinstance(node, ast.Name) else node.attr)
            for name in self._resolve(node, local):
                if name == "sys.modules" and not self._membership(node, parent):
                    self._note(*at, "sys.modules", rules.GRADER)
                self._dotted(at, name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self._imports(at, node)
        elif isinstance(node, ast.Call):
            self._call(at, node, local)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in self._flatten(targets):
                self._assigned(at, target, local)
        elif isinstance(node, ast.ClassDef):
            if any("types.ModuleType" in self._resolve(base, local) for base in node.bases):
                self._note(*at, f"class {node.name}(ModuleType)", rules.CODE)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and not message:
            self._string(at, node.value)
        if isinstance(node, (ast.BinOp, ast.Call, ast.Subscript, ast.JoinedStr)):
            built = self.folder.fold(node)
            if built is not None and self._hideable(built):
                self._note(*at, repr(built), rules.HIDDEN_NAME)

    @staticmethod
    def _membership(node: ast.AST, parent: ast.AST | None) -> bool:
        """``"google.colab" in sys.modules``: asks whether a module is loaded, reaches nothing."""
        return isinstance(parent, ast.Compare) and node in parent.comparators \
            and all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops)

    @staticmethod
    def _flatten(targets: Iterable[ast.expr]) -> list[ast.expr]:
        flat: list[ast.expr] = []
        stack = list(targets)
        while stack:
            target = stack.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                stack.extend(target.elts)
            elif isinstance(target, ast.Starred):
                stack.append(target.value)
            else:
                flat.append(target)
        return flat

    def _identifier(self, at: tuple[int, int, int], name: str) -> None:
        if name in rules.ATTRIBUTES:
            self._note(*at, name, rules.ATTRIBUTES[name])
        if "autograder" in name.lower():
            self._note(*at, name, rules.GRADER)

    def _dotted(self, at: tuple[int, int, int], name: str) -> None:
        why = self._rule(name)
        if why:
            self._note(*at, name, why)

    @staticmethod
    def _rule(name: str) -> str | None:
        if name in rules.DOTTED or name + "." in rules.DOTTED:  # "ctypes." covers ctypes itself
            return rules.DOTTED.get(name) or rules.DOTTED[name + "."]
        if name.startswith(rules.PREFIX_PREFERRED):
            return rules.PROCESSES
        parts = name.split(".")
        for end in range(len(parts) - 1, 0, -1):
            why = rules.DOTTED.get(".".join(parts[:end]) + ".")
            if why:
                return why
        return None

    def _imports(self, at: tuple[int, int, int], node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.level or not node.module:
            return
        else:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
            if any(alias.name == "*" for alias in node.names) and node.module.split(".")[0] in rules.MODULES:
                self._note(*at, f"from {node.module} import *", rules.STAR)
        for name in names:
            self._dotted(at, name)
            self._identifier(at, name)
        for alias in node.names:
            self._identifier(at, alias.asname or alias.name)

    def _call(self, at: tuple[int, int, int], node: ast.Call, local: frozenset[str]) -> None:
        function = self._resolve(node.func, local)
        args = node.args
        if function & _ATTRIBUTE_FUNCTIONS and len(args) >= 2:
            self._attribute_call(at, node, function, local)
        if function & _IMPORTERS and args:
            name = args[0].value if isinstance(args[0], ast.Constant) else None
            if isinstance(name, str):
                self._dotted(at, name)
                self._identifier(at, name)
            else:
                self._note(*at, "an import of a computed name", rules.COMPUTED)
        if function & _FD_FUNCTIONS and args and not self._standard_fd(args[0]):
            self._note(*at, f"{sorted(function & _FD_FUNCTIONS)[0]} on a descriptor it found", rules.FDS)
        if function & {"builtins.open", "io.open"} and args and self._descriptor(args[0], local):
            self._note(*at, "open() of a file descriptor", rules.FDS)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("update", "setdefault", "__setitem__") \
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "__dict__" \
                and not _is_self(node.func.value.value):
            self._note(*at, f"__dict__.{node.func.attr}()", rules.CODE)
        for keyword in node.keywords:
            if keyword.arg and keyword.arg.startswith("co_"):
                self._note(*at, f"{keyword.arg}=", rules.CODE)

    def _attribute_call(self, at: tuple[int, int, int], node: ast.Call, function: set[str],
                        local: frozenset[str]) -> None:
        owner, name_node = node.args[0], node.args[1]
        name = self.folder.fold(name_node)
        writes = bool(function - {"builtins.getattr", "builtins.object.__getattribute__"})
        if name is None:
            owners = self._resolve(owner, local)
            if self.folder.hides(name_node):
                self._note(*at, "an attribute name built by chr/join/decode/...", rules.HIDDEN_NAME)
            elif any(o.split(".")[0] in rules.MODULES | {"autograder"} or o in rules.PATCHABLE for o in owners):
                self._note(*at, f"an attribute of {sorted(owners)[0]} named at run time", rules.COMPUTED)
            return
        self._identifier(at, name)
        for dotted in self._resolve(owner, local):
            self._dotted(at, f"{dotted}.{name}")
        if writes:
            self._written(at, owner, name, local)

    def _assigned(self, at: tuple[int, int, int], target: ast.expr, local: frozenset[str]) -> None:
        if isinstance(target, ast.Attribute):
            self._written(at, target.value, target.attr, local)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute) \
                and target.value.attr == "__dict__" and not _is_self(target.value.value):
            self._note(*at, "__dict__[...] assignment", rules.CODE)

    def _written(self, at: tuple[int, int, int], owner: ast.expr, name: str, local: frozenset[str]) -> None:
        """``owner.name = ...`` (or setattr): a class swapped, a dunder rewritten, a library function replaced."""
        owners = self._resolve(owner, local)
        if name == "__class__":
            self._note(*at, "__class__ assignment", rules.CODE)
        elif name.startswith("__") and name.endswith("__") and name not in rules.PLAIN_DUNDERS and not _is_self(owner):
            self._note(*at, f"{sorted(owners)[0] if owners else _shown(owner)}.{name} assignment", rules.CODE)
        for dotted in sorted(owners):
            if dotted in rules.PATCHABLE:
                self._note(*at, f"{dotted}.{name} replaced", rules.PATCH)
            elif self._rule(dotted) == rules.GRADER:
                self._note(*at, f"{dotted}.{name} replaced", rules.GRADER)

    def _standard_fd(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Constant) and node.value in _STANDARD_FDS

    def _descriptor(self, node: ast.expr, local: frozenset[str]) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int) and not isinstance(node.value, bool)
        return isinstance(node, ast.Call) and "builtins.int" in self._resolve(node.func, local)

    def _string(self, at: tuple[int, int, int], value: str | bytes) -> None:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if "/proc/" in text or text.rstrip("/") == "/proc" or "/dev/fd" in text:
            self._note(*at, repr(text[:60]), rules.PROC)
        if "autograder" in text.lower() and not any(c.isspace() for c in text):  # a name or path, not prose
            self._note(*at, repr(text[:60]), rules.GRADER)
        if text in rules.ATTRIBUTES:
            self._note(*at, repr(text), rules.ATTRIBUTES[text])

    def _hideable(self, text: str) -> bool:
        return text in rules.HIDEABLE or self._rule(text) is not None or "autograder" in text.lower() \
            or "/proc/" in text or "/dev/fd" in text

    # ---- flags

    def _note(self, cell: int, line: int, column: int, what: str, why: str) -> None:
        self.found.setdefault((cell, why), []).append((line, column, what))

    def _flags(self, labels: list[str]) -> list[str]:
        """One flag per cell and reason, with the lines it was seen on, in the order of the code."""
        flags = []
        for (cell, why), seen in sorted(self.found.items(), key=lambda item: (item[0][0], min(item[1]))):
            lines = sorted({line for line, _, _ in seen})
            whats = list(dict.fromkeys(what for _, _, what in sorted(seen)))
            whats = [w for w in whats if not any(o != w and (o.startswith((w + ".", w + " ")) or o.endswith("." + w))
                                                 for o in whats)]
            flags.append(f"{PREFIX}: {labels[cell]}, {_listed(lines, 'line', 'lines')}: "
                         f"{_listed(whats, '', '')} ({why})")
        if len(flags) > MAX_FLAGS:
            flags = flags[:MAX_FLAGS - 1] + [f"{PREFIX}: {len(flags) - MAX_FLAGS + 1} more kinds of tampering "
                                             "in the code (not listed)"]
        return flags


def _listed(items: Sequence[object], one: str, many: str, shown: int = 6) -> str:
    """'line 3', 'lines 3, 5 and 9', 'lines 1, 2, 3, 4, 5, 6 and 4 more'."""
    words = [str(item) for item in items]
    head = f"{one} " if len(words) == 1 and one else (f"{many} " if many else "")
    if len(words) <= shown:
        body = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    else:
        body = ", ".join(words[:shown]) + f" and {len(words) - shown} more"
    return head + body
