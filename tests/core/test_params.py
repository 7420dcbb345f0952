import json
import math
import os

import numpy as np
import pytest

from app.core.params import (
    DEFAULTS,
    GROUPS,
    PARAM_BY_NAME,
    PARAMS,
    Pose,
    PoseDocument,
    PoseError,
    describe_change,
    euler_from_matrix,
    fit_vector,
    largest_change,
    load_pose_file,
    params_in_groups,
    parse_pose_document,
    rotation_matrix,
    world_translation,
)
from app.render.renderer import model_view_matrix, projection_matrix


def test_every_param_is_declared_once_with_a_valid_range():
    names = [p.name for p in PARAMS]
    assert len(names) == len(set(names))
    for p in PARAMS:
        assert p.low < p.high and p.low <= p.default <= p.high, p
        assert p.group in GROUPS
    required = {"x", "y", "z", "yaw", "pitch", "roll", "light_azimuth", "light_elevation", "ambient", "diffuse", "fov"}
    assert required <= set(names)


def test_groups_select_their_params():
    assert [p.name for p in params_in_groups(["rotation"])] == ["yaw", "pitch", "roll"]
    with pytest.raises(PoseError, match="unknown parameter group"):
        params_in_groups(["shape"])


def test_pose_defaults_replace_and_vector():
    pose = Pose()
    assert np.array_equal(pose.vector, DEFAULTS)
    turned = pose.replace(yaw=30.0)
    assert turned.yaw == 30.0 and pose.yaw == 0.0
    assert Pose.from_vector(turned.vector) == turned
    with pytest.raises(AttributeError):
        pose.colour  # noqa: B018


def test_pose_json_round_trip(tmp_path):
    pose = Pose(yaw=12.5, pitch=-33.0, roll=170.0, x=0.3, y=-0.7, z=-20.0, light_azimuth=90.0, fov=30.0)
    doc = PoseDocument(pose, object="hen", model="efficientnet_lite0", settings={"textures": False})
    path = tmp_path / "p.json"
    path.write_text(doc.to_json())
    back = load_pose_file(path)
    assert back.pose == pose and back.object == "hen" and back.model == "efficientnet_lite0"
    assert back.settings == {"textures": False}


def test_bare_mapping_and_partial_pose_are_accepted():
    doc = parse_pose_document({"yaw": 45})
    assert doc.pose.yaw == 45 and doc.pose.z == PARAM_BY_NAME["z"].default


