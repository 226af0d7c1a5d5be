"""`jetdr`: the appliance from a shell, on the Python client.

`jetdr avs <cmdlet>` runs every cmdlet of the AVS run-command package as a named execution on
the appliance (see `jetdr.avs`); the other commands cover a whole DR drill (`jetdr.drill`) and
day 2. `preflight-install`, `install`, `enable-cluster`, `disable-cluster`,
`preflight-uninstall` and `uninstall` are the same flows for an MSA deployed by hand: they
deploy no VM. Tasks show a progress bar while they run (`--no-wait` returns once one is
started); `--json` prints what the appliance answered instead; `jetdr completion bash` prints
a completion script. Connection settings come from flags or `JETDR_URL`, `JETDR_USERNAME`,
`JETDR_PASSWORD`, `JETDR_CA_FILE`, `JETDR_INSECURE=1`.

A failure is one line on stderr, never a traceback, and the exit status says which kind:
1 a preflight or a run-command execution failed, 2 usage, 3 the appliance cannot be reached
(connection or TLS), 4 the credentials were refused, 5 the appliance answered an error, 6 a task
failed.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jetdr import avs, drill
from jetdr.client import Client
from jetdr.errors import JetdrError, TaskFailedError, TaskTimeout
from jetdr.models import Model, PreflightResult, Task

EXIT_PREFLIGHT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_API_ERROR = 5
EXIT_TASK_FAILED = 6

ELEVATED_USER = "VSPHERE.LOCAL\\jetdr-svc"
REST_USER = "VSPHERE.LOCAL\\iofrest"
# The recovery actions that take a recovery point.
POINT_ACTIONS = frozenset({"failover", "restore", "test-failover", "complete-failover"})


class PreflightFailed(Exception):
    def __init__(self, result: PreflightResult) -> None:
        super().__init__("preflight failed")
        self.result = result


class Shell:
    """What a command needs: the client, the output mode, and how to show a task."""

    def __init__(
        self,
        client: Client,
        as_json: bool,
        console: Console,
        *,
        password: str = "",
        wait: bool = True,
    ) -> None:
        self.client = client
        self.as_json = as_json
        self.console = console
        self.password = password
        self.wait = wait
        self.outputs: list[Any] = []

    def task(self, title: str, method: str, path: str, body: Any = None) -> Task:
        return self.follow(title, self.client.request(method, path, json=body))

    def follow(self, title: str, answer: Any) -> Task:
        """A task the appliance started: followed with a progress bar to its end (or left
        running with `--no-wait`)."""
        started = Task.model_validate(answer)
        if not self.wait:
            self.outputs.append(started.model_dump(mode="json"))
            self.say(f"{title}: task {started.id} {started.status} (jetdr wait {started.id})")
            return started
        if self.as_json:
            done = self.client.wait(started)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=self.console,
            ) as bar:
                row = bar.add_task(title, total=100)

                def show(task: Task) -> None:
                    step = task.current_step
                    label = f"{title} [dim]({step})[/dim]" if step else title
                    bar.update(row, completed=task.progress, description=label)

                done = self.client.wait(started, on_progress=show)
                bar.update(row, completed=100)
        self.outputs.append(done.model_dump(mode="json"))
        if not self.as_json:
            self.console.print(f"[green]✓[/green] {title}: {done.status}")
        return done

    def say(self, message: str) -> None:
        if not self.as_json:
            self.console.print(message)

    def show(self, value: Any, columns: Sequence[str] = ()) -> None:
        plain = _plain(value)
        self.outputs.append(plain)
        if self.as_json:
            return
        if isinstance(plain, list) and columns:
            table = Table(*columns)
            for item in plain:
                table.add_row(*(str(item.get(c, "")) for c in columns))
            self.console.print(table)
        else:
            self.console.print_json(json.dumps(plain, default=str))

    def checks(self, result: PreflightResult) -> None:
        self.outputs.append(result.model_dump(mode="json"))
        if self.as_json:
            return
        table = Table("check", "status", "message")
        for check in result.checks:
            colour = {"passed": "green", "failed": "red"}.get(check.status, "yellow")
            table.add_row(check.name, f"[{colour}]{check.status}[/{colour}]", check.message)
        self.console.print(table)


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# -- the AVS run-command flows -------------------------------------------------------------


def _vcenter_body(args: argparse.Namespace) -> dict[str, Any] | None:
    if not args.vcenter_hostname:
        return None
    return {
        "hostname": args.vcenter_hostname,
        "username": args.vcenter_username,
        "password": args.vcenter_password,
    }


def _preflight(shell: Shell, path: str, body: dict[str, Any]) -> PreflightResult:
    result = PreflightResult.model_validate(shell.client.post(path, body))
    shell.checks(result)
    if not result.passed:
        raise PreflightFailed(result)
    return result


def _install_preflight(shell: Shell, args: argparse.Namespace) -> PreflightResult:
    body: dict[str, Any] = {
        "cluster": args.cluster,
        "protected_cluster": args.protected_cluster,
        "vm_name": args.vm_name,
        "datastore": args.datastore,
        "network": args.network,
    }
    vcenter = _vcenter_body(args)
    if vcenter is not None:
        body["vcenter"] = vcenter
    return _preflight(shell, "/api/v1/preflight/install", body)


def preflight_install(shell: Shell, args: argparse.Namespace) -> None:
    _install_preflight(shell, args)


def _registered_vcenter(shell: Shell) -> dict[str, Any] | None:
    found = shell.client.get("/api/v1/vcenters")["items"]
    return found[0] if found else None


def _cluster(shell: Shell, name: str) -> dict[str, Any]:
    for cluster in shell.client.pages("/api/v1/clusters", name=name):
        if cluster["name"] == name:
            return dict(cluster)
    raise JetdrError(404, "not_found", f"no cluster named {name} in the registered vCenter")


def install(shell: Shell, args: argparse.Namespace) -> None:
    """Preflight, register vCenter, configure the protected cluster, create the elevated user
    and the REST user — stopping at the first failure."""
    _install_preflight(shell, args)
    vcenter = _registered_vcenter(shell)
    if vcenter is None:
        shell.task("register vCenter", "POST", "/api/v1/vcenters", _vcenter_body(args))
        vcenter = _registered_vcenter(shell)
    else:
        shell.say(f"vCenter {vcenter['hostname']} is already registered")
    assert vcenter is not None
    cluster = _cluster(shell, args.protected_cluster)
    if cluster["status"] != "configured":
        shell.task(
            f"configure cluster {cluster['name']}",
            "POST",
            f"/api/v1/clusters/{cluster['id']}/actions/configure",
        )
    shell.task(
        "create the elevated user and the REST user",
        "POST",
        f"/api/v1/vcenters/{vcenter['id']}/actions/create-service-accounts",
        {"elevated_user": args.elevated_user, "rest_user": args.rest_user},
    )


def enable_cluster(shell: Shell, args: argparse.Namespace) -> None:
    _preflight(
        shell, "/api/v1/preflight/enable-cluster", {"protected_cluster": args.protected_cluster}
    )
    cluster = _cluster(shell, args.protected_cluster)
    shell.task(
        f"configure cluster {cluster['name']}",
        "POST",
        f"/api/v1/clusters/{cluster['id']}/actions/configure",
    )


def disable_cluster(shell: Shell, args: argparse.Namespace) -> None:
    cluster = _cluster(shell, args.protected_cluster)
    shell.task(
        f"unconfigure cluster {cluster['name']}",
        "POST",
        f"/api/v1/clusters/{cluster['id']}/actions/unconfigure",
        {"allow_maintenance_mode": True},
    )


def preflight_uninstall(shell: Shell, args: argparse.Namespace) -> None:
    _preflight(shell, "/api/v1/preflight/uninstall", {"protected_cluster": args.protected_cluster})


def uninstall(shell: Shell, args: argparse.Namespace) -> None:
    """Preflight, unconfigure the cluster (removes the IO filter), remove the users, unregister
    vCenter (which removes the plugin extension)."""
    preflight_uninstall(shell, args)
    vcenter = _registered_vcenter(shell)
    assert vcenter is not None
    disable_cluster(shell, args)
    shell.task(
        "remove the elevated user and the REST user",
        "POST",
        f"/api/v1/vcenters/{vcenter['id']}/actions/remove-service-accounts",
        {"elevated_user": args.elevated_user, "rest_user": args.rest_user},
    )
    shell.task("unregister vCenter", "DELETE", f"/api/v1/vcenters/{vcenter['id']}")


# -- day 2 -----------------------------------------------------------------------------------


def status(shell: Shell, _args: argparse.Namespace) -> None:
    shell.show(shell.client.get("/api/v1/status"))


def listing(kind: str, columns: Sequence[str]) -> Callable[[Shell, argparse.Namespace], None]:
    def run(shell: Shell, _args: argparse.Namespace) -> None:
        shell.show(shell.client.items(kind), columns)

    return run


def alarms(shell: Shell, args: argparse.Namespace) -> None:
    params: dict[str, Any] = {"active": "true"} if args.active else {}
    found = list(shell.client.pages("/api/v1/alarms", **params))
    if not shell.as_json:
        found = [{**alarm, "entity": _entity(alarm.get("entity"))} for alarm in found]
    shell.show(found, ("type", "severity", "entity", "raised_at", "message"))


def _entity(entity: dict[str, Any] | None) -> str:
    if not entity:
        return "—"
    return f"{entity.get('type', '')} {entity.get('name') or entity.get('id', '')}".strip()


def pitr(shell: Shell, args: argparse.Namespace) -> None:
    domain = _domain(shell, args.domain)
    shell.show(shell.client.get(f"/api/v1/protection-domains/{domain['id']}/pitr"))


def subscription(shell: Shell, args: argparse.Namespace) -> None:
    if args.set is not None or args.remove:
        shell.show(shell.client.put("/api/v1/subscription", {"subscription_id": args.set}))
    else:
        shell.show(shell.client.get("/api/v1/subscription"))


def task_wait(shell: Shell, args: argparse.Namespace) -> None:
    task = shell.client.task(args.task_id)
    shell.task(f"task {task.type}", "GET", f"/api/v1/tasks/{task.id}")


def storage_site_add(shell: Shell, args: argparse.Namespace) -> None:
    body = {
        key: value
        for key, value in {
            "name": args.name,
            "type": args.type,
            "endpoint": args.endpoint,
            "account_name": args.account_name,
            "access_key": args.access_key,
            "region": args.region,
            "path": args.path,
        }.items()
        if value is not None
    }
    shell.show(shell.client.post("/api/v1/storage-sites", body))


def drva_deploy(shell: Shell, args: argparse.Namespace) -> None:
    cluster = _cluster(shell, args.cluster)
    datastore = _find_named(shell.client, "/api/v1/datastores", args.datastore)
    network = _find_named(shell.client, "/api/v1/networks", args.network)
    shell.task(
        f"deploy DRVA {args.name}",
        "POST",
        "/api/v1/drvas",
        {
            "name": args.name,
            "cluster_id": cluster["id"],
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )


def _domain(shell: Shell, name: str) -> dict[str, Any]:
    for domain in shell.client.pages("/api/v1/protection-domains"):
        if name in (domain["name"], domain["id"]):
            return dict(domain)
    raise JetdrError(404, "not_found", f"no protection domain {name}")


def domain_action(action: str, title: str) -> Callable[[Shell, argparse.Namespace], None]:
    def run(shell: Shell, args: argparse.Namespace) -> None:
        domain = _domain(shell, args.domain)
        body: dict[str, Any] = {}
        if action in POINT_ACTIONS:
            if args.recovery_point:
                body["recovery_point_id"] = args.recovery_point
            if args.point_in_time:
                body["point_in_time"] = args.point_in_time
        if action == "failover":
            body |= {"type": args.type, "continuous": args.continuous}
        elif action == "failback":
            body = {"continuous": args.continuous, "max_delay_minutes": args.max_delay}
        elif action == "restore":
            body["force"] = args.force
        elif action == "stop-test-failover":
            body = {"success": args.success, "summary": args.summary or ""}
        shell.task(
            f"{title} {domain['name']}",
            "POST",
            f"/api/v1/protection-domains/{domain['id']}/actions/{action}",
            body or None,
        )
        if action == "start-protection" and args.until_protected and shell.wait:
            until_protected(shell, domain, args.timeout)

    return run


def until_protected(shell: Shell, domain: dict[str, Any], timeout: float) -> None:
    """Waits for every VM to finish its initial sync and the domain's first recovery point."""
    path = f"/api/v1/protection-domains/{domain['id']}"
    deadline = time.monotonic() + timeout
    with shell.console.status(f"initial sync of {domain['name']}") as status:
        while True:
            vms = list(shell.client.pages(f"{path}/vms"))
            synced = sum(vm["status"] == "protected" for vm in vms)
            current = shell.client.get(path)
            status.update(f"initial sync of {domain['name']}: {synced}/{len(vms)} VMs protected")
            if vms and synced == len(vms) and current.get("last_recovery_point_at"):
                break
            if time.monotonic() > deadline:
                raise JetdrError(
                    504, "timeout", f"{domain['name']} is not protected after {timeout:.0f} s"
                )
            time.sleep(0.5)
    shell.outputs.append(current)
    shell.say(f"[green]✓[/green] {domain['name']} is protected (first recovery point taken)")


