"""`jetdr avs <cmdlet>`: the AVS run-command package `JSDR.Configuration`, each cmdlet run as a
named execution on the appliance (`PUT /api/v1/avs/script-executions/{name}`), its output
streams printed as they come, its exit status the command's.

The table below is the package as the appliance serves it (`GET /api/v1/avs/script-package`;
a test keeps the two equal), so `--help` works without an appliance."""

from __future__ import annotations

import argparse
import re
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jetdr.cli import Shell

ELEVATED_DEFAULT_USER = "root"
POLL_SECONDS = 0.3
# Name: type, with "?" for an optional one.
CREDENTIAL = {"Credential": "Credential", "MSIp": "String"}
DEPLOY = {
    "ProtectedCluster": "String",
    "Datastore": "String",
    "VMName": "String",
    "Cluster": "String",
    "Credential": "Credential",
    "HostName": "String",
    "Network": "String",
}
CMDLETS: dict[str, dict[str, str]] = {
    "Invoke-PreflightJetDRInstall": {
        "Network": "String",
        "Datastore": "String",
        "ProtectedCluster": "String",
        "Cluster": "String",
        "VMName": "String",
    },
    "Install-JetDRWithStaticIP": {
        **DEPLOY,
        "MSIp": "String",
        "Netmask": "String",
        "Gateway": "String",
        "Dns": "String",
        "RegisterWithIp": "Bool?",
    },
    "Install-JetDRWithDHCP": {**DEPLOY, "RegisterWithIp": "Bool?"},
    "Invoke-PreflightJetDRUninstall": {"ProtectedCluster": "String", **CREDENTIAL},
    "Uninstall-JetDR": {"ProtectedCluster": "String", **CREDENTIAL},
    "Enable-JetDRForCluster": {"ProtectedCluster": "String", **CREDENTIAL},
    "Disable-JetDRForCluster": {"ProtectedCluster": "String", **CREDENTIAL},
    "Enable-JetDRSshd": CREDENTIAL,
    "Disable-JetDRSshd": CREDENTIAL,
    "Update-JetDR": {**CREDENTIAL, "ProtectedCluster": "String?"},
    "Resolve-HostIssue": {**CREDENTIAL, "HostName": "String"},
    "Resolve-ClusterIssue": {**CREDENTIAL, "ProtectedCluster": "String"},
    "Repair-Cluster": {**CREDENTIAL, "ProtectedCluster": "String"},
    "Register-JetDRPlugin": {**CREDENTIAL, "RegisterWithIp": "Bool?"},
    "Unregister-JetDRPlugin": CREDENTIAL,
    "Restart-JetDRDaemon": {**CREDENTIAL, "DaemonName": "String?"},
    "Enable-JetStreamRESTUser": {**CREDENTIAL, "RESTUserName": "String?"},
    "Disable-JetStreamRESTUser": {**CREDENTIAL, "RESTUserName": "String?"},
    "Test-JetDRApplianceConnection": CREDENTIAL,
    "Start-MSA": CREDENTIAL,
    "Restart-MSA": CREDENTIAL,
    "Resize-JetDRMSAResources": {**CREDENTIAL, "CpuCount": "Int", "MemoryGB": "Int"},
}


ANY_CASE: dict[str, str] = {}


def kebab(name: str) -> str:
    """`ProtectedCluster` → `protected-cluster`, `MSIp` → `ms-ip`, `VMName` → `vm-name`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name)
    return spaced.lower()


def command_name(cmdlet: str) -> str:
    """`Install-JetDRWithDHCP` → `install-jetdr-with-dhcp`."""
    name = kebab(cmdlet).replace("jet-dr", "jetdr").replace("jet-stream", "jetstream")
    return name.replace("jetdrmsa", "jetdr-msa")


def cmdlet_names_any_case(argv: Sequence[str]) -> list[str]:
    """PowerShell takes a cmdlet's name in any case: so does `jetdr avs`."""
    words = list(argv)
    if "avs" in words:
        at = words.index("avs") + 1
        if at < len(words):
            words[at] = ANY_CASE.get(words[at].lower(), words[at])
    return words


