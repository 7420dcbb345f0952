"""The command line: one module per command group, each registering its own sub-parsers.  Never
imports gui (the window command gets its launcher from app.main)."""