def _find_named(client: Client, path: str, name: str) -> dict[str, Any]:
    for item in client.pages(path, name=name):
        if item.get("name") == name:
            return dict(item)
    raise JetdrError(404, "not_found", f"nothing named {name} at {path}")


# -- the AVS run-command package and completion ------------------------------------------------


def avs_list(shell: Shell, _args: argparse.Namespace) -> None:
    package = shell.client.get("/api/v1/avs/script-package")
    rows = [
        {
            "cmdlet": c["name"],
            "parameters": ", ".join(
                p["name"] + ("" if p["optional"] == "Required" else "?") for p in c["parameters"]
            ),
            "description": c["description"],
        }
        for c in package["cmdlets"]
    ]
    shell.say(f"{package['name']} {package['version']}")
    shell.show(rows, ("cmdlet", "parameters", "description"))


def avs_executions(shell: Shell, _args: argparse.Namespace) -> None:
    found = list(shell.client.pages("/api/v1/avs/script-executions"))
    shell.show(
        found, ("name", "script_cmdlet_id", "provisioning_state", "submitted_at", "exit_code")
    )


def avs_show(shell: Shell, args: argparse.Namespace) -> None:
    shell.show(shell.client.get(f"/api/v1/avs/script-executions/{args.execution_name}"))


