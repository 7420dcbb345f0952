"""Hostile inputs that once broke the tool (issue 43), built in a test's folder so each
regression test is built from the same input as the report that found it."""

from __future__ import annotations

from pathlib import Path

CUBE = """v -1 -1 -1
v 1 -1 -1
v 1 1 -1
v -1 1 -1
v -1 -1 1
v 1 -1 1
v 1 1 1
v -1 1 1
"""
CUBE_FACES = "".join(
    f"f {a} {b} {c}\n"
    for a, b, c in [
        (1, 3, 2),
        (1, 4, 3),
        (5, 6, 7),
        (5, 7, 8),
        (1, 2, 6),
        (1, 6, 5),
        (4, 8, 7),
        (4, 7, 3),
        (1, 5, 8),
        (1, 8, 4),
        (2, 3, 7),
        (2, 7, 6),
    ]
)


def hidden_glass_obj(folder: Path) -> Path:
    """An opaque cube (``d 1.0``) with a quad of glass (``d 0.4``) inside it: no blended
    fragment ever passes the depth test."""
    (folder / "glass.mtl").write_text("newmtl solid\nKd 0.8 0.2 0.2\nd 1.0\nnewmtl glass\nKd 0.2 0.2 0.8\nd 0.4\n")
    path = folder / "glass.obj"
    quad = "v -0.5 -0.5 0\nv 0.5 -0.5 0\nv 0.5 0.5 0\nv -0.5 0.5 0\n"
    path.write_text(f"mtllib glass.mtl\n{CUBE}{quad}usemtl solid\n{CUBE_FACES}usemtl glass\nf 9 10 11\nf 9 11 12\n")
    return path
