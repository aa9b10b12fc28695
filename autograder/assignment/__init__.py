"""What is graded: the parts, the course code they run with, our reference solutions, and reading a submission."""