@pytest.mark.parametrize(
    "data, message",
    [
        ({"pose": {"yaw": 10, "colour": 3}}, "unknown pose parameter 'colour'"),
        ({"pose": {"yaw": 400}}, "outside its range"),
        ({"pose": {"z": 5}}, "outside its range"),
        ({"pose": {"yaw": float("nan")}}, "must be finite"),
        ({"pose": {"yaw": float("inf")}}, "must be finite"),
        ({"pose": {"yaw": "ten"}}, "must be a number"),
        ({"pose": {"yaw": True}}, "must be a number"),
        ({"pose": [1, 2, 3]}, "'pose' must be an object"),
        ({"format": "strike-a-pose/pose", "version": 99, "pose": {}}, "version 99 is not supported"),
        ({"format": "something-else", "pose": {}}, "format is 'something-else'"),
        ({"format": "strike-a-pose/pose"}, "missing the 'pose' object"),
        ({"pose": {}, "extra": 1}, "unknown key"),
        ({"pose": {}, "object": 5}, "'object' must be a string"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_pose_documents_give_clear_errors(data, message):
    with pytest.raises(PoseError, match=message):
        parse_pose_document(data)


def test_bad_pose_files(tmp_path):
    with pytest.raises(PoseError, match="not found"):
        load_pose_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"pose": {"yaw": 1,')
    with pytest.raises(PoseError, match="not valid JSON"):
        load_pose_file(broken)
    nan = tmp_path / "nan.json"
    nan.write_text('{"pose": {"yaw": NaN}}')
    with pytest.raises(PoseError, match="finite"):
        load_pose_file(nan)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PoseError):
        load_pose_file(binary)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"yaw": 1' + "0" * 400 + "}", "big.json: pose parameter 'yaw' is a 401-digit number, far outside its range"),
        ('{"yaw": 1' + "0" * 5000 + "}", "big.json: not a pose file (it holds a number of more than 4,300 digits)"),
        ("[" * 200_000 + "]" * 200_000, "big.json: not a pose file (JSON nested too deeply to read)"),
        (
            '{"format": "strike-a-pose/pose", "version": true, "pose": {}}',
            "big.json: version True is not supported (this program reads 1)",
        ),
    ],
    ids=["400-digit int", "5000-digit int", "nested 200000 deep", "version true"],
)
def test_hostile_pose_files_give_one_clear_error(tmp_path, content, message):
    """Issue 43: these ended in OverflowError, ValueError and RecursionError tracebacks, or
    (``"version": true``, as True == 1) were accepted."""
    path = tmp_path / "big.json"
    path.write_text(content)
    with pytest.raises(PoseError) as caught:
        load_pose_file(path)
    assert str(caught.value) == f"{path}: {message.split(': ', 1)[1]}"


def test_a_named_pipe_as_pose_file_is_refused_without_opening_it(tmp_path):
    """Opening a FIFO waits for a writer: the load hung forever."""
    fifo = tmp_path / "pose.json"
    os.mkfifo(fifo)
    with pytest.raises(PoseError, match="pose file .*pose.json is not a regular file"):
        load_pose_file(fifo)


def test_fit_vector_wraps_angles_and_clips_the_rest():
    v = DEFAULTS.copy()
    v[0], v[5] = 190.0, 10.0  # yaw, z
    fitted = fit_vector(v)
    assert fitted[0] == pytest.approx(-170.0) and fitted[5] == PARAM_BY_NAME["z"].high


def test_changes_between_poses_take_the_shorter_arc_and_read_largest_first():
    a, b = Pose(yaw=170.0, z=-9.0, ambient=0.4), Pose(yaw=-175.0, pitch=-20.0, z=-8.5, ambient=0.43)
    assert largest_change(a, b) == pytest.approx(20.0 / 360.0)  # pitch; yaw turns 15 degrees, not 345
    assert describe_change(a, b) == "pitch -20°, yaw +15°, ambient +0.03"  # by fraction of range: z's 0.02 is last
    assert describe_change(a, b, most=1) == "pitch -20°"
    assert describe_change(a, a.replace(yaw=170.2)) == "no change"  # not visible at a degree


def test_euler_round_trip():
    rng = np.random.default_rng(0)
    for yaw, pitch, roll in rng.uniform([-180, -89, -180], [180, 89, 180], size=(200, 3)):
        r = rotation_matrix(yaw, pitch, roll)
        assert np.allclose(rotation_matrix(*euler_from_matrix(r)), r, atol=1e-9)
    r = rotation_matrix(30, 90, 0)  # gimbal lock still reproduces the matrix
    assert np.allclose(rotation_matrix(*euler_from_matrix(r)), r, atol=1e-9)


@pytest.mark.parametrize("fov", [5.0, 16.426, 60.0])
def test_xy_keep_the_object_centre_in_view_at_every_depth(fov):
    proj = projection_matrix(fov, 299, 299)
    for z in np.linspace(PARAM_BY_NAME["z"].low, PARAM_BY_NAME["z"].high, 26):
        for x, y in [(-1, -1), (1, 1), (1, -1), (0.5, 0.2)]:
            pose = Pose(x=x, y=y, z=z, fov=fov)
            centre = model_view_matrix(pose) @ np.array([0, 0, 0, 1.0])
            clip = proj @ centre
            ndc = clip[:3] / clip[3]
            assert ndc[0] == pytest.approx(x, abs=1e-9) and ndc[1] == pytest.approx(y, abs=1e-9)
            assert -1 < ndc[2] < 1  # between the near and far planes
    tx, ty, tz = world_translation(Pose(x=1, z=-10, fov=fov))
    assert tx == pytest.approx(10 * math.tan(math.radians(fov / 2)))


def test_pose_json_is_plain_json():
    text = PoseDocument(Pose(yaw=1)).to_json()
    assert json.loads(text)["pose"]["yaw"] == 1


def test_fitted_wraps_angles_and_clips_the_rest():
    from app.core.params import PARAM_BY_NAME, Pose, PoseError

    p = Pose().fitted(yaw=190.0, pitch=-540.0, x=3.0, z=-100.0)
    assert p.yaw == pytest.approx(-170.0) and p.pitch == pytest.approx(-180.0)
    assert p.x == PARAM_BY_NAME["x"].high and p.z == PARAM_BY_NAME["z"].low
    with pytest.raises(PoseError, match="unknown pose parameter"):
        Pose().fitted(colour=1.0)
