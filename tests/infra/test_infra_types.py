"""The offline Bicep type check (dev/tools/infra/types_check.py) against the compiler's own type
data (../shared/bicep-types, or BICEP_TYPES_DIR): it passes on infra/ having looked at every
declaration, fails by name on a type@version the data lacks, fires with its BCP code on each
seeded mistake in fixtures/bad_types/, and fails, naming the path, when the data is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tools.infra import __main__ as cli
from tools.infra import bicep_types, types_check
from tools.infra.bicep import Project

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_DECLARATION = re.compile(r"^\s*resource\s+\w+\s+'([^'@]+)@([^']+)'", re.MULTILINE)


@pytest.fixture(scope="module")
def report(infra: Project) -> types_check.TypeReport:
    return types_check.check(infra)


@pytest.fixture(scope="module")
def seeded() -> types_check.TypeReport:
    return types_check.check(Project.load(FIXTURES / "bad_types"))


def _declared_type_versions(root: Path) -> set[str]:
    """Every type@version the .bicep files declare, read with a regex (not with pycep)."""
    return {f"{t}@{v}".lower() for path in root.rglob("*.bicep")
            for t, v in _DECLARATION.findall(path.read_text(encoding="utf-8"))}


def test_infra_passes_the_type_check(report: types_check.TypeReport) -> None:
    assert report.findings == []
    assert report.data_found and report.data_dir == bicep_types.configured_dir()[0]


def test_the_pass_is_not_vacuous(infra: Project, report: types_check.TypeReport) -> None:
    declarations = list(infra.declarations())
    assert report.declarations == len(declarations) >= 40
    assert report.type_versions == _declared_type_versions(INFRA)
    # Every deployed body was walked, and values at depth were compared with the data.
    for decl in declarations:
        if not decl.existing:
            assert (decl.file.relpath, decl.symbol, "") in report.checked, decl.symbol
    for path in [("infra/app/storage.bicep", "storage", "properties.minimumTlsVersion"),
                 ("infra/app/storage.bicep", "storage", "properties.networkAcls.defaultAction"),
                 ("infra/app/function.bicep", "site", "properties.siteConfig.appSettings[1].value"),
                 ("infra/app/function.bicep", "authentication",
                  "properties.globalValidation.unauthenticatedClientAction"),
                 ("infra/app/function.bicep", "authentication", "name"),
                 ("infra/app/events.bicep", "diskDeletions",
                  "properties.filter.advancedFilters[0].operatorType"),
                 ("infra/app/alerts.bicep", "failedDrill",
                  "properties.criteria.allOf[0].dimensions[0].operator"),
                 ("infra/main.bicep", "targetOperatorRole",
                  "properties.permissions[0].actions[0]")]:
        assert path in report.checked, path
    assert all(why for *_, why in report.skipped)


def test_only_the_type_files_infra_needs_are_read(report: types_check.TypeReport) -> None:
    data = bicep_types.TypeData.open(report.data_dir)
    namespaces = {t.split("/")[0] for t in report.type_versions}
    assert report.files_loaded
    assert {p.parent.parent.name for p in report.files_loaded} <= namespaces
    assert len(report.files_loaded) < data.file_count


def test_a_type_version_the_data_lacks_fails_by_name(infra: Project, tmp_path: Path) -> None:
    """The data without its web provider folder: every Microsoft.Web declaration of infra/ is a
    BCP081 naming its type@version, and nothing passes silently."""
    source = bicep_types.configured_dir()[0] / "generated"
    (tmp_path / "generated").mkdir()
    for provider in source.iterdir():
        if provider.name != "web":
            (tmp_path / "generated" / provider.name).symlink_to(provider)
    report = types_check.check(infra, data_dir=tmp_path)
    web = sorted((d.file.relpath, d.symbol) for d in infra.declarations()
                 if d.type.startswith("Microsoft.Web/"))
    assert len(web) >= 4
    assert sorted((i.file, i.symbol) for i in report.issues) == web
    assert {i.code for i in report.issues} == {"BCP081"}
    for issue in report.issues:
        assert re.match(r"Microsoft\.Web/[A-Za-z/]+@2024-04-01 is not in the type data",
                        issue.message), issue.message
        assert "API versions held for Microsoft.Web: none" in issue.message


def test_missing_type_data_fails_naming_where_it_looked(infra: Project, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    report = types_check.check(infra, data_dir=nowhere)
    assert not report.data_found and report.issues == []
    [finding] = report.findings
    assert finding.path == str(nowhere) and f"{nowhere} does not exist" in finding.message
    empty = tmp_path / "empty"
    empty.mkdir()
    [finding] = types_check.check(infra, data_dir=empty).findings
    assert f"{empty / 'generated'} does not exist" in finding.message


def test_the_data_folder_is_beside_the_project_unless_the_variable_says(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(bicep_types.ENV_VAR, raising=False)
    assert bicep_types.configured_dir()[0] == (REPO.parent / "shared" / "bicep-types").resolve()
    monkeypatch.setenv(bicep_types.ENV_VAR, str(tmp_path / "elsewhere"))
    assert cli.main(["--root", str(INFRA), "--skip-checkov"]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'elsewhere'} does not exist" in out
    assert f"{bicep_types.ENV_VAR}={tmp_path / 'elsewhere'}" in out
    assert out.splitlines()[-1] == "1 finding"


def test_the_command_reports_the_type_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--root", str(INFRA), "--skip-checkov"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("bicep types:")]
    assert line.endswith(", 0 findings")
    assert re.search(r"\d+ values checked, \d+ expressions skipped", line)
    assert cli.main(["--root", str(FIXTURES / "bad_types"), "--skip-checkov"]) == 1
    out = capsys.readouterr().out
    assert "bad_types/main.bicep: unknownProperties (line 41): [types] BCP037: flavour: " in out


SEEDED = [
    ("account.bicep", "account", "BCP036", "properties.accessTier"),
    ("main.bicep", "badDiscriminator", "BCP036", "properties.destination.endpointType"),
    ("main.bicep", "caseMismatch", "BCP035", ""),
    ("main.bicep", "caseMismatch", "BCP089", "Location"),
    ("main.bicep", "conditional", "BCP037", "extra"),
    ("main.bicep", "discriminatorTypo", "BCP088", "properties.destination.endpointType"),
    ("main.bicep", "enumTypo", "BCP088", "properties.accessTier"),
    ("main.bicep", "enums", "BCP036", "properties.accessTier"),
    ("main.bicep", "enums", "BCP036", "properties.supportsHttpsTrafficOnly"),
    ("main.bicep", "existingUnknownVersion", "BCP081", ""),
    ("main.bicep", "existingWithProperties", "BCP173", "properties"),
    ("main.bicep", "fromAllowed", "BCP036", "properties.accessTier"),
    ("main.bicep", "fromDefault", "BCP036", "properties.accessTier"),
    ("main.bicep", "fromVariable", "BCP037", "properties.colour"),
    ("main.bicep", "inLoop", "BCP036", "properties.accessTier"),
    ("main.bicep", "interpolatedKey", "BCP040", "properties.'${keyName}'"),
    ("main.bicep", "missingRequired", "BCP035", ""),
    ("main.bicep", "missingRequired", "BCP035", "properties.networkAcls"),
    ("main.bicep", "nameDiscriminated", "BCP088", "name"),
    ("main.bicep", "nestedParent::blobs", "BCP037", "properties.deleteRetentionPolicy.colour"),
    ("main.bicep", "otherVariantsProperty", "BCP037",
     "properties.destination.properties.endpointUrl"),
    ("main.bicep", "readOnlySet", "BCP073", "properties.provisioningState"),
    ("main.bicep", "readOnlyType", "BCP245", ""),
    ("main.bicep", "unknownNamespace", "BCP081", ""),
    ("main.bicep", "unknownProperties", "BCP037", "flavour"),
    ("main.bicep", "unknownProperties", "BCP037", "properties.networkAcls.colour"),
    ("main.bicep", "unknownProperties", "BCP089", "properties.SupportsHttpsTrafficOnly"),
    ("main.bicep", "unknownVersion", "BCP081", ""),
]


def test_each_seeded_mistake_fires_with_its_code_and_nothing_else(
        seeded: types_check.TypeReport) -> None:
    got = sorted((i.file.removeprefix("bad_types/"), i.symbol, i.code, i.path)
                 for i in seeded.issues)
    assert got == sorted(SEEDED)
    assert {i.symbol for i in seeded.issues if i.symbol.startswith("accepted")} == set()
    assert all(f.message.startswith(f"{i.code}: ") for i, f in zip(seeded.issues,
                                                                    seeded.findings, strict=True))


def _messages(report: types_check.TypeReport, symbol: str) -> list[str]:
    return [i.message for i in report.issues if i.symbol == symbol]


def test_the_messages_say_what_and_where_from(seeded: types_check.TypeReport) -> None:
    assert _messages(seeded, "unknownVersion")[0].startswith(
        "Microsoft.Storage/storageAccounts@2099-01-01 is not in the type data")
    assert "API versions held for Microsoft.Storage: 2023-05-01" in \
        _messages(seeded, "unknownVersion")[0]
    assert _messages(seeded, "unknownNamespace")[0].startswith(
        "Microsoft.Nowhere/widgets@2024-01-01 is not in the type data")
    assert _messages(seeded, "enumTypo") == [(
        "'cool' is not one of 'Hot' | 'Cool' | 'Premium' | 'Cold' (a closed enum); did you mean "
        "'Cool'?")]
    assert "'Lukewarm' (parameter tierDefault's default) is not one of" in \
        _messages(seeded, "fromDefault")[0]
    assert "'Tepid' (parameter tierAllowed, @allowed)" in _messages(seeded, "fromAllowed")[0]
    assert "'Tepid' (parameter tier as bad_types/main.bicep sets it)" in \
        _messages(seeded, "account")[0]
    assert sorted(_messages(seeded, "missingRequired")) == [
        "Microsoft.Storage/storageAccounts is missing required property 'sku'",
        "NetworkRuleSet is missing required property 'defaultAction'"]
    assert "did you mean 'location'?" in _messages(seeded, "caseMismatch")[1]
    assert "did you mean 'AzureFunction'?" in _messages(seeded, "discriminatorTypo")[0]
    assert "did you mean 'authsettingsV2'?" in _messages(seeded, "nameDiscriminated")[0]
    assert _messages(seeded, "enums")[1] == "expects bool, not the string 'yes'"


def test_an_extensible_enum_accepts_any_string(seeded: types_check.TypeReport) -> None:
    """`'TLS1_0' | ... | string` takes 'TLS9_9' (checked, no finding), where the closed enum next
    to it in the same body fails."""
    for path in ("properties.minimumTlsVersion", "properties.publicNetworkAccess"):
        assert ("bad_types/main.bicep", "enums", path) in seeded.checked
        assert not [i for i in seeded.issues if i.path == path]
    assert {i.path for i in seeded.issues if i.symbol == "enums"} == {
        "properties.accessTier", "properties.supportsHttpsTrafficOnly"}


def test_a_string_that_also_names_a_symbol_needs_both_readings_to_fail(
        seeded: types_check.TypeReport) -> None:
    """`accessTier: 'Hot'` next to `var Hot = 'Lukewarm'`: pycep cannot tell them apart."""
    assert _messages(seeded, "acceptedIdentifierOrString") == []
    skipped = [why for _, symbol, path, why in seeded.skipped
               if symbol == "acceptedIdentifierOrString" and path == "properties.accessTier"]
    assert skipped == [("Hot: the symbol or the string 'Hot' (pycep cannot tell); as a string "
                        "it passes")]


def test_spelling_suggestions_follow_the_compiler() -> None:
    assert types_check.suggest("Location", ["location", "tags"]) == "location"
    assert types_check.suggest("cool", ["Hot", "Cool"]) == "Cool"
    assert types_check.suggest("AzureFunctions", ["AzureFunction", "EventHub"]) == "AzureFunction"
    assert types_check.suggest("Lukewarm", ["Hot", "Cool", "Premium", "Cold"]) is None
    assert types_check.suggest("flavour", ["extendedLocation", "identity", "tags"]) is None
