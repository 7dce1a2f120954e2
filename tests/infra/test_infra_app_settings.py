"""App settings: every setting the code reads (settings.ENV_NAMES) is set by the Bicep, and
everything the Bicep sets is read by the code or the host; both allowlists say why."""

from __future__ import annotations

from pathlib import Path

from tools.infra import app_settings
from tools.infra.bicep import Project

import settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_infra_sets_exactly_what_the_code_and_host_read(infra: Project) -> None:
    assert app_settings.check(infra) == []
    names = set(app_settings.bicep_settings(infra).names)
    assert set(settings.ENV_NAMES) - set(app_settings.DEV_ONLY) <= names
    assert names <= set(settings.ENV_NAMES) | set(app_settings.HOST_SETTINGS)


def test_a_setting_the_code_reads_but_the_bicep_does_not_set_fails() -> None:
    findings = app_settings.check(Project.load(FIXTURES / "missing_setting"))
    assert sorted((f.where, f.message.split(" (")[0].split(",")[0]) for f in findings) == [
        ("ARM_CA_BUNDLE", "set by the Bicep but listed as dev-only"),
        ("AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval",
         "overrides host.json's Durable storage provider settings"),
        ("DRILL_PLANS_PATH", "the code reads this setting"),
        ("UNUSED_SETTING", "set by the Bicep but read by neither the code"),
    ]


def test_a_new_setting_in_the_code_fails_until_the_bicep_sets_it(infra: Project) -> None:
    findings = app_settings.check(infra, env_names=(*settings.ENV_NAMES, "NEW_SETTING"))
    assert [(f.where, f.check) for f in findings] == [("NEW_SETTING", "app-settings")]


def test_the_allowlists_give_reasons_and_stay_true() -> None:
    for name, reason in {**app_settings.DEV_ONLY, **app_settings.HOST_SETTINGS}.items():
        assert len(reason) > 20, name
    assert set(app_settings.DEV_ONLY) <= set(settings.ENV_NAMES)
    assert not set(app_settings.HOST_SETTINGS) & set(settings.ENV_NAMES)


def test_no_function_app_is_one_finding(seeded: Project) -> None:
    findings = app_settings.check(seeded)
    assert [f.message for f in findings] == [
        "no Function App (Microsoft.Web/sites) in the Bicep"]
