"""Pose search: the space, goal and budget every method shares, one module per method
(app.search.methods, registered in app.search.registry), and recordings of runs.  Imports core;
renders and classifications come in as functions."""
