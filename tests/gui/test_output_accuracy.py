"""The Output panel's running accuracy: per gesture by its last prediction, and per step."""

from snnstudio.gui.panels.output import RunningAccuracy


def test_gestures_are_scored_by_their_last_prediction_and_steps_one_by_one():
    score = RunningAccuracy()
    # gesture 3: wrong at first (the window still holds the previous gesture), right at its end
    for label, pred in [(3, 1), (3, 1), (3, 3), (None, 3), (None, 2),  # gap: not scored
                        (5, 5), (5, 2),                                # gesture 5: wrong at its end
                        (3, 3)]:                                       # gesture 3 again, still open
        score.add(label, pred)
    assert (score.gestures, score.gestures_right) == (2, 1)
    assert (score.steps, score.steps_right) == (6, 3)
    score.close()
    assert (score.gestures, score.gestures_right) == (3, 2)
    assert score.text() == "accuracy: 67 % of 3 gestures · 50 % of 6 steps"


def test_steps_without_a_prediction_are_not_scored():
    score = RunningAccuracy()
    score.add(4, None)
    score.add(4, None)
    score.add(None, 1)
    assert score.gestures == score.steps == 0
    assert score.text() == "running accuracy: "
