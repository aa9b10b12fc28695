"""How a grade is decided: the engine runs the checks, the scoring rule turns outcomes into points, the report carries them."""
