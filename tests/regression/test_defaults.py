"""The Keras defaults the question relied on, as normcheck writes them down (oracle.DEFAULTS)."""

import pytest

from normcheck import build_model, framework
from normcheck.oracle import DEFAULTS, INITIALIZERS
from normcheck.training import build_compiled

pytestmark = pytest.mark.upgrade


def _class_name(config):
    return config["class_name"] if isinstance(config, dict) else config


def test_dense_layers_use_keras_default_initializers():
    model = build_model("batch_norm")
    for name in ("hidden", "output"):
        config = model.get_layer(name).get_config()
        assert _class_name(config["kernel_initializer"]) == INITIALIZERS["dense_kernel_initializer"], name
        assert _class_name(config["bias_initializer"]) == INITIALIZERS["dense_bias_initializer"], name
        assert config["use_bias"] is True


@pytest.mark.parametrize("variant", ["batch_norm", "batch_norm_before_activation"])
def test_batch_normalization_defaults(variant):
    config = build_model(variant).get_layer("batch_norm").get_config()
    assert config["epsilon"] == pytest.approx(DEFAULTS["bn_epsilon"])
    assert config["momentum"] == pytest.approx(DEFAULTS["bn_momentum"])
    assert config["center"] is True
    assert config["scale"] is True


def test_adam_string_resolves_to_keras_default_hyperparameters():
    model, _ = build_compiled("none", __import__("normcheck").QUESTION_EXPERIMENT, 0)
    config = model.optimizer.get_config()
    assert type(model.optimizer).__name__ == "Adam"
    assert float(config["learning_rate"]) == pytest.approx(DEFAULTS["adam_learning_rate"])
    assert config["beta_1"] == pytest.approx(DEFAULTS["adam_beta_1"])
    assert config["beta_2"] == pytest.approx(DEFAULTS["adam_beta_2"])
    assert config["epsilon"] == pytest.approx(DEFAULTS["adam_epsilon"])
    assert config["amsgrad"] is False


def test_fuzz_factor_used_by_binary_crossentropy():
    assert framework.keras().backend.epsilon() == pytest.approx(DEFAULTS["bce_epsilon"])
