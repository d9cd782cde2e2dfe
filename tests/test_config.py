"""cmmnet.config: dataclass configs from dicts; a key a stored config lacks takes the default and is recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from cmmnet.config import apply_overrides, from_dict, from_dict_defaulted, to_dict
from cmmnet.errors import CheckpointError, CmmnetError


@dataclass(frozen=True)
class Inner:
    width: int = 4
    mode: str = "a"


@dataclass(frozen=True)
class Outer:
    size: int = 64
    rate: float = 50.0
    inner: Inner = field(default_factory=Inner)


def test_missing_keys_take_the_default_and_are_named():
    cfg, defaulted = from_dict_defaulted(Outer, {"size": 128, "inner": {"width": 8}})
    assert cfg == Outer(size=128, inner=Inner(width=8))
    assert defaulted == ("rate", "inner.mode")
    cfg, defaulted = from_dict_defaulted(Outer, {"size": 32})
    assert cfg.inner == Inner() and defaulted == ("rate", "inner")
    assert from_dict_defaulted(Outer, to_dict(Outer()))[1] == ()
    assert from_dict(Outer, {"size": 16}) == Outer(size=16)


@pytest.mark.parametrize("data, words", [
    ({"size": 64, "colour": "red"}, ["unknown keys", "colour"]),
    ({"inner": {"depth": 3}}, ["unknown keys", "depth"]),
    ({"size": "big"}, ["size", "expected int"]),
    ({"inner": 5}, ["inner", "mapping"]),
])
def test_bad_configs_still_raise(data, words):
    with pytest.raises(CmmnetError) as e:
        from_dict_defaulted(Outer, data)
    assert all(w in str(e.value) for w in words)


def test_overrides_keep_working():
    assert apply_overrides(Outer(), ["inner.width=16", "rate=25"]) == Outer(rate=25.0, inner=Inner(width=16))


def test_stored_config_missing_a_key_loads_defaulted_and_recorded(tmp_path):
    from cmmnet.models.io import load_pretrained_defaulted, read_config, read_config_defaulted, save_pretrained
    from cmmnet.models.unet import UNetConfig, UNetGenerator

    g = UNetGenerator(UNetConfig(width=0.125))
    save_pretrained(g, g.cfg, tmp_path / "g", name="UNetGenerator")
    path = tmp_path / "g" / "config.json"
    meta = json.loads(path.read_text())
    del meta["config"]["draw"], meta["config"]["warp"]["grid_step"]
    path.write_text(json.dumps(meta))
    cfg, defaulted = read_config_defaulted(tmp_path / "g", UNetConfig, "UNetGenerator")
    assert cfg == g.cfg and set(defaulted) == {"draw", "warp.grid_step"}
    assert read_config(tmp_path / "g", UNetConfig, "UNetGenerator") == cfg
    model, cfg2, defaulted2 = load_pretrained_defaulted(UNetGenerator, UNetConfig, tmp_path / "g")
    assert cfg2 == cfg and defaulted2 == defaulted and isinstance(model, UNetGenerator)
    meta["config"]["colour"] = "red"  # an unknown key means another architecture
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="colour"):
        read_config_defaulted(tmp_path / "g", UNetConfig, "UNetGenerator")


def test_alignment_size_follows_the_image_size():
    from cmmnet.faces import AlignConfig
    from cmmnet.models.landmark_generator import LandmarkGeneratorConfig
    from cmmnet.models.unet import UNetConfig

    assert UNetConfig(image_size=128).align == AlignConfig(size=128)
    lg = apply_overrides(LandmarkGeneratorConfig(), ["image_size=128", "align.eye_y=0.4"])
    assert lg.align == AlignConfig(size=128, eye_y=0.4) and lg.fps == 50.0
