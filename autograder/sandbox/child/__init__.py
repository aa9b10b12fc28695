"""The worker: the process that runs one part of one student's code, and nothing else."""
