import pytest

from snnstudio.errors import ModelError
from snnstudio.snn.zoo import ModelConfig
from snnstudio.train.trainer import TrainConfig, TrainError


@pytest.mark.parametrize("cls,err,what", [(ModelConfig, ModelError, "model config"), (TrainConfig, TrainError, "training config")])
def test_configs_reject_non_objects_and_unknown_fields_naming_the_known_ones(cls, err, what):
    with pytest.raises(err, match=f"a {what} must be a JSON object, got list"):
        cls.from_dict([1, 2])
    with pytest.raises(err, match=f"unknown {what} field\\(s\\): colour; known: .*epochs|unknown {what} field\\(s\\): colour; known: .*arch"):
        cls.from_dict({"colour": 1})


def test_a_good_dict_round_trips():
    cfg = ModelConfig()
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
