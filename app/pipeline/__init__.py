"""Render -> classify (-> gradient): the one headless entry the front ends, sweeps and lenses use.
Imports search, render, vision, scene, core."""
