"""The demo's generated configuration and its command line (scripts/demo_bootstrap.py)."""

from __future__ import annotations

from pathlib import Path
import re

from homeassistant.util.yaml import load_yaml
import pytest

from scripts.demo_bootstrap import DEMO_CONFIGURATION, ROOT, main, prepare_config_dir


def test_new_config_dir_gets_the_demo_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--config NEWDIR` runs the demo's configuration, so `--port` and the URLs apply there."""
    config_dir = tmp_path / "new"
    prepare_config_dir(config_dir)
    assert (config_dir / "configuration.yaml").read_text() == DEMO_CONFIGURATION.read_text()
    monkeypatch.setenv("ENPHASE_DEMO_PORT", "18555")
    monkeypatch.setenv("ENPHASE_DEMO_URL", "http://127.0.0.1:18555")
    config = load_yaml(config_dir / "configuration.yaml")
    assert isinstance(config, dict)
    # A string here; the http schema (cv.port) makes it a number.
    assert str(config["http"]["server_port"]) == "18555"
    assert config["homeassistant"]["internal_url"] == "http://127.0.0.1:18555"


def test_saved_automations_run_and_the_readme_example_has_a_target(tmp_path: Path) -> None:
    """automation: includes the file the UI saves to, and notify provides the README's target."""
    config_dir = tmp_path / "config"
    prepare_config_dir(config_dir)
    assert (config_dir / "automations.yaml").read_text() == "[]\n"
    config = load_yaml(config_dir / "configuration.yaml")
    assert isinstance(config, dict)
    # The include resolved: an empty list of automations, ready for the UI to add to.
    assert config["automation"] == []
    assert "notify" in config
    readme = (ROOT / "README.md").read_text()
    actions = re.findall(r"- action: (notify\.\w+)", readme)
    # Every example notifies through notify.persistent_notification, the notify
    # integration's own offline target.
    assert actions
    assert set(actions) == {"notify.persistent_notification"}


def test_kept_automations_survive_prepare(tmp_path: Path) -> None:
    """A kept config directory (--keep) keeps the automations saved in it."""
    config_dir = tmp_path / "config"
    prepare_config_dir(config_dir)
    (config_dir / "automations.yaml").write_text("- id: '1'\n  alias: Kept\n")
    prepare_config_dir(config_dir)
    assert "Kept" in (config_dir / "automations.yaml").read_text()


def test_help_and_readme_agree_on_the_watt_interval(capsys: pytest.CaptureFixture[str]) -> None:
    """`scripts/develop --help` and the README give Watt the same update interval."""
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "watt, the free plan, about every half hour in daylight" in help_text
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "on Watt about every half hour in daylight" in readme
