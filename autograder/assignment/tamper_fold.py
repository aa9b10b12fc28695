"""Strings rebuilt from their pieces, for the tampering scan: what ``"ex" + "ec"``, ``"".join(map(chr, ...))``,
``base64.b64decode(...)``, ``codecs.decode(..., "rot13")`` or ``"emarfteg_"[::-1]`` spell.

Hiding a name is what the pieces are for, so a name rebuilt this way is evidence in itself.  Only
constants are combined, never anything run; the work is bounded (depth, length, total steps).
"""
from __future__ import annotations

import ast
import base64
import binascii
import codecs
from collections.abc import Callable

from autograder.assignment import tamper_rules as rules

MAX_FOLD_STEPS = 200_000    # work spent rebuilding strings, per submission
FOLD_DEPTH = 24
FOLD_CHARS = 256            # a longer string is not a name
_DECODERS = {"base64.b64decode": base64.b64decode, "base64.b32decode": base64.b32decode,
             "base64.b16decode": base64.b16decode, "base64.a85decode": base64.a85decode,
             "base64.b85decode": base64.b85decode, "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
             "base64.decodebytes": base64.decodebytes, "binascii.unhexlify": binascii.unhexlify,
             "binascii.a2b_hex": binascii.a2b_hex, "binascii.a2b_base64": binascii.a2b_base64}
_STRING_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize",
                             "casefold"})


