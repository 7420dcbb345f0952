"""Sweeps: many poses of many objects classified by several models into a resumable folder, and its
report.  Imports pipeline and below."""
