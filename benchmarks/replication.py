"""`python -m benchmarks.replication [--vms N]`: one virtual hour of continuous replication for
1,000 protected VMs (or N), driven through the API of an appliance process, wall time printed.

Set-up (not timed): a simulated vCenter of 1,000 VMs (one 2 GB disk each, 20 IOPS x 8 KB:
0.16 MB/s per VM, 164 MB/s in all), one DRVA, ten domains of 100 VMs on a local storage site,
each with its own 100 GB log volume; initial sync runs to completion first. The DRVA is given
20 Gbit/s per 1,000 VMs so the initial sync (2 GB a VM) finishes in minutes of virtual time;
in the timed hour it ships what the VMs write. Protection starts once the set-up is done (the
clock stands still from then on); after the initial sync, one untimed virtual hour lets every
domain compact once. Then the clock is advanced 240 times by 15 virtual seconds (the engine's
tick), each advance answering once every domain has been stepped.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks.run import PASSWORD, free_port, start_appliance

DOMAINS = 10
TICK = 15
HOUR = 3600


def topology(path: Path, vms: int) -> Path:
    hosts = [
        {"name": f"esx-{i:02d}", "esxi_version": "7.0.3", "esxi_build": "19193900"}
        for i in range(1, 5)
    ]
    document = {
        "site_name": "protected",
        "vcenter": {
            "hostname": "vcsa-bench.local",
            "username": "administrator@vsphere.local",
            "password": "VMware1!",
            "version": "7.0.3",
            "build": "19234570",
            "api_version": "7.0.3.0",
            "instance_uuid": "6a4f2c3e-3b1d-4d0e-9c1a-0a1b2c3d4eff",
        },
        "datacenters": [
            {
                "name": "DC",
                "clusters": [{"name": "Cluster-1", "hosts": hosts}],
                "datastores": [
                    {
                        "name": "vsanDatastore",
                        "type": "vsan",
                        "capacity_gb": 65536,
                        "free_gb": 60000,
                        "clusters": ["Cluster-1"],
                    }
                ],
                "networks": [{"name": "dhcp-segment", "dhcp": True}],
            }
        ],
        "write_profiles": {"bench": {"write_iops": 20, "write_kb": 8}},
        "vms": [
            {
                "name": f"vm-{i:04d}",
                "host": f"esx-{i % 4 + 1:02d}",
                "cpu": 2,
                "memory_gb": 4,
                "disks": [{"size_gb": 2, "profile": "bench"}],
            }
            for i in range(vms)
        ],
    }
    path.write_text(yaml.safe_dump(document))
    return path


class Api:
    def __init__(self, port: int, cafile: Path) -> None:
        self.client = httpx.Client(
            base_url=f"https://127.0.0.1:{port}",
            verify=str(cafile),
            auth=("root", PASSWORD),
            timeout=600,
        )

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.client.request(method, path, json=body, params=params or None)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def task(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        task = self.call(method, path, body)
        while task["status"] not in {"succeeded", "failed", "cancelled"}:
            time.sleep(0.05)
            task = self.call("GET", f"/api/v1/tasks/{task['id']}")
        if task["status"] != "succeeded":
            raise RuntimeError(f"task {task['type']} {task['status']}: {task['error']}")
        result: dict[str, Any] = task
        return result

    def advance(self, seconds: float) -> None:
        self.call("POST", "/_emulator/clock/advance", {"seconds": seconds})


def set_up(api: Api, store: Path, vms: int) -> list[str]:
    api.task(
        "POST",
        "/api/v1/vcenters",
        {
            "hostname": "vcsa-bench.local",
            "username": "administrator@vsphere.local",
            "password": "VMware1!",
        },
    )
    cluster = api.call("GET", "/api/v1/clusters")["items"][0]
    api.task("POST", f"/api/v1/clusters/{cluster['id']}/actions/configure")
    datastore = api.call("GET", "/api/v1/datastores")["items"][0]
    network = api.call("GET", "/api/v1/networks")["items"][0]
    api.task(
        "POST",
        "/api/v1/drvas",
        {
            "name": "drva-bench",
            "cluster_id": cluster["id"],
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )
    drva = api.call("GET", "/api/v1/drvas")["items"][0]
    site = api.call(
        "POST", "/api/v1/storage-sites", {"name": "local", "type": "local", "path": str(store)}
    )
    vm_ids: list[str] = []
    while len(vm_ids) < vms:  # pages hold at most 1,000
        page = api.call("GET", "/api/v1/vms", limit=1000, offset=len(vm_ids))["items"]
        if not page:
            break
        vm_ids.extend(vm["id"] for vm in page)
    assert len(vm_ids) == vms, len(vm_ids)
    domains = []
    per_domain = vms // DOMAINS
    for index in range(DOMAINS):
        volume = api.task(
            "POST",
            f"/api/v1/drvas/{drva['id']}/replication-log-volumes",
            {
                "type": "vmdk",
                "size_gb": 100,
                "datastore_id": datastore["id"],
            },
        )["result"]["volume_id"]
        domain = api.task(
            "POST",
            "/api/v1/protection-domains",
            {
                "name": f"pd-{index:02d}",
                "storage_site_id": site["id"],
                "drva_id": drva["id"],
                "replication_log_volume_id": volume,
            },
        )["entity"]["id"]
        members = vm_ids[index * per_domain : (index + 1) * per_domain]
        api.task("POST", f"/api/v1/protection-domains/{domain}/vms", {"vm_ids": members})
        domains.append(domain)
    # Simulated vCenter calls take virtual time: the clock stands still only from here on, and
    # protection starts once it does (a scaled clock would have the engine replay the first
    # domains' initial sync while the others are set up).
    api.call("PUT", "/_emulator/clock", {"mode": "manual"})
    for domain in domains:
        api.task("POST", f"/api/v1/protection-domains/{domain}/actions/start-protection")
    return domains


def protected(api: Api, domains: list[str]) -> int:
    return sum(
        vm["status"] == "protected"
        for domain in domains
        for vm in api.call("GET", f"/api/v1/protection-domains/{domain}/vms", limit=1000)["items"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db-url", help="a PostgreSQL URL; SQLite in a temporary directory if absent"
    )
    parser.add_argument("--py-spy", help="record a py-spy profile (raw) of the timed hour here")
    parser.add_argument("--vms", type=int, default=1000, help="protected VMs (a multiple of 10)")
    args = parser.parse_args()
    vms = args.vms
    results: dict[str, Any] = {
        "vms": vms,
        "domains": DOMAINS,
        "database": "postgresql" if args.db_url else "sqlite",
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        port = free_port()
        server, _ = start_appliance(
            root / "appliance",
            port,
            args.db_url,
            {
                "JETDR_TOPOLOGY": str(topology(root / "topology.yaml", vms)),
                "JETDR_CLOCK__MODE": "scaled",
                "JETDR_CLOCK__SCALE": "1000",
                # 20 Gbit/s per 1,000 VMs: the initial sync takes the same virtual time at
                # every scale, and the timed hour ships only what the VMs write.
                "JETDR_REPLICATION__DRVA_BANDWIDTH_MBPS": str(20 * vms),
            },
        )
        try:
            api = Api(port, root / "appliance" / "tls" / "cert.pem")
            started = time.perf_counter()
            domains = set_up(api, root / "store", vms)
            results["set_up_s"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            for _ in range(40):
                api.advance(60)
                if protected(api, domains) == vms:
                    break
            results["initial_sync_wall_s"] = round(time.perf_counter() - started, 1)
            results["protected_after_initial_sync"] = protected(api, domains)
            # One virtual hour of warm-up (not timed): the timed hour is then a steady one, with
            # the first compaction (which merges every VM's base image) behind it.
            started = time.perf_counter()
            api.advance(HOUR)
            results["warm_up_wall_s"] = round(time.perf_counter() - started, 1)
            profiler = None
            if args.py_spy:
                profiler = subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "-p",
                        str(server.process.pid),
                        "-f",
                        "raw",
                        "-o",
                        args.py_spy,
                        "--gil",
                        "-r",
                        "50",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            started, cpu = time.perf_counter(), server.cpu_s()
            for _ in range(HOUR // TICK):
                api.advance(TICK)
            wall = time.perf_counter() - started
            results["one_virtual_hour_appliance_cpu_s"] = round(server.cpu_s() - cpu, 1)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            results["one_virtual_hour_wall_s"] = round(wall, 1)
            results["virtual_to_wall"] = round(HOUR / wall, 1)
            stats = [api.call("GET", f"/api/v1/protection-domains/{d}/statistics") for d in domains]
            rpo = [
                api.call("GET", f"/api/v1/protection-domains/{d}")["rpo_seconds"] for d in domains
            ]
            results["incoming_mb_s_total"] = round(sum(s["incoming_mbps"] for s in stats), 1)
            results["max_rpo_s"] = max(rpo)
            results["segments_and_points_put"] = sum(s["puts"] for s in stats)
            results["states"] = sorted({s["replication_state"] for s in stats})
            results["bitmap_percent_max"] = max(s["bitmap_percent"] for s in stats)
            results["backpressure_percent_max"] = max(s["backpressure_percent"] for s in stats)
            results["put_latency_ms_mean"] = round(
                sum(s["put_latency_ms"] for s in stats) / len(stats), 2
            )
            results["rss_mb"] = round(server.rss_mb(), 1)
        finally:
            server.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
