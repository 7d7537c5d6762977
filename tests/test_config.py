"""Settings: file, environment overrides, and one clear error per bad key."""

import re
import tomllib
from pathlib import Path

import pytest

from reliability.config import ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RELIABILITY_CONFIG", raising=False)


def test_without_a_file_the_defaults_apply() -> None:
    settings = load_settings()
    assert settings.database.url == "sqlite:///reliability.db"
    assert settings.policy.notice_lead_business_days == 2
    assert settings.digest.time == "08:30"


def test_the_example_file_loads_and_documents_every_key() -> None:
    load_settings(EXAMPLE)
    text = EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*(\w+) =|^#?\s*(\w+):", text, flags=re.M))
    names = {a or b for a, b in documented}
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text
        for key in field.annotation.model_fields:  # type: ignore[union-attr]
            assert key in names, f"[{section}] {key} is not in config.example.toml"
    assert tomllib.loads(text)["policy"]["notice_lead_business_days"] == 2


def test_the_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    (tmp_path / "reliability.toml").write_text('[smtp]\nhost = "mail.example"\nport = 587\n')
    monkeypatch.setenv("RELIABILITY_SMTP__PORT", "2525")
    monkeypatch.setenv("RELIABILITY_SMTP__PASSWORD", "s3cret")
    settings = load_settings()
    assert (settings.smtp.host, settings.smtp.port) == ("mail.example", 2525)
    assert settings.smtp.password is not None
    assert "s3cret" not in repr(settings)


def test_the_config_file_is_found_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[calendar]\ndefault_timezone = "Europe/Stockholm"\n')
    monkeypatch.setenv("RELIABILITY_CONFIG", str(path))
    assert load_settings().calendar.default_timezone == "Europe/Stockholm"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[smtp]\nhots = "x"\n', "[smtp] hots (or $RELIABILITY_SMTP__HOTS): unknown key"),
        ("[policy]\nnotice_lead_business_days = -1\n", "[policy] notice_lead_business_days"),
        ('[calendar]\ndefault_timezone = "Mars/Olympus"\n', "unknown timezone 'Mars/Olympus'"),
        ('[calendar]\nend_of_day = "5pm"\n', "write it as HH:MM"),
        ('[digest]\nquiet_day = "maybe"\n', "[digest] quiet_day"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[smtp\nhost=", "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_error_naming_the_file_and_key(tmp_path: Path, content: str,
                                                         message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_a_folder_or_a_file_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*: Is a directory"):
        load_settings(tmp_path)
    latin1 = tmp_path / "reliability.toml"
    latin1.write_bytes('[smtp]\nfrom_name = "Byrån"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_settings(latin1)


def test_a_client_calendar_takes_the_team_opening_hours(tmp_path: Path) -> None:
    path = tmp_path / "hours.toml"
    path.write_text('[calendar]\nend_of_day = "18:00"\ndefault_country = "se"\n')
    calendar = load_settings(path).calendar.calendar("Europe/Stockholm")
    assert calendar.end_of_day.hour == 18 and calendar.country == "SE"
