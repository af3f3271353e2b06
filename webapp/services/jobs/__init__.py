"""Jobs: the registry of job kinds (kinds), and asking, running and recording jobs of any kind (core).
The capabilities register their kinds from kinds.py; core.py imports them, so it sits above them all."""
