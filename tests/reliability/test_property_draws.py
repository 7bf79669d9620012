"""`calibrate --properties` counts every property's draws, reproducibly, and resumes an interrupted count."""

import json

import pytest

from normcheck import cli, framework
from normcheck.calibration import property_rates
from normcheck.properties import BY_ID, PROPERTIES


def test_draws_are_reproducible_and_inside_their_domains():
    for prop in PROPERTIES:
        assert property_rates.draw(prop, 7) == property_rates.draw(prop, 7)
        for i in range(200):
            args, seed = property_rates.draw(prop, i)
            assert seed in prop.seeds
            for name, domain in prop.domains.items():
                slack = 0.005 * max(abs(domain.low), abs(domain.high)) if domain.digits else 0.0  # rounding
                assert domain.low - slack <= args[name] <= domain.high + slack, (prop.id, name, args[name])


def test_a_count_resumes_and_states_every_property(tmp_path, monkeypatch):
    trained = []

    def fake_check(train, args, seed):
        trained.append(seed)
        return "fails" if seed % 2 else None

    monkeypatch.setattr(property_rates, "PROPERTIES", tuple(
        type(p)(p.id, p.statement, p.domains, p.seeds, fake_check) for p in PROPERTIES))
    path = property_rates.PROPERTY_DRAWS.path(tmp_path, "jax")
    partial = path.with_name(path.name + ".partial")
    setup = {"setup": {"backend": "jax", "properties": [p.id for p in PROPERTIES]}}
    args, seed = property_rates.draw(BY_ID[PROPERTIES[0].id], 0)
    partial.write_text(json.dumps(setup) + "\n" + json.dumps({"property": PROPERTIES[0].id, "draw": 0, "args": args,
                                                               "seed": seed, "failure": None}) + "\n")
    monkeypatch.setattr(property_rates.framework, "default_backend", lambda: "jax")
    text = property_rates.count(tmp_path, 3, property_rates.PROPERTIES)
    assert len(trained) == 3 * len(PROPERTIES) - 1, "the stored draw is not run again"
    counted = property_rates.counts(path)
    assert {k: c.trials for k, c in counted.items()} == {p.id: 3 for p in PROPERTIES}
    assert all(f"| `{p.id}` |" in text for p in PROPERTIES)
    assert not partial.exists()
    property_rates.count(tmp_path, 4, property_rates.PROPERTIES)
    assert len(trained) == 4 * len(PROPERTIES) - 1, "a finished count grows by the new draws only"
    assert {c.trials for c in property_rates.counts(path).values()} == {4}


def test_a_draw_file_of_another_setup_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(property_rates, "train", lambda *a: pytest.fail("trained"))
    backend = framework.default_backend()
    (tmp_path / f"properties-{backend}.jsonl.partial").write_text(
        json.dumps({"setup": {"backend": backend, "properties": ["another"]}}) + "\n")
    assert cli.main(["calibrate", "--properties", "--draws", "2", "--out", str(tmp_path)]) == 2
    assert "left by another setup" in capsys.readouterr().err