def add_commands(commands: Any, run: Any) -> None:
    """Each cmdlet as `jetdr avs <kebab-name>`, its own name accepted too."""
    for cmdlet, parameters in CMDLETS.items():
        name = command_name(cmdlet)
        sub = commands.add_parser(name, aliases=[cmdlet], help=cmdlet)
        sub.set_defaults(run=run, cmdlet=cmdlet)
        ANY_CASE[cmdlet.lower()] = cmdlet
        execution_args(sub)
        for name, kind in parameters.items():
            required = not kind.endswith("?")
            kind = kind.rstrip("?")
            flags = [f"--{kebab(name)}", f"--{name}"]
            if kind == "Credential":
                sub.add_argument(
                    "--msa-username",
                    default=ELEVATED_DEFAULT_USER,
                    help="the MSA root user (Credential)",
                )
                sub.add_argument(
                    "--msa-password", help="its password (Credential; default: --password)"
                )
            elif kind == "Bool":
                sub.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction)
            elif kind == "Int":
                sub.add_argument(*flags, dest=name, type=int, required=required)
            else:
                sub.add_argument(*flags, dest=name, required=required)


def execution_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--execution-name", help="unique per run (default: generated)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds (default 1800)")
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="follow the execution to its end (default) or submit and return",
    )
    parser.add_argument("--vcenter-hostname", help="the private cloud's vCenter (hidden)")
    parser.add_argument("--vcenter-username")
    parser.add_argument("--vcenter-password")


def request_body(args: argparse.Namespace, connection_password: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    for name, kind in CMDLETS[args.cmdlet].items():
        kind = kind.rstrip("?")
        if kind == "Credential":
            parameters.append(
                {
                    "type": "Credential",
                    "name": name,
                    "username": args.msa_username,
                    "password": args.msa_password or connection_password,
                }
            )
            continue
        value = getattr(args, name)
        if value is not None:
            parameters.append({"type": "Value", "name": name, "value": value})
    hidden: list[dict[str, Any]] = []
    if args.vcenter_hostname:
        hidden = [
            {"type": "Value", "name": "VCenter", "value": args.vcenter_hostname},
            {
                "type": "Credential",
                "name": "VCenterCredential",
                "username": args.vcenter_username or "",
                "password": args.vcenter_password or "",
            },
        ]
    return {
        "script_cmdlet_id": args.cmdlet,
        "parameters": parameters,
        "hidden_parameters": hidden,
        "timeout_seconds": args.timeout,
    }


def execution_name(cmdlet: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{cmdlet.lower()}-{stamp}-{secrets.token_hex(2)}"


class ExecutionFailed(Exception):
    def __init__(self, execution: dict[str, Any]) -> None:
        super().__init__(execution.get("failure_reason") or execution["provisioning_state"])
        self.execution = execution


def run_cmdlet(shell: Shell, args: argparse.Namespace) -> None:
    name = args.execution_name or execution_name(args.cmdlet)
    body = request_body(args, shell.password)
    execution = shell.client.put(f"/api/v1/avs/script-executions/{name}", body)
    shell.say(f"[bold]{args.cmdlet}[/bold] as execution {name}")
    if args.wait:
        execution = follow(shell, name, args.timeout + 60)
    shell.outputs.append(execution)
    if execution.get("exit_code") not in (None, 0):
        raise ExecutionFailed(execution)


def follow(shell: Shell, name: str, limit_seconds: float) -> dict[str, Any]:
    """Prints each stream's new lines until the execution ends."""
    shown = {"information": 0, "warnings": 0, "errors": 0}
    deadline = time.monotonic() + limit_seconds
    while True:
        execution: dict[str, Any] = shell.client.get(f"/api/v1/avs/script-executions/{name}")
        for stream, count in shown.items():
            for line in execution[stream][count:]:
                if stream == "information":
                    shell.say(line)
                elif stream == "warnings":
                    shell.say(f"[yellow]WARNING:[/yellow] {line}")
                else:
                    shell.say(f"[red]ERROR:[/red] {line}")
            shown[stream] = len(execution[stream])
        if execution["exit_code"] is not None:
            state = execution["provisioning_state"]
            colour = "green" if state == "Succeeded" else "red"
            shell.say(f"[{colour}]{state}[/{colour}] (exit {execution['exit_code']})")
            return execution
        if time.monotonic() > deadline:
            return execution
        time.sleep(POLL_SECONDS)
