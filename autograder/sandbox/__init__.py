"""How student code runs: one confined worker process per part, out of the grader's reach.

Parent side (the grading process): :mod:`.handle` (one worker), :mod:`.student` (a part behind
workers), :mod:`.limits`, :mod:`.program`, :mod:`.readable`, :mod:`.proctree`, :mod:`.usage`,
:mod:`.protocol`.  Child side (the worker itself): :mod:`.child`.  Nothing is imported here: the
worker imports this package too, before it locks itself down.
"""
