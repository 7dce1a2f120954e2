"""The VM size catalog, and Compute's Resource SKUs list (`GET .../Microsoft.Compute/skus`).

One catalog serves both: the capabilities the SKUs list shows are the ones Compute's checks in
vm_disks.py enforce (MaxDataDiskCount, PremiumIO, HyperVGenerations, UltraSSDAvailable,
ConfidentialComputingType), so a client that reads the list before acting sees exactly the
limits it will meet.

The values come from Microsoft's size pages (vCPUs, memory, max data disks, temp storage, Premium
Storage, VM generation, Ultra Disk support) as of 2026. Where a page was not at hand the value is
the stricter plausible one (never kinder than Azure); check them against
`az vm list-skus --location <region> --size <name> --output json` on a real subscription.

Shape, from the official example (skus/ListAvailableResourceSkusForARegion.json, 2021-07-01) and
observed answers: one entry per SKU and location; capabilities are name/value strings ("True",
"V1,V2", "8"); in a region with zones, Ultra Disk support is per zone, in
`locationInfo[].zoneDetails[]` (`{"Name": [zones], "capabilities": [UltraSSDAvailable]}`), and
a size without it has `zoneDetails: []`. Real answers carry more capabilities (ACUs,
LowPriorityCapable, AcceleratedNetworkingEnabled, ...); only the ones below are served. Disk
SKUs are served as one entry per disk SKU at its largest tier (the real list has one per tier:
P1 ... P80).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .arm import SUB, Ctx, Response, Route, page, router
from .errors import bad_request

ROUTES: list[Route] = []
route = router(ROUTES)

# The zones every simulated region has (westeurope has three). A VM or disk in another zone is
# refused by Compute's zone checks, not here.
REGION_ZONES = ("1", "2", "3")
# Resource SKUs pages are small on purpose: ARM's list is paged (nextLink), and a client that
# reads only the first page must miss sizes here rather than on a real subscription.
SKU_PAGE_SIZE = 5
OS_VHD_SIZE_MB = 1047552  # every current size: the largest OS VHD, 1023 GiB (a real capability)


@dataclass(frozen=True)
class VmSize:
    name: str
    family: str
    vcpus: int
    memory_gb: float
    max_data_disks: int
    premium_io: bool
    hyper_v_generations: tuple[str, ...]
    ultra_zones: tuple[str, ...]  # zones where UltraSSDAvailable is True; () = none
    temp_disk_mb: int  # MaxResourceVolumeMB; 0 for sizes without a temp disk
    confidential: str | None = None  # ConfidentialComputingType (SNP, TDX) of CVM sizes
    cpu_architecture: str = "x64"

    @property
    def short(self) -> str:
        return self.name.removeprefix("Standard_")

    def capabilities(self) -> list[dict[str, str]]:
        caps = [("MaxResourceVolumeMB", str(self.temp_disk_mb)),
                ("OSVhdSizeMB", str(OS_VHD_SIZE_MB)), ("vCPUs", str(self.vcpus)),
                ("HyperVGenerations", ",".join(self.hyper_v_generations)),
                ("MemoryGB", f"{self.memory_gb:g}"),
                ("MaxDataDiskCount", str(self.max_data_disks)),
                ("CpuArchitectureType", self.cpu_architecture),
                ("PremiumIO", str(self.premium_io)), ("vCPUsAvailable", str(self.vcpus))]
        if self.confidential:
            caps.append(("ConfidentialComputingType", self.confidential))
        return [{"name": n, "value": v} for n, v in caps]


_DSV5 = "standardDSv5Family"
_DSV3 = "standardDSv3Family"
_V1V2 = ("V1", "V2")
SIZES: dict[str, VmSize] = {s.name.lower(): s for s in (
    # The demo's family first (Premium, Gen1/Gen2, Ultra Disk in every zone, no temp disk).
    VmSize("Standard_D2s_v5", _DSV5, 2, 8, 4, True, _V1V2, REGION_ZONES, 0),
    VmSize("Standard_D4s_v5", _DSV5, 4, 16, 8, True, _V1V2, REGION_ZONES, 0),
    VmSize("Standard_D8s_v5", _DSV5, 8, 32, 16, True, _V1V2, REGION_ZONES, 0),
    VmSize("Standard_D16s_v5", _DSV5, 16, 64, 32, True, _V1V2, REGION_ZONES, 0),
    VmSize("Standard_D2s_v3", _DSV3, 2, 8, 4, True, _V1V2, REGION_ZONES, 16384),
    VmSize("Standard_D4s_v3", _DSV3, 4, 16, 8, True, _V1V2, REGION_ZONES, 32768),
    VmSize("Standard_DS3_v2", "standardDSv2Family", 4, 14, 16, True, _V1V2, (), 28672),
    VmSize("Standard_B2s", "standardBSFamily", 2, 4, 4, True, _V1V2, (), 8192),
    # No Premium Storage (Dv3: Gen1 and Gen2; Av2: Gen1 only).
    VmSize("Standard_D2_v3", "standardDv3Family", 2, 8, 4, False, _V1V2, (), 51200),
    VmSize("Standard_A2_v2", "standardAv2Family", 2, 4, 4, False, ("V1",), (), 20480),
    # Gen2 only: an AMD SEV-SNP confidential size (Confidential VMs need one).
    VmSize("Standard_DC2as_v5", "standardDCASv5Family", 2, 8, 4, True, ("V2",), (), 0,
           confidential="SNP"),
)}

# Disk SKUs: (name, tier, size of the largest tier, MinSizeGiB, MaxSizeGiB, zonal).
_DISK_SKUS = (("Premium_LRS", "Premium", "P80", 16384, 32767, True),
              ("Premium_ZRS", "Premium", "P80", 16384, 32767, False),
              ("PremiumV2_LRS", "Premium", "PremiumV2", 1, 65536, True),
              ("StandardSSD_LRS", "Standard", "E80", 16384, 32767, True),
              ("StandardSSD_ZRS", "Standard", "E80", 16384, 32767, False),
              ("Standard_LRS", "Standard", "S80", 16384, 32767, True),
              ("UltraSSD_LRS", "Ultra", "Ultra", 4, 65536, True))


def find(name: Any) -> VmSize | None:
    """The catalog entry of a VM size (case-insensitive, as Compute treats vmSize), or None."""
    return SIZES.get(name.lower()) if isinstance(name, str) else None


def max_data_disks(name: str) -> int:
    size = find(name)
    return size.max_data_disks if size else 0


def sku_entries(location: str) -> list[dict[str, Any]]:
    """Every SKU of the catalog in `location`, as the Resource SKUs list renders them."""
    entries: list[dict[str, Any]] = []
    for size in SIZES.values():
        # `Name`, capitalised: the wire name azure-mgmt-compute 39.0.0 (generated from the API
        # spec) reads in ResourceSkuZoneDetails, though the official example writes "name".
        details = [{"Name": list(size.ultra_zones),
                    "capabilities": [{"name": "UltraSSDAvailable", "value": "True"}]}
                   ] if size.ultra_zones else []
        entries.append({
            "resourceType": "virtualMachines", "name": size.name, "tier": "Standard",
            "size": size.short, "family": size.family, "locations": [location],
            "locationInfo": [{"location": location, "zones": list(REGION_ZONES),
                              "zoneDetails": details}],
            "capabilities": size.capabilities(), "restrictions": []})
    for name, tier, tier_size, low, high, zonal in _DISK_SKUS:
        entries.append({
            "resourceType": "disks", "name": name, "tier": tier, "size": tier_size,
            "locations": [location],
            "locationInfo": [{"location": location,
                              "zones": list(REGION_ZONES) if zonal else [], "zoneDetails": []}],
            "capabilities": [{"name": "MaxSizeGiB", "value": str(high)},
                             {"name": "MinSizeGiB", "value": str(low)}],
            "restrictions": []})
    return entries


# "Only location filter is supported currently" (the operation's documentation).
_LOCATION_FILTER = re.compile(r"\s*location\s+eq\s+'([^']*)'\s*", re.IGNORECASE)


def _norm(location: str) -> str:
    return location.replace(" ", "").lower()


@route("GET", f"{SUB}/providers/Microsoft\\.Compute/skus", "Microsoft.Compute/skus/read", "skus")
def list_skus(ctx: Ctx) -> Response:
    wanted = ctx.query.get("$filter")
    if wanted is not None:
        match = _LOCATION_FILTER.fullmatch(wanted)
        if match is None:
            # Code and text are the simulator's: no refusal of another filter is on record.
            raise bad_request("BadRequest", f"The $filter '{wanted}' is not supported; only "
                              "\"location eq '<region>'\" is.")
        if _norm(match.group(1)) != _norm(ctx.state.location):
            return page(ctx, [], SKU_PAGE_SIZE)
    return page(ctx, sku_entries(ctx.state.location), SKU_PAGE_SIZE)
