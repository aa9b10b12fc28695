"""Native memory: ctypes, cffi, mmap of anonymous memory."""
import ctypes
import mmap
from ctypes import memmove

import cffi

memmove(0, 0, 0)
ctypes.cast(id(object()), ctypes.POINTER(ctypes.c_char))
region = mmap.mmap(-1, 4096)
ffi = cffi.FFI()