def completion(shell: Shell, args: argparse.Namespace) -> None:
    sys.stdout.write(completion_script(build_parser(), args.shell))


def _words(parser: argparse.ArgumentParser) -> tuple[list[str], dict[str, list[str]]]:
    """The parser's options, and each sub-command's words (its own sub-commands and options)."""
    options = [o for action in parser._actions for o in action.option_strings]
    nested: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words, deeper = _words(sub)
                nested[name] = words
                nested.update({f"{name} {key}": value for key, value in deeper.items()})
            options = [*action.choices, *options]
    return options, nested


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    top, nested = _words(parser)
    cases = "\n".join(
        f'        "{key}") words="{" ".join(value)}" ;;' for key, value in sorted(nested.items())
    )
    script = f"""_jetdr() {{
    local current="${{COMP_WORDS[COMP_CWORD]}}" path="" word words="{" ".join(top)}"
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$word" in -*) continue ;; esac
        case "${{path:+$path }}$word" in
{cases}
        *) continue ;;
        esac
        path="${{path:+$path }}$word"
    done
    COMPREPLY=($(compgen -W "$words" -- "$current"))
}}
complete -F _jetdr jetdr
"""
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script


# -- wiring ------------------------------------------------------------------------------------


def _cluster_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protected-cluster", required=True)


