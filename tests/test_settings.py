"""Settings: every problem reported at once, naming the setting; unsafe combinations refused."""

import re
from pathlib import Path

import pytest

import settings as settings_module
from settings import Settings, SettingsError


def test_defaults_are_azure_with_managed_identity():
    s = Settings.from_env({})
    assert s.arm_endpoint == "https://management.azure.com" and s.credential == "managed-identity"
    assert s.propagation_timeout_s == 1800 and s.probe_interval_s == 20


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"ARM_ENDPOINT": "http://x", "ARM_CREDENTIAL": "magic",
                           "RESTORE_PROBE_INTERVAL_SECONDS": "soon",
                           "RESTORE_PROPAGATION_TIMEOUT_MINUTES": "0",
                           "BACKUP_VAULT_IDS": "/subscriptions/x/resourceGroups/y"})
    text = str(info.value)
    for name in ("ARM_ENDPOINT", "ARM_CREDENTIAL", "RESTORE_PROBE_INTERVAL_SECONDS",
                 "RESTORE_PROPAGATION_TIMEOUT_MINUTES", "BACKUP_VAULT_IDS"):
        assert name in text


def test_unsigned_dev_tokens_are_refused_for_a_real_endpoint():
    with pytest.raises(SettingsError, match="only allowed with a loopback"):
        Settings.from_env({"ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": "p"})
    ok = Settings.from_env({"ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": "p",
                            "ARM_ENDPOINT": "https://127.0.0.1:8443"})
    assert ok.credential == "dev-unsigned"


def test_settings_follow_the_environment_they_are_read_from(monkeypatch):
    monkeypatch.setenv("RESTORE_PROBE_INTERVAL_SECONDS", "5")
    assert settings_module.settings().probe_interval_s == 5
    monkeypatch.setenv("RESTORE_PROBE_INTERVAL_SECONDS", "7")
    assert settings_module.settings().probe_interval_s == 7


def test_every_setting_read_is_listed_in_env_names():
    source = Path(settings_module.__file__).read_text()
    read = set(re.findall(r'(?:env\.get|number)\("([A-Za-z_]+)"', source))
    assert read == set(settings_module.ENV_NAMES)


def test_recovery_settings_ledger_table_and_policy_path():
    with pytest.raises(SettingsError, match="RECOVERY_LEDGER_TABLE='bad-name'"):
        Settings.from_env({"RECOVERY_LEDGER_TABLE": "bad-name"})
    s = Settings.from_env({"RECOVERY_POLICIES_PATH": "config/policies.json",
                           "AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert s.recovery_policies_path == str(Path(settings_module.__file__).parent / "config" /
                                           "policies.json")  # relative to the app, not the cwd
    assert s.storage.connection_string == "UseDevelopmentStorage=true"
    assert s.ledger_table == "recoveryledger"
    assert Settings.from_env({"RECOVERY_POLICIES_PATH": "/etc/p.json"}).recovery_policies_path \
        == "/etc/p.json"


def test_drill_settings_container_name_and_plan_path():
    with pytest.raises(SettingsError, match="DRILL_REPORTS_CONTAINER='Reports_1'"):
        Settings.from_env({"DRILL_REPORTS_CONTAINER": "Reports_1"})
    with pytest.raises(SettingsError, match="DRILL_REPORTS_CONTAINER='a--b'"):
        Settings.from_env({"DRILL_REPORTS_CONTAINER": "a--b"})
    s = Settings.from_env({"DRILL_PLANS_PATH": "drills.json"})
    assert s.drill_plans_path == str(Path(settings_module.__file__).parent / "drills.json")
    assert s.drill_reports_container == "drill-reports"


def test_the_drill_restore_reserve_is_0_to_9_and_2_by_default():
    assert Settings.from_env({}).drill_restore_reserve == 2
    assert Settings.from_env({"DRILL_RESTORE_RESERVE": "0"}).drill_restore_reserve == 0
    assert Settings.from_env({"DRILL_RESTORE_RESERVE": " 9 "}).drill_restore_reserve == 9
    for bad in ("10", "-1", "two", "2.5", "٣"):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"DRILL_RESTORE_RESERVE": bad})
        assert f"DRILL_RESTORE_RESERVE={bad!r} must be a whole number from 0 to 9" in \
            str(refused.value)
    # named with every other problem at once
    with pytest.raises(SettingsError) as both:
        Settings.from_env({"DRILL_RESTORE_RESERVE": "x", "RECOVERY_LEDGER_TABLE": "bad-name"})
    assert "DRILL_RESTORE_RESERVE='x'" in str(both.value)
    assert "RECOVERY_LEDGER_TABLE='bad-name'" in str(both.value)


def test_sign_in_headers_are_trusted_only_when_the_platform_says_authentication_is_on():
    assert Settings.from_env({}).app_service_auth is False
    assert Settings.from_env({"WEBSITE_AUTH_ENABLED": "True"}).app_service_auth is True
    assert Settings.from_env({"WEBSITE_AUTH_ENABLED": "false"}).app_service_auth is False
    assert Settings.from_env({"WEBSITE_AUTH_ENABLED": "yes"}).app_service_auth is False


def test_storage_settings_are_checked_and_every_problem_named():
    """AzureWebJobsStorage as the host reads it: the production shape is accepted; shapes the
    host would read silently in a way nobody meant are refused, each problem naming its
    settings (tests/test_storage_resolution.py holds devhost to the same rules)."""
    production = {"AzureWebJobsStorage__accountName": "stdiskrestore",
                  "AzureWebJobsStorage__credential": "managedidentity",
                  "AzureWebJobsStorage__clientId": "5f1c7e2a-8b3d-4c9e-a1f0-6d2b8e4c7a90"}
    s = Settings.from_env(production).storage
    assert (s.account_name, s.credential, s.client_id, s.connection_string) == \
        ("stdiskrestore", "managedidentity", production["AzureWebJobsStorage__clientId"], None)
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"AzureWebJobsStorage__accountName": "stdiskrestore",
                           "AzureWebJobsStorage__credential": "azurecli",
                           "AzureWebJobsStorage__clientId": "my-identity",
                           "AzureWebJobsStorage__queueServiceUri":
                               "https://other.queue.core.windows.net"})
    text = str(info.value)
    assert "AzureWebJobsStorage__credential='azurecli' must be 'managedidentity'" in text
    assert "AzureWebJobsStorage__clientId is set but AzureWebJobsStorage__credential is not " \
           "'managedidentity': the host then ignores the client id" in text
    assert "AzureWebJobsStorage__clientId='my-identity' is not a client id (a GUID)" in text
    assert "AzureWebJobsStorage__queueServiceUri='https://other.queue.core.windows.net' names " \
           "account 'other' but AzureWebJobsStorage__accountName is 'stdiskrestore'" in text
    with pytest.raises(SettingsError, match="AzureWebJobsStorage is a connection string and "
                                            "AzureWebJobsStorage__accountName is set too"):
        Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                           "AzureWebJobsStorage__accountName": "stdiskrestore"})
