"""Grade a whole folder of submissions: in parallel, resumably, each submission in its own process.

Why a process per submission: the engine keeps student code in confined workers, but the
grading process itself still imports torch, runs hypothesis and reaps its workers' orphans
(it kills *every* late child of its own process).  One fresh grading process per submission
means a crash, a leak or a hang there costs that submission only, and the next one starts
clean.  The supervisor (the TA's process) never imports student code; it only starts grading
processes, waits for them with a time limit and collects their JSON.

- :mod:`.discover` finds each student's submission in a folder;
- :mod:`.isolate` grades one submission in a fresh process (forked from a preloaded forkserver,
  or a new interpreter on a Dask worker) and kills it at its time limit;
- :mod:`.schedule` runs many of them at once, locally or on a Dask cluster;
- :mod:`.manifest` remembers what was graded, so that a re-run skips what is unchanged;
- :mod:`.outputs` writes ``grades.csv``, ``summary.json`` and ``summary.txt``;
- :mod:`.run` ties them together: :func:`autograder.batch.run.grade_all`.

Outputs under OUTDIR, all deterministic (sorted by student, no timestamps):
``<student>/results.json`` (Gradescope format), ``grades.csv``, ``summary.json``,
``summary.txt`` and ``manifest.json``.
"""
