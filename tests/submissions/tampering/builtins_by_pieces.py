"""exec found on __builtins__ under a name built from pieces, and the other ways of spelling it."""
import builtins
import base64
import codecs
import sys

run = getattr(__builtins__, "ex" + "ec")
run("import os")
frame_of = getattr(sys, "".join(map(chr, [95, 103, 101, 116, 102, 114, 97, 109, 101])))
walker = getattr(sys, base64.b64decode("X2dldGZyYW1l").decode())
rot = getattr(sys, codecs.decode("_trgserzr", "rot13"))
backwards = getattr(sys, "emarfteg_"[::-1])
hidden = getattr(builtins, "".join(chr(c) for c in (101, 118, 97, 108)))
name = input()
dynamic = getattr(builtins, name)
joined = getattr(sys, "".join(reversed(name)))
