"""Every action, declared once (app.gui.actions): bound to real keys, and each does what it says."""

from __future__ import annotations

import pytest

from app.gui.actions import ACTIONS, button


def test_every_action_is_bound_to_real_keys_none_twice():
    import pyglet

    pyglet.options["shadow_window"] = False  # importing pyglet.window must not need a display
    try:
        from pyglet.window import key
    except (ImportError, AttributeError) as e:  # no X11 client libraries (a bare GPU box); CI has them
        pytest.skip(f"pyglet.window cannot be imported here: {e}")
    bound = [getattr(key, name) for a in ACTIONS for name, _ in a.bindings]
    assert len(bound) == len(set(bound))  # no key does two things
    assert all(a.bindings and a.keys and a.description for a in ACTIONS)
    assert button("Capture", "capture") == "Capture (C)"


def _stopped(stage, job) -> None:
    job.toggle()  # the second press stops it
    stage.until(lambda: not job.running, f"{job.name} to stop")


def test_each_action_does_what_its_help_says(stage):
    """One check per action of the table; an action added without a check here fails."""
    ex, s = stage.ex, stage.state
    seen = []

    def act(name: str, amount: float = 1.0) -> None:
        seen.append(name)
        ex.act(name, amount)

    def flips(name: str, read) -> None:
        before = read()
        act(name)
        assert read() == (not before), name

    flips("toggle_live", lambda: s.live_enabled)
    flips("toggle_texture", lambda: s.settings.textures)
    flips("toggle_culling", lambda: s.settings.cull_back_faces)
    flips("toggle_help", lambda: s.show_help)
    flips("toggle_panel", lambda: s.show_panel)
    backgrounds = set()
    for _ in range(3):
        act("cycle_background")
        backgrounds.add(s.settings.background)
    assert len(backgrounds) == 3
    start = s.pose
    for name, sign in (("yaw", 1), ("yaw", -1), ("pitch", 1), ("roll", -1)):
        before = s.pose[name]
        act(name, sign)
        assert s.pose[name] == pytest.approx(before + 5 * sign), name
    z = s.pose.z
    act("zoom", 1)
    assert s.pose.z > z  # nearer: less deep
    act("reset_pose")
    assert s.pose == s.obj.canonical_pose != start.replace(yaw=start.yaw + 1)
    act("capture")
    assert ex.captures.pending
    stage.until(lambda: ex.captures.taken, "the capture")
    act("save_pose")
    assert list(ex.captures.directory.glob("teddy_bear-pose*.json"))
    for name in ("optimize", "atlas", "fragility", "evolve"):
        act(name)
        job = ex.jobs[name]
        assert job.running, name
        _stopped(stage, job)
    act("attack")
    assert ex.jobs.attack.attacking
    stage.until(lambda: not ex.jobs.attack.attacking, "the attack")
    assert ex.jobs.attack.result is not None
    act("toggle_map")
    assert ex.state.show_map
    act("add_to_library")  # the teddy bear is a library object: said, nothing started
    assert not ex.jobs.add_to_library.running
    assert list(ex.messages)[-1].text.endswith("teddy_bear is in the library already")
    act("quit")
    assert ex.quit_requested
    assert sorted(set(seen)) == sorted(a.name for a in ACTIONS)
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        ex.act("explode")
