"""After grading: the class report (one static HTML page) and the similarity flags, from what grading left."""
