"""The `JSDR.Configuration` run-command package: its cmdlets and their parameters as Microsoft
documents them (reference/jetstream-domain.md §5.1, §5.2; the 9.0.0 function list).

Where the documentation names no parameters for a cmdlet (the ones added after 2023), this
emulator gives it the ones every documented day-2 cmdlet takes (`Credential`, `MSIp`) plus what
the cmdlet needs to act on; those are marked `documented=False`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from app.domain.vcenters.schemas import HOSTNAME_OR_IP

PACKAGE = "JSDR.Configuration"
PACKAGE_VERSION = "9.0.0"
DEFAULT_TIMEOUT_SECONDS = 30 * 60
MAX_TIMEOUT_SECONDS = 12 * 60 * 60
DEFAULT_RETENTION_DAYS = 60


class ParameterType(StrEnum):
    STRING = "String"
    SECURE_STRING = "SecureString"
    CREDENTIAL = "Credential"
    INT = "Int"
    BOOL = "Bool"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParameterType
    description: str
    required: bool = True


@dataclass(frozen=True)
class Cmdlet:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    documented: bool = True
    # The install cmdlets' `MSIp` is the address to give the MSA, not the one it has.
    deploys_msa: bool = False

    @property
    def id(self) -> str:
        return f"{PACKAGE}/{PACKAGE_VERSION}/{self.name.lower()}"

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name.lower() == name.lower()), None)


def _string(name: str, description: str, required: bool = True) -> Parameter:
    return Parameter(name, ParameterType.STRING, description, required)


CREDENTIAL = Parameter("Credential", ParameterType.CREDENTIAL, "the MSA root user and password")
MS_IP = _string("MSIp", "the MSA's IP address")
PROTECTED_CLUSTER = _string("ProtectedCluster", "the cluster whose VMs are protected")
CLUSTER = _string("Cluster", "the cluster the MSA VM is deployed to")
VM_NAME = _string("VMName", "the MSA VM's name (must be free in vCenter)")
DATASTORE = _string("Datastore", "the datastore for the MSA VM")
NETWORK = _string("Network", "the NSX-T segment for the MSA VM")
HOST_NAME = _string("HostName", "the MSA's fully qualified host name")
REGISTER_WITH_IP = Parameter(
    "RegisterWithIp",
    ParameterType.BOOL,
    "register the vCenter plugin with the MSA's IP instead of its host name",
    required=False,
)
STATIC_IP = (
    _string("MSIp", "the MSA's static IP address"),
    _string("Netmask", "dotted, e.g. 255.255.255.0 (22 or 24 accepted as a prefix length)"),
    _string("Gateway", "the default gateway"),
    _string("Dns", "the DNS server"),
)
DEPLOY = (PROTECTED_CLUSTER, DATASTORE, VM_NAME, CLUSTER, CREDENTIAL, HOST_NAME, NETWORK)
DAY_TWO = (CREDENTIAL, MS_IP)

CMDLETS: tuple[Cmdlet, ...] = (
    Cmdlet(
        "Invoke-PreflightJetDRInstall",
        "checks the clusters (at least 4 hosts), that the MSA VM name is free and that no jetdr "
        "plugin is registered in vCenter",
        (NETWORK, DATASTORE, PROTECTED_CLUSTER, CLUSTER, VM_NAME),
    ),
    Cmdlet(
        "Install-JetDRWithStaticIP",
        "deploys the MSA with a static IP, registers vCenter, configures the protected cluster "
        "and creates the elevated and REST users",
        (*DEPLOY, *STATIC_IP, REGISTER_WITH_IP),
        deploys_msa=True,
    ),
    Cmdlet(
        "Install-JetDRWithDHCP",
        "deploys the MSA with DHCP, registers vCenter, installs the JetStream VIB on the "
        "protected cluster and creates the elevated and REST users",
        (*DEPLOY, REGISTER_WITH_IP),
        deploys_msa=True,
    ),
    Cmdlet(
        "Invoke-PreflightJetDRUninstall",
        "checks the cluster (at least 4 hosts) and that vCenter is registered with the MSA",
        (PROTECTED_CLUSTER, *DAY_TWO),
    ),
    Cmdlet(
        "Uninstall-JetDR",
        "unconfigures the cluster, removes the users, unregisters vCenter and removes the MSA VM",
        (PROTECTED_CLUSTER, *DAY_TWO),
    ),
    Cmdlet(
        "Enable-JetDRForCluster",
        "installs the VIB on another cluster and configures it",
        (PROTECTED_CLUSTER, *DAY_TWO),
    ),
    Cmdlet(
        "Disable-JetDRForCluster",
        "removes JetStream DR from one cluster",
        (PROTECTED_CLUSTER, *DAY_TWO),
    ),
    Cmdlet("Enable-JetDRSshd", "starts the MSA's SSH daemon", DAY_TWO, documented=False),
    Cmdlet("Disable-JetDRSshd", "stops the MSA's SSH daemon", DAY_TWO, documented=False),
    Cmdlet(
        "Update-JetDR",
        "upgrades the vCenter plugin and the host package of every configured cluster (or the "
        "one named) to the MSA's version",
        (*DAY_TWO, _string("ProtectedCluster", "only this cluster", required=False)),
        documented=False,
    ),
    Cmdlet(
        "Resolve-HostIssue",
        "retries the IO filter on one host and clears its issue",
        (*DAY_TWO, _string("HostName", "the ESXi host's name")),
        documented=False,
    ),
    Cmdlet(
        "Resolve-ClusterIssue",
        "retries the IO filter on every host of a cluster",
        (*DAY_TWO, PROTECTED_CLUSTER),
        documented=False,
    ),
    Cmdlet(
        "Repair-Cluster",
        "reinstalls the host package where it is missing or of another version",
        (*DAY_TWO, PROTECTED_CLUSTER),
        documented=False,
    ),
    Cmdlet(
        "Register-JetDRPlugin",
        "registers the JetStream DR plugin in vCenter",
        (*DAY_TWO, REGISTER_WITH_IP),
        documented=False,
    ),
    Cmdlet(
        "Unregister-JetDRPlugin",
        "removes the JetStream DR plugin from vCenter",
        DAY_TWO,
        documented=False,
    ),
    Cmdlet(
        "Restart-JetDRDaemon",
        "restarts one of the MSA's daemons (every one without a name)",
        (*DAY_TWO, _string("DaemonName", "the daemon to restart", required=False)),
        documented=False,
    ),
    Cmdlet(
        "Enable-JetStreamRESTUser",
        "creates the IO filter's REST user (iofrest) and gives it a global permission",
        (*DAY_TWO, _string("RESTUserName", "default VSPHERE.LOCAL\\iofrest", required=False)),
        documented=False,
    ),
    Cmdlet(
        "Disable-JetStreamRESTUser",
        "removes the REST user's global permission",
        (*DAY_TWO, _string("RESTUserName", "default VSPHERE.LOCAL\\iofrest", required=False)),
        documented=False,
    ),
    Cmdlet(
        "Test-JetDRApplianceConnection",
        "checks that the MSA answers its status API and is registered with this vCenter",
        DAY_TWO,
        documented=False,
    ),
    Cmdlet(
        "Start-MSA",
        "powers the MSA VM on when it is off and waits for its status API",
        DAY_TWO,
        documented=False,
    ),
    Cmdlet(
        "Restart-MSA",
        "power-cycles the MSA VM and waits for its status API",
        DAY_TWO,
        documented=False,
    ),
    Cmdlet(
        "Resize-JetDRMSAResources",
        "changes the MSA VM's vCPUs and memory (powered off while it changes)",
        (
            *DAY_TWO,
            Parameter("CpuCount", ParameterType.INT, "vCPUs, 4 to 32"),
            Parameter("MemoryGB", ParameterType.INT, "memory in GB, 8 to 256"),
        ),
        documented=False,
    ),
)

BY_NAME = {cmdlet.name.lower(): cmdlet for cmdlet in CMDLETS}


def find(name_or_id: str) -> Cmdlet | None:
    """By the cmdlet's name (any case) or its id, `JSDR.Configuration/<version>/<name>`."""
    return BY_NAME.get(name_or_id.rsplit("/", 1)[-1].lower())


def vcenter_address(value: str) -> tuple[str, int]:
    """The hidden `VCenter` parameter: `vcsa.example.com`, `vcsa.example.com:8443`, an IPv4
    address with or without a port, or a bare IPv6 address. ValueError says what is wrong."""
    host, _, port = value.rpartition(":")
    if host and port.isdigit() and ":" not in host:
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError(f"port {port} is not between 1 and 65535")
    else:
        host, number = value, 443
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{value!r} is not host[:port] or an IPv6 address") from None
    elif len(host) > 255 or not re.fullmatch(HOSTNAME_OR_IP, host):
        raise ValueError(f"{host!r} is not a host name or an IP address")
    return host, number
