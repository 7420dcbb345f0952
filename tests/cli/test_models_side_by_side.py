"""Several models judging one pose (issue 41): per-model verdicts equal each model's own
classify, and a search over several models succeeds only when every one is fooled, as
each model, asked again on its own, confirms."""

import json

import pytest
import torch

from app.cli.main import main
from app.search.space import Goal

LITES = "efficientnet_lite0,efficientnet_lite1,efficientnet_lite2"


def _alone(capsys, *args) -> dict:
    assert main(["classify", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_each_models_verdict_is_its_own_classify(capsys):
    for pose in (["--set", "pitch=-100", "roll=40"], []):  # fooled by all three; recognised by all three
        together = _alone(capsys, "--object", "hen", *pose, "--models", LITES)
        fooled = 0
        for line in together["models"]:
            alone = _alone(capsys, "--object", "hen", *pose, "--model", line["model"])
            assert (line["verdict"], line["true_rank"], line["top1"]) == (
                alone["verdict"], alone["true_rank"], alone["top"][0]["class"])  # fmt: skip
            assert line["says"] == alone["says"]
            fooled += alone["verdict"] == "FOOLED"
        assert together["fooled"] == fooled
    assert fooled == 0
    assert main(["classify", "--object", "hen", "--set", "pitch=-100", "roll=40", "--models", LITES]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "fools 3 of 3 models"


def test_a_goal_over_several_models_is_met_only_in_all_of_them():
    hen = torch.zeros(1000)
    hen[8] = 1.0
    kite = torch.zeros(1000)
    kite[21] = 0.6
    kite[8] = 0.4
    both = torch.stack([torch.stack([kite, kite]), torch.stack([kite, hen])])  # (2 poses, 2 models, 1000)
    goal = Goal(8)
    assert goal.successes(both).tolist() == [True, False]
    assert goal.scores(both)[1] == pytest.approx(Goal(8).scores(hen[None])[0])  # the model that holds out
    assert Goal(8, 21).successes(both).tolist() == [True, False]


@pytest.mark.slow  # a search over two models
def test_optimize_over_several_models_finds_a_pose_each_model_gets_wrong(tmp_path, capsys):
    models = "efficientnet_lite0,efficientnet_lite1"
    assert main(["optimize", "--object", "hen", "--models", models, "--method", "random", "--budget", "20",
                 "--seed", "3", "--out", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("FOOLED: top-1 is no longer hen") and "  efficientnet_lite1: FOOLED:" in out
    (pose_file,) = tmp_path.glob("hen-random.json")
    doc = json.loads(pose_file.read_text())
    assert [m["model"] for m in doc["models"]] == models.split(",")
    for model in models.split(","):  # asked again, each on its own
        alone = _alone(capsys, "--pose", str(pose_file), "--model", model)
        assert alone["verdict"] == "FOOLED", (model, alone["says"])


def test_several_models_refuse_the_gradient_and_models_without_weights(tmp_path, capsys):
    args = ["optimize", "--object", "hen", "--budget", "2", "--out", str(tmp_path)]
    assert main([*args, "--models", "efficientnet_lite0,efficientnet_lite1", "--method", "grad"]) == 2
    assert "grad follows one model's gradient" in capsys.readouterr().err
    assert main([*args, "--models", "efficientnet_lite0,inception_v3"]) == 2
    assert capsys.readouterr().err == "error: inception_v3: no ImageNet weights here (run.py models lists what is)\n"
    assert main([*args, "--models", "a,b,c,d"]) == 2
    assert "--models takes 1 to 3 different models" in capsys.readouterr().err