def _account_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--elevated-user", default=ELEVATED_USER)
    parser.add_argument("--rest-user", default=REST_USER)


def _install_args(parser: argparse.ArgumentParser, vcenter_required: bool) -> None:
    parser.add_argument("--cluster", required=True, help="where the MSA VM goes")
    parser.add_argument("--protected-cluster", required=True)
    parser.add_argument("--vm-name", required=True)
    parser.add_argument("--datastore", required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--vcenter-hostname", required=vcenter_required)
    parser.add_argument("--vcenter-username", required=vcenter_required)
    parser.add_argument("--vcenter-password", required=vcenter_required)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetdr", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("JETDR_URL", "https://localhost:8443"))
    parser.add_argument("--username", default=os.environ.get("JETDR_USERNAME", "root"))
    parser.add_argument("--password", default=os.environ.get("JETDR_PASSWORD"))
    parser.add_argument(
        "--ca-file",
        default=os.environ.get("JETDR_CA_FILE"),
        help="the appliance's certificate (or CA) to trust",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=os.environ.get("JETDR_INSECURE", "").lower() in ("1", "true", "yes"),
        help="do not verify the certificate (JETDR_INSECURE=1)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow each task to its end (default), or return once it is started (--no-wait; "
        "`jetdr wait TASK` follows it later)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, run: Callable[[Shell, argparse.Namespace], None], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(run=run)
        return sub

    _install_args(
        command("preflight-install", preflight_install, "Invoke-PreflightJetDRInstall"), False
    )
    sub = command(
        "install", install, "an MSA deployed by hand: register vCenter, configure, create the users"
    )
    _install_args(sub, True)
    _account_args(sub)
    _cluster_args(command("enable-cluster", enable_cluster, "Enable-JetDRForCluster"))
    _cluster_args(command("disable-cluster", disable_cluster, "Disable-JetDRForCluster"))
    _cluster_args(
        command("preflight-uninstall", preflight_uninstall, "Invoke-PreflightJetDRUninstall")
    )
    sub = command("uninstall", uninstall, "unconfigure the cluster, remove the users, unregister")
    _cluster_args(sub)
    _account_args(sub)

    sub = command("avs", avs_list, "the AVS run-command package: jetdr avs <cmdlet> ...")
    cmdlets = sub.add_subparsers(dest="cmdlet_command", metavar="CMDLET")
    listed = cmdlets.add_parser("list", help="the package's cmdlets and their parameters")
    listed.set_defaults(run=avs_list)
    shown = cmdlets.add_parser("executions", help="the executions run so far")
    shown.set_defaults(run=avs_executions)
    shown = cmdlets.add_parser("show", help="one execution and its output streams")
    shown.set_defaults(run=avs_show)
    shown.add_argument("execution_name")
    avs.add_commands(cmdlets, avs.run_cmdlet)
    drill.add_commands(command)
    sub = command(
        "completion", completion, 'a shell completion script: eval "$(jetdr completion bash)"'
    )
    sub.add_argument("shell", choices=("bash", "zsh"))

    command("status", status, "the appliance's status")
    for kind, columns in (
        ("vcenters", ("id", "hostname", "status")),
        ("clusters", ("id", "name", "status")),
        ("drvas", ("id", "name", "status", "ip")),
        ("storage-sites", ("id", "name", "type")),
        ("protection-domains", ("id", "name", "mode", "health", "rpo_seconds")),
        ("recovery-reports", ("id", "domain_id", "kind", "status", "rto_seconds")),
        ("tasks", ("id", "type", "status", "progress")),
    ):
        command(kind, listing(kind, columns), f"list {kind}")
    sub = command("alarms", alarms, "list alarms")
    sub.add_argument("--active", action="store_true")
    sub = command("pitr", pitr, "a domain's point-in-time window and what it costs")
    sub.add_argument("domain", help="its name or id")
    sub = command("subscription", subscription, "the AVS subscription: its status, or set it")
    change = sub.add_mutually_exclusive_group()
    change.add_argument("--set", metavar="SUBSCRIPTION_ID", help="the Marketplace subscription id")
    change.add_argument("--remove", action="store_true", help="remove the subscription id")
    sub = command("wait", task_wait, "follow a task to its end")
    sub.add_argument("task_id")
    sub = command("storage-site-add", storage_site_add, "add a storage site")
    sub.add_argument("--name", required=True)
    sub.add_argument("--type", required=True, choices=("azure_blob", "s3", "local"))
    for option in ("--endpoint", "--account-name", "--access-key", "--region", "--path"):
        sub.add_argument(option)
    sub = command("drva-deploy", drva_deploy, "deploy a DRVA")
    for option in ("--name", "--cluster", "--datastore", "--network"):
        sub.add_argument(option, required=True)
    for action, title in (
        ("start-protection", "start protection of"),
        ("stop-protection", "stop protection of"),
        ("failover", "fail over"),
        ("complete-failover", "complete the failover of"),
        ("test-failover", "test failover of"),
        ("stop-test-failover", "stop the test failover of"),
        ("failback", "fail back"),
        ("resume-failback", "resume the failback of"),
        ("complete-failback", "complete the failback of"),
        ("restore", "restore (make this site the primary of)"),
        ("release", "release (hand the domain back to its owner site)"),
    ):
        sub = command(action, domain_action(action, title), f"{title} a protection domain")
        sub.add_argument("domain", help="its name or id")
        if action in POINT_ACTIONS:
            point = sub.add_mutually_exclusive_group()
            point.add_argument("--recovery-point", help="a recovery point id (default: latest)")
            point.add_argument(
                "--point-in-time",
                metavar="RFC3339",
                help="PITR: the newest consistent point at or before this time",
            )
        if action == "start-protection":
            sub.add_argument(
                "--until-protected",
                action="store_true",
                help="then wait for the initial sync and the first recovery point",
            )
            sub.add_argument("--timeout", type=float, default=1800, help="seconds")
        if action == "failover":
            sub.add_argument("--type", default="regular", choices=("regular", "planned", "forced"))
            sub.add_argument("--continuous", action="store_true")
        if action == "restore":
            sub.add_argument(
                "--force", action="store_true", help="although the owning site still answers"
            )
        if action == "failback":
            sub.add_argument("--continuous", action="store_true")
            sub.add_argument("--max-delay", type=int, default=10, help="minutes")
        if action == "stop-test-failover":
            sub.add_argument("--success", action=argparse.BooleanOptionalAction, default=True)
            sub.add_argument("--summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(
        avs.cmdlet_names_any_case(sys.argv[1:] if argv is None else argv)
    )
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.password is None:
        errors.print("[red]error:[/red] a password is needed: --password or JETDR_PASSWORD")
        return EXIT_USAGE
    verify: bool | str = False if args.insecure else (args.ca_file or True)
    try:
        client = Client(args.url, username=args.username, password=args.password, verify=verify)
    except (OSError, ssl.SSLError, httpx.InvalidURL, ValueError) as error:
        errors.print(f"[red]error:[/red] cannot use these connection settings: {error}")
        return EXIT_USAGE
    shell = Shell(client, args.json, console, password=args.password, wait=args.wait)
    code = 0
    try:
        args.run(shell, args)
    except PreflightFailed as failure:
        failed = [c for c in failure.result.checks if c.status == "failed"]
        errors.print(
            "[red]preflight failed:[/red] " + "; ".join(f"{c.name}: {c.message}" for c in failed)
        )
        code = EXIT_PREFLIGHT_FAILED
    except avs.ExecutionFailed as failure:
        errors.print(f"[red]execution failed:[/red] {failure}")
        code = EXIT_PREFLIGHT_FAILED
    except (TaskFailedError, TaskTimeout) as error:
        errors.print(f"[red]task failed:[/red] {error.error_code}: {error.message}")
        code = EXIT_TASK_FAILED
    except JetdrError as error:
        errors.print(f"[red]error:[/red] {error.error_code}: {error.message}")
        code = EXIT_AUTH if error.status in (401, 403) else EXIT_API_ERROR
    except httpx.TransportError as error:
        errors.print(f"[red]error:[/red] {_unreachable(args.url, error)}")
        code = EXIT_UNREACHABLE
    except httpx.InvalidURL as error:
        errors.print(f"[red]error:[/red] not a usable URL {args.url!r}: {error}")
        code = EXIT_USAGE
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # Something at that URL answered, but not as an appliance does.
        errors.print(f"[red]error:[/red] {args.url} answered what no appliance would: {error!r}")
        code = EXIT_API_ERROR
    finally:
        client.close()
    if args.json and shell.outputs:
        output = shell.outputs[-1] if len(shell.outputs) == 1 else shell.outputs
        sys.stdout.write(json.dumps(output, indent=2) + "\n")
    return code


def _unreachable(url: str, error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(error.__cause__, ssl.SSLError):
        return (
            f"the certificate of {url} is not trusted ({text}): pass --ca-file (JETDR_CA_FILE) "
            "or --insecure (JETDR_INSECURE=1)"
        )
    if isinstance(error, httpx.TimeoutException):
        return f"{url} did not answer in time"
    return f"cannot reach the appliance at {url}: {text}"


if __name__ == "__main__":
    sys.exit(main())
