import numpy as np

from app.render.renderer import Renderer
from app.render.targets import OffscreenTarget
from app.scene.culling import INWARD, OPEN, OUTWARD, closed_pieces
from app.scene.library import list_objects, resolve_object
from app.sweep.sweep import SweepPlan

# a unit cube wound outwards (counter-clockwise seen from outside)
CUBE_POSITIONS = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
CUBE_TRIANGLES = np.array(
    [
        [0, 1, 3], [0, 3, 2],  # x = 0
        [4, 6, 7], [4, 7, 5],  # x = 1
        [0, 4, 5], [0, 5, 1],  # y = 0
        [2, 3, 7], [2, 7, 6],  # y = 1
        [0, 2, 6], [0, 6, 4],  # z = 0
        [1, 5, 7], [1, 7, 3],  # z = 1
    ]
)  # fmt: skip


def test_a_closed_cube_is_culled_by_its_winding():
    assert (closed_pieces(CUBE_POSITIONS, CUBE_TRIANGLES) == OUTWARD).all()
    assert (closed_pieces(CUBE_POSITIONS, CUBE_TRIANGLES[:, ::-1]) == INWARD).all()


def test_an_open_or_badly_wound_cube_is_never_culled():
    assert (closed_pieces(CUBE_POSITIONS, CUBE_TRIANGLES[:-1]) == OPEN).all()  # a hole
    flipped = CUBE_TRIANGLES.copy()
    flipped[0] = flipped[0, ::-1]  # one triangle wound the other way
    assert (closed_pieces(CUBE_POSITIONS, flipped) == OPEN).all()
    doubled = np.vstack([CUBE_TRIANGLES, CUBE_TRIANGLES[:1]])  # an edge shared by three triangles
    assert (closed_pieces(CUBE_POSITIONS, doubled) == OPEN).all()
    ineligible = np.ones(len(CUBE_TRIANGLES), bool)
    ineligible[5] = False  # e.g. one triangle of a see-through material
    assert (closed_pieces(CUBE_POSITIONS, CUBE_TRIANGLES, ineligible) == OPEN).all()


def test_seams_are_joined_and_pieces_are_judged_apart():
    # every triangle with its own three vertices (as files split them at texture seams)
    seamed_positions = CUBE_POSITIONS[CUBE_TRIANGLES.reshape(-1)]
    seamed = np.arange(len(seamed_positions)).reshape(-1, 3)
    # a second cube beside it, missing a face
    positions = np.vstack([seamed_positions, CUBE_POSITIONS + [3, 0, 0]])
    triangles = np.vstack([seamed, CUBE_TRIANGLES[2:] + len(seamed_positions)])
    kind = closed_pieces(positions, triangles)
    assert (kind[: len(seamed)] == OUTWARD).all()
    assert (kind[len(seamed) :] == OPEN).all()


def test_culling_closed_pieces_keeps_every_library_picture(ctx):
    """Random poses (rotation, translation, light) of every object, with and without the
    culling of closed pieces: at most a few silhouette pixels differ (depth ties where a
    back face meets its front face), and the teddy bear, which has pieces wound both
    ways, is drawn with both kinds of culling."""
    plain, culled = Renderer(ctx, cull_closed=False), Renderer(ctx, cull_closed=True)
    target = OffscreenTarget(ctx, 160, 160, "fast")
    try:
        for obj in list_objects():
            mesh = obj.load()
            plain.set_mesh(mesh)
            culled.set_mesh(mesh)
            groups = ("rotation", "translation", "light")
            plan = SweepPlan(objects=(obj.name,), models=("-",), samples=8, seed=5, groups=groups)
            for pose in plan.poses(obj.canonical_pose, stream=obj.name):
                plain.render(pose, target)
                a = target.read()
                culled.render(pose, target)
                b = target.read()
                differing = int((a != b).any(axis=2).sum())
                assert differing <= 8, (obj.name, pose, differing)
            if obj.name == "teddy_bear":
                kinds = {cull for part in culled.parts for _, _, cull in part.ranges}
                assert kinds == {None, "back", "front"}
                whole = [((0, len(p.triangles) * 3, None),) for p in mesh.parts]
                assert [part.ranges for part in plain.parts] == whole
    finally:
        target.release()
        plain.release()
        culled.release()


def test_wrong_culling_would_show(ctx):
    """The picture test above can fail: culling the wrong faces of closed pieces changes
    the teddy bear's picture a lot."""
    obj = resolve_object("teddy_bear")
    mesh = obj.load()
    right, wrong = Renderer(ctx), Renderer(ctx)
    right.set_mesh(mesh)
    wrong.set_mesh(mesh)
    for part in wrong.parts:
        swap = {"back": "front", "front": "back", None: None}
        part.ranges = tuple((first, count, swap[cull]) for first, count, cull in part.ranges)
    target = OffscreenTarget(ctx, 160, 160, "fast")
    try:
        right.render(obj.canonical_pose, target)
        a = target.read()
        wrong.render(obj.canonical_pose, target)
        b = target.read()
        assert (a != b).any(axis=2).mean() > 0.05
    finally:
        target.release()
        right.release()
        wrong.release()