def integer(node: ast.AST) -> int | None:
    """The value of an integer literal (``-1`` included), or None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        node, sign = node.operand, -1
    else:
        sign = 1
    value = node.value if isinstance(node, ast.Constant) else None
    return sign * value if isinstance(value, int) and not isinstance(value, bool) else None


class Folder:
    """Rebuilds strings; ``resolve`` tells what a callee stands for (``b64`` may be ``base64.b64decode``)."""

    def __init__(self, resolve: Callable[[ast.AST], set[str]]) -> None:
        self.resolve = resolve
        self.steps = 0

    def fold(self, node: ast.AST, depth: int = 0) -> str | None:
        """The string an expression builds from constants alone (concatenation, join, chr, decode,
        base64, codecs, slicing), or None."""
        self.steps += 1
        if depth > FOLD_DEPTH or self.steps > MAX_FOLD_STEPS:
            return None
        value: str | None = None
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                value = node.value
            elif isinstance(node.value, bytes):
                value = node.value.decode("latin-1")
        elif isinstance(node, ast.BinOp):
            value = self._fold_binop(node, depth)
        elif isinstance(node, ast.JoinedStr):
            parts = [self.fold(part.value if isinstance(part, ast.FormattedValue) else part, depth + 1)
                     for part in node.values]
            value = "".join(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        elif isinstance(node, ast.Subscript):
            value = self._fold_subscript(node, depth)
        elif isinstance(node, ast.Call):
            value = self._fold_call(node, depth)
        return value if value is not None and len(value) <= FOLD_CHARS else None

    def _fold_binop(self, node: ast.BinOp, depth: int) -> str | None:
        if isinstance(node.op, ast.Add):
            left, right = self.fold(node.left, depth + 1), self.fold(node.right, depth + 1)
            return left + right if left is not None and right is not None else None
        if isinstance(node.op, ast.Mult):
            for text_node, count_node in ((node.left, node.right), (node.right, node.left)):
                count = count_node.value if isinstance(count_node, ast.Constant) else None
                if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= FOLD_CHARS:
                    text = self.fold(text_node, depth + 1)
                    if text is not None and len(text) * count <= FOLD_CHARS:
                        return text * count
        return None

    def _fold_subscript(self, node: ast.Subscript, depth: int) -> str | None:
        text = self.fold(node.value, depth + 1)
        if text is None:
            return None
        if isinstance(node.slice, ast.Slice):
            bounds = [integer(part) if part is not None else None
                      for part in (node.slice.lower, node.slice.upper, node.slice.step)]
            given = [part for part in (node.slice.lower, node.slice.upper, node.slice.step) if part is not None]
            if len([b for b in bounds if b is not None]) != len(given) or bounds[2] == 0:
                return None
            return text[slice(*bounds)]
        position = integer(node.slice)
        return text[position] if position is not None and -len(text) <= position < len(text) else None

    def _fold_call(self, node: ast.Call, depth: int) -> str | None:
        function, args = node.func, node.args
        names = self.resolve(function)
        try:
            if isinstance(function, ast.Attribute) and function.attr == "join" and len(args) == 1:
                separator, items = self.fold(function.value, depth + 1), self._fold_items(args[0], depth + 1)
                return separator.join(items) if separator is not None and items is not None else None
            if isinstance(function, ast.Attribute) and function.attr in ("decode", "encode") and not args[1:]:
                return self.fold(function.value, depth + 1)
            if isinstance(function, ast.Attribute) and function.attr in _STRING_METHODS and not args:
                text = self.fold(function.value, depth + 1)
                return getattr(text, function.attr)() if text is not None else None
            if isinstance(function, ast.Attribute) and function.attr == "replace" and len(args) == 2:
                parts = [self.fold(part, depth + 1) for part in (function.value, *args)]
                return parts[0].replace(parts[1], parts[2]) if None not in parts else None  # type: ignore[union-attr]
            if isinstance(function, ast.Attribute) and function.attr == "fromhex" and len(args) == 1:
                text = self.fold(args[0], depth + 1)
                return bytes.fromhex(text).decode("latin-1") if text is not None else None
            if names & {"builtins.chr"} and len(args) == 1:
                code = integer(args[0])
                return chr(code) if code is not None and 0 <= code < 0x110000 else None
            if names & {"builtins.str"} and len(args) == 1:
                return self.fold(args[0], depth + 1)
            if names & {"builtins.bytes", "builtins.bytearray"} and len(args) == 1:
                codes = self._integers(args[0])
                return bytes(codes).decode("latin-1") if codes is not None else None
            decoder = next((_DECODERS[name] for name in sorted(names) if name in _DECODERS), None)
            if decoder is not None and len(args) == 1:
                text = self.fold(args[0], depth + 1)
                return decoder(text.encode("latin-1")).decode("latin-1") if text is not None else None
            if names & {"codecs.decode", "codecs.encode"} and len(args) == 2:
                text, codec = self.fold(args[0], depth + 1), self.fold(args[1], depth + 1)
                if text is None or codec is None:
                    return None
                done = codecs.decode(text, codec) if "codecs.decode" in names else codecs.encode(text, codec)
                return done.decode("latin-1") if isinstance(done, bytes) else str(done)
        except (ValueError, TypeError, LookupError, binascii.Error, UnicodeError, OverflowError):
            return None
        return None

    def _fold_items(self, node: ast.AST, depth: int) -> list[str] | None:
        """The strings a join joins: a list or tuple of them, map(chr, ...), a comprehension of chr(...), reversed()."""
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= FOLD_CHARS:
            items = [self.fold(item, depth + 1) for item in node.elts]
            return items if None not in items else None  # type: ignore[return-value]
        if isinstance(node, ast.Call) and node.args:
            names = self.resolve(node.func)
            if "builtins.map" in names and len(node.args) == 2 and "builtins.chr" in self.resolve(node.args[0]):
                codes = self._integers(node.args[1])
                return [chr(code) for code in codes] if codes is not None and max(codes, default=0) < 0x110000 else None
            if "builtins.reversed" in names and len(node.args) == 1:
                items = self._fold_items(node.args[0], depth + 1)
                return items[::-1] if items is not None else None
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) == 1 \
                and isinstance(node.elt, ast.Call) and "builtins.chr" in self.resolve(node.elt.func):
            codes = self._integers(node.generators[0].iter)
            return [chr(code) for code in codes] if codes is not None and max(codes, default=0) < 0x110000 else None
        text = self.fold(node, depth + 1)
        return list(text) if text is not None else None

    def _integers(self, node: ast.AST) -> list[int] | None:
        if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) > FOLD_CHARS:
            return None
        codes = [integer(item) for item in node.elts]
        return codes if None not in codes and all(0 <= c for c in codes) else None  # type: ignore[return-value,operator]

    def hides(self, node: ast.AST) -> bool:
        """Whether a name the scan cannot rebuild is made with the tools of hiding (chr, join, decode, [::-1]...)."""
        for seen, part in enumerate(ast.walk(node)):
            if seen > 200:
                return True
            if isinstance(part, ast.Call):
                function = part.func
                name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
                if name in rules.HIDING_CALLS or any(n.split(".")[0] in ("base64", "codecs", "binascii")
                                                     for n in self.resolve(function)):
                    return True
            if isinstance(part, ast.Slice) and part.step is not None:
                return True
        return False
