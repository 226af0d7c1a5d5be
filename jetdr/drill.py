"""The commands of a DR drill beyond install: inventory, DRVA log volumes, protection domains
and their VMs, peers, recovery settings, runbooks, scan and import, reports, statistics.
Everything is named as people name it (a DRVA, cluster or domain by its name); ids work too."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jetdr.errors import JetdrError

if TYPE_CHECKING:
    from jetdr.cli import Shell

Command = Callable[["Shell", argparse.Namespace], None]
Register = Callable[[str, Command, str], argparse.ArgumentParser]


def find(shell: Shell, path: str, wanted: str, what: str) -> dict[str, Any]:
    """The item of `path` whose name or id is `wanted`."""
    for item in shell.client.pages(path):
        if wanted in (item.get("name"), item.get("id")):
            return dict(item)
    raise JetdrError(404, "not_found", f"no {what} named {wanted}")


def call(shell: Shell, title: str, method: str, path: str, body: Any = None) -> Any:
    """A request whose answer is either a task (followed like every task) or the resource."""
    answer = shell.client.request(method, path, json=body)
    if isinstance(answer, dict) and str(answer.get("id", "")).startswith("task-"):
        return shell.follow(title, answer)
    shell.show(answer)
    return answer


def listing(path: str, columns: tuple[str, ...]) -> Command:
    def run(shell: Shell, args: argparse.Namespace) -> None:
        params = {"name": args.name} if getattr(args, "name", None) else {}
        shell.show(list(shell.client.pages(path, **params)), columns)

    return run


def log_volume_add(shell: Shell, args: argparse.Namespace) -> None:
    drva = find(shell, "/api/v1/drvas", args.drva, "DRVA")
    body: dict[str, Any] = {"type": args.type, "size_gb": args.size_gb}
    if args.datastore:
        body["datastore_id"] = find(shell, "/api/v1/datastores", args.datastore, "datastore")["id"]
    if args.iscsi_target:
        body |= {"iscsi_target": args.iscsi_target, "lun": args.lun}
    call(
        shell,
        f"add a {args.size_gb} GB log volume to {drva['name']}",
        "POST",
        f"/api/v1/drvas/{drva['id']}/replication-log-volumes",
        body,
    )


def _log_volume(shell: Shell, drva: dict[str, Any], given: str | None) -> str:
    volumes = list(shell.client.pages(f"/api/v1/drvas/{drva['id']}/replication-log-volumes"))
    for volume in volumes:
        if given in (None, volume["id"]):
            return str(volume["id"])
    raise JetdrError(404, "not_found", f"DRVA {drva['name']} has no log volume {given or ''}")


def domain_create(shell: Shell, args: argparse.Namespace) -> None:
    drva = find(shell, "/api/v1/drvas", args.drva, "DRVA")
    site = find(shell, "/api/v1/storage-sites", args.storage_site, "storage site")
    body: dict[str, Any] = {
        "name": args.name,
        "drva_id": drva["id"],
        "storage_site_id": site["id"],
        "replication_log_volume_id": _log_volume(shell, drva, args.log_volume),
        "rpo_target_seconds": args.rpo_seconds,
    }
    if args.pitr_days:
        body["pitr"] = {"enabled": True, "window_days": args.pitr_days}
    call(shell, f"create protection domain {args.name}", "POST", "/api/v1/protection-domains", body)


def domain(shell: Shell, wanted: str) -> dict[str, Any]:
    return find(shell, "/api/v1/protection-domains", wanted, "protection domain")


def domain_add_vms(shell: Shell, args: argparse.Namespace) -> None:
    target = domain(shell, args.domain)
    ids = [find(shell, "/api/v1/vms", vm, "VM")["id"] for vm in args.vms]
    call(
        shell,
        f"add {len(ids)} VMs to {target['name']}",
        "POST",
        f"/api/v1/protection-domains/{target['id']}/vms",
        {"vm_ids": ids},
    )


def domain_vms(shell: Shell, args: argparse.Namespace) -> None:
    target = domain(shell, args.domain)
    found = list(shell.client.pages(f"/api/v1/protection-domains/{target['id']}/vms"))
    shell.show(found, ("id", "name", "status", "protected_bytes"))


def domain_delete(shell: Shell, args: argparse.Namespace) -> None:
    target = domain(shell, args.domain)
    call(
        shell,
        f"delete protection domain {target['name']}",
        "DELETE",
        f"/api/v1/protection-domains/{target['id']}",
    )


def domain_read(part: str) -> Command:
    def run(shell: Shell, args: argparse.Namespace) -> None:
        target = domain(shell, args.domain)
        path = f"/api/v1/protection-domains/{target['id']}/{part}"
        answer = shell.client.get(path)
        if isinstance(answer, dict) and "items" in answer:
            shell.show(answer["items"], ("id", "taken_at", "consistent"))
        else:
            shell.show(answer)

    return run


def peer_add(shell: Shell, args: argparse.Namespace) -> None:
    body = {
        key: value
        for key, value in {
            "name": args.name,
            "url": args.peer_url,
            "username": args.peer_username,
            "password": args.peer_password,
            "certificate_sha256": args.certificate_sha256,
        }.items()
        if value is not None
    }
    call(shell, f"add peer {args.peer_url}", "POST", "/api/v1/sites", body)


def recovery_settings(shell: Shell, args: argparse.Namespace) -> None:
    if not args.cluster:
        shell.show(shell.client.get("/api/v1/recovery-settings"))
        return
    if not (args.datastore and args.network):
        raise JetdrError(422, "usage", "--cluster needs --datastore and --network")
    body = {
        "cluster_id": find(shell, "/api/v1/clusters", args.cluster, "cluster")["id"],
        "datastore_id": find(shell, "/api/v1/datastores", args.datastore, "datastore")["id"],
        "network_id": find(shell, "/api/v1/networks", args.network, "network")["id"],
    }
    if args.test_network:
        body["test_network_id"] = find(shell, "/api/v1/networks", args.test_network, "network")[
            "id"
        ]
    shell.show(shell.client.put("/api/v1/recovery-settings", body))


def runbook(shell: Shell, args: argparse.Namespace) -> None:
    target = domain(shell, args.domain)
    path = f"/api/v1/protection-domains/{target['id']}/runbook"
    if args.file is None:
        shell.show(shell.client.get(path))
        return
    try:
        body = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as error:
        raise JetdrError(
            422, "usage", f"cannot read a runbook from {args.file}: {error}"
        ) from error
    shell.show(shell.client.put(path, body))


def _scan(shell: Shell, site: dict[str, Any]) -> list[dict[str, Any]]:
    task = shell.task(
        f"scan {site['name']} for protection domains",
        "POST",
        f"/api/v1/storage-sites/{site['id']}/actions/scan-domains",
    )
    return list((task.result or {}).get("domains") or [])


def scan(shell: Shell, args: argparse.Namespace) -> None:
    site = find(shell, "/api/v1/storage-sites", args.storage_site, "storage site")
    shell.wait = True
    found = _scan(shell, site)
    shell.show(
        found, ("domain_id", "name", "owner_site_name", "last_recovery_point_at", "importable")
    )


def import_domain(shell: Shell, args: argparse.Namespace) -> None:
    """Scans the storage site, then imports the domain found there by its name or id."""
    site = find(shell, "/api/v1/storage-sites", args.storage_site, "storage site")
    waits, shell.wait = shell.wait, True
    found = _scan(shell, site)
    shell.wait = waits
    match = next((d for d in found if args.domain in (d["name"], d["domain_id"])), None)
    if match is None:
        raise JetdrError(
            404, "not_found", f"{site['name']} holds no protection domain {args.domain}"
        )
    if not match["importable"]:
        raise JetdrError(409, "not_importable", f"{args.domain} is owned by this site already")
    body: dict[str, Any] = {"storage_site_id": site["id"], "domain_id": match["domain_id"]}
    if args.drva:
        drva = find(shell, "/api/v1/drvas", args.drva, "DRVA")
        body |= {"drva_id": drva["id"], "replication_log_volume_id": _log_volume(shell, drva, None)}
    call(
        shell,
        f"import protection domain {match['name']}",
        "POST",
        f"/api/v1/protection-domains/{match['domain_id']}/actions/import",
        body,
    )


def drva_delete(shell: Shell, args: argparse.Namespace) -> None:
    drva = find(shell, "/api/v1/drvas", args.drva, "DRVA")
    call(shell, f"delete DRVA {drva['name']}", "DELETE", f"/api/v1/drvas/{drva['id']}")


def report(shell: Shell, args: argparse.Namespace) -> None:
    shell.show(shell.client.get(f"/api/v1/recovery-reports/{args.report_id}"))


def add_commands(command: Register) -> None:
    for name, path, columns in (
        ("sites", "/api/v1/sites", ("id", "name", "role", "url", "status")),
        ("hosts", "/api/v1/hosts", ("id", "name", "cluster_id", "iofilter_status")),
        ("datastores", "/api/v1/datastores", ("id", "name", "free_gb")),
        ("networks", "/api/v1/networks", ("id", "name")),
        ("vms", "/api/v1/vms", ("id", "name", "power_state", "cluster_id")),
        ("reports", "/api/v1/recovery-reports", ("id", "kind", "status", "rto_seconds")),
    ):
        sub = command(name, listing(path, columns), f"list {name}")
        sub.add_argument("--name", help="only these names")

    sub = command("log-volume-add", log_volume_add, "give a DRVA a replication log volume")
    sub.add_argument("drva", help="its name or id")
    sub.add_argument("--type", choices=("vmdk", "iscsi"), default="vmdk")
    sub.add_argument("--size-gb", type=int, default=50)
    sub.add_argument("--datastore", help="vmdk: where it lives")
    sub.add_argument("--iscsi-target")
    sub.add_argument("--lun", type=int)

    sub = command("domain-create", domain_create, "create a protection domain")
    sub.add_argument("name")
    sub.add_argument("--drva", required=True)
    sub.add_argument("--storage-site", required=True)
    sub.add_argument("--log-volume", help="a log volume id of the DRVA (default: its first)")
    sub.add_argument("--rpo-seconds", type=int, default=300)
    sub.add_argument("--pitr-days", type=int, help="keep points in time for this many days")
    sub = command("domain-add-vms", domain_add_vms, "add VMs (by name) to a protection domain")
    sub.add_argument("domain")
    sub.add_argument("vms", nargs="+", metavar="VM")
    for name, run, text in (
        ("domain-vms", domain_vms, "a domain's VMs"),
        ("domain-delete", domain_delete, "delete a protection domain"),
        ("recovery-points", domain_read("recovery-points"), "a domain's recovery points"),
        ("statistics", domain_read("statistics"), "a domain's replication statistics"),
    ):
        command(name, run, text).add_argument("domain", help="its name or id")

    sub = command("peer-add", peer_add, "pair with the other site's appliance")
    sub.add_argument("--peer-url", required=True, help="https://the-other-msa[:port]")
    sub.add_argument("--peer-username", default="root")
    sub.add_argument("--peer-password", required=True)
    sub.add_argument("--name")
    sub.add_argument("--certificate-sha256")

    sub = command("recovery-settings", recovery_settings, "where recovered VMs go (show or set)")
    for option in ("--cluster", "--datastore", "--network", "--test-network"):
        sub.add_argument(option)
    sub = command("runbook", runbook, "a domain's runbook (show, or set from a JSON file)")
    sub.add_argument("domain")
    sub.add_argument("--file", help="the runbook as JSON (see docs/api-extensions.md)")

    sub = command("scan", scan, "find the protection domains a storage site holds")
    sub.add_argument("storage_site", help="its name or id")
    sub = command("import", import_domain, "import a domain the storage site holds (by name)")
    sub.add_argument("domain", help="its name or id, as scan lists it")
    sub.add_argument("--storage-site", required=True)
    sub.add_argument("--drva", help="the DRVA that protects it here")
    sub = command("drva-delete", drva_delete, "remove a DRVA")
    sub.add_argument("drva", help="its name or id")
    sub = command("report", report, "one recovery report")
    sub.add_argument("report_id")
