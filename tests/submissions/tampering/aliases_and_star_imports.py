"""The same tools under other names: import aliases, assigned aliases, from-imports, star imports."""
import inspect as look
import os
import sys as system
from os import dup2 as copy_descriptor
from os import *
from sys import _getframe as frame_at

o = os
p = o
p.dup2(0, 3)
copy_descriptor(0, 4)
frame_at(0)
look.stack()
system.settrace(None)
dup2(0, 5)
