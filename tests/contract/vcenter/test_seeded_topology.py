"""A big topology (the 10,000-VM benchmark's, say) seeds a simulated vCenter whose morefs and
addresses stay distinct and valid, and whose created VMs are numbered after the seeded ones."""

from __future__ import annotations

import ipaddress

from app.adapters.vcenter.simulated.state import seed_state
from app.adapters.vcenter.topology import Topology


def _topology(vms: int) -> Topology:
    return Topology.model_validate(
        {
            "site_name": "big",
            "vcenter": {
                "hostname": "vcsa-big.local",
                "username": "administrator@vsphere.local",
                "password": "VMware1!",
                "version": "7.0.3",
                "build": "19234570",
                "api_version": "7.0.3.0",
                "instance_uuid": "6a4f2c3e-3b1d-4d0e-9c1a-0a1b2c3d4e01",
            },
            "datacenters": [
                {
                    "name": "DC",
                    "clusters": [
                        {
                            "name": "C",
                            "hosts": [
                                {
                                    "name": "esx-01",
                                    "esxi_version": "7.0.3",
                                    "esxi_build": "19193900",
                                }
                            ],
                        }
                    ],
                    "datastores": [
                        {
                            "name": "ds",
                            "type": "vsan",
                            "capacity_gb": 1024,
                            "free_gb": 512,
                            "clusters": ["C"],
                        }
                    ],
                    "networks": [{"name": "net", "dhcp": True}],
                }
            ],
            "write_profiles": {"idle": {"write_iops": 0, "write_kb": 4}},
            "vms": [
                {
                    "name": f"vm-{i:05d}",
                    "host": "esx-01",
                    "power_state": "poweredOn",
                    "cpu": 1,
                    "memory_gb": 1,
                    "disks": [{"size_gb": 1, "profile": "idle"}],
                }
                for i in range(vms)
            ],
        }
    )


def test_ten_thousand_seeded_vms_keep_distinct_morefs_and_addresses() -> None:
    state = seed_state(_topology(10_000))
    morefs = [vm.moref for vm in state.vms]
    assert len(set(morefs)) == 10_000
    assert f"vm-{state.next_vm}" not in set(morefs)
    assert state.next_vm == 11_001
    addresses = [ipaddress.IPv4Address(vm.ip) for vm in state.vms if vm.ip]
    assert len(addresses) == 10_000 == len(set(addresses))
    assert state.vms[0].ip == "10.10.1.21"


def test_a_small_topology_numbers_created_vms_from_5001() -> None:
    assert seed_state(_topology(3)).next_vm == 5001
