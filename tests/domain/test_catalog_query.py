"""The catalog's query and recovery-point rules as plain functions (domain/catalog): the skip
token round trip, the filters' fingerprint, and the tier a data store is shown as. The routes'
behaviour is in tests/fast/test_catalog.py."""

from __future__ import annotations

import pytest

from domain.catalog.points import tier_of
from domain.catalog.query import CatalogQuery, InvalidCatalogQuery, parse_query

SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"


def test_a_skip_token_carries_the_last_key_back_with_the_same_filters():
    query = parse_query([("resourceGroup", "RG-App"), ("tag", "a=b"), ("tag", "c="),
                         ("top", "7")])
    assert (query.resource_group, query.tags, query.top) == ("rg-app", (("a", "b"), ("c", "")),
                                                            7)
    last = (SUB, "rg-app", "disk-9", "/vault")
    token = query.skip_token(last)
    again = parse_query([*query.query_string_pairs(token)[:-1], ("skipToken", token)])
    assert again.after == last and again.top == 7


def test_the_fingerprint_changes_with_any_filter_but_not_with_top_or_tag_order():
    base = CatalogQuery("rg-app", None, (("a", "b"), ("c", "d")))
    assert base.fingerprint() == CatalogQuery("rg-app", None, (("c", "d"), ("a", "b")),
                                              top=9).fingerprint()
    others = [CatalogQuery("rg-db", None, base.tags), CatalogQuery("rg-app", "vm", base.tags),
              CatalogQuery("rg-app", None, (("a", "b"),))]
    assert all(o.fingerprint() != base.fingerprint() for o in others)


def test_an_id_filter_is_lower_cased_and_a_resource_group_id_keeps_its_shape():
    query = parse_query([("resourceGroup", f"/subscriptions/{SUB}/resourceGroups/RG-App/"),
                         ("vm", f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                                "Microsoft.Compute/virtualMachines/VM1")])
    assert query.resource_group == f"/subscriptions/{SUB}/resourcegroups/rg-app"
    assert query.vm == f"/subscriptions/{SUB}/resourcegroups/rg/providers/" \
                       "microsoft.compute/virtualmachines/vm1"


def test_errors_name_each_parameter_and_the_function_key_is_not_one():
    assert parse_query([("code", "key")]) == CatalogQuery()
    with pytest.raises(InvalidCatalogQuery) as bad:
        parse_query([("top", "0"), ("vm", "a b"), ("x", "1")])
    assert [e.field for e in bad.value.errors] == ["x", "vm", "top"]
    assert bad.value.message.startswith("unknown query parameter 'x'")


@pytest.mark.parametrize(("store", "tier"), [
    ("OperationalStore", "operational"), ("Snapshot", "operational"), ("VaultStore", "vault"),
    ("BackupStorage", "vault"), ("ArchiveStore", "archive"), (None, "unknown"),
    ("SomethingNew", "somethingNew")])
def test_the_tier_comes_from_the_data_store(store, tier):
    assert tier_of(store) == tier
