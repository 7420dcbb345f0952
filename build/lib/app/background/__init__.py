"""Work beside a front end: the live classifier's worker thread, the search thread with its own GL
context, and the base of background runs.  Imports pipeline and below."""
