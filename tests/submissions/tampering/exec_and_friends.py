"""Code the scan cannot read: exec, eval and compile of strings, unpickled and unmarshalled code."""
import marshal
import pickle

exec("x = 1")
value = eval("1 + 1")
code = compile("y = 2", "<string>", "exec")
loaded = pickle.loads(b"\x80\x04K\x01.")
function = marshal.loads(b"")
