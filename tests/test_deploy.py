"""The Dockerfile and Kubernetes manifests agree with the server they run."""

import re
import shlex

import yaml

from paysig.server import load_config
from paysig.server.grpc_server import SERVICE_NAME
from support import REPO

K8S = REPO / "deploy" / "kubernetes"


def manifests() -> dict[str, dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def test_deployment_probes_ports_and_service_agree():
    docs = manifests()
    deployment, service = docs["Deployment/paysig"], docs["Service/paysig"]
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    args = container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port_of(flag(args, "--listen")) == ports["grpc"]
    assert port_of(flag(args, "--metrics-listen")) == ports["metrics"]
    assert port_of(flag(args, "--health-listen")) == ports["health"]
    assert container["readinessProbe"]["grpc"] == {"port": ports["health"], "service": SERVICE_NAME}
    assert container["livenessProbe"]["grpc"] == {"port": ports["health"]}
    assert pod["spec"]["terminationGracePeriodSeconds"] > float(flag(args, "--grace"))
    assert int(flag(args, "--workers")) == int(container["resources"]["limits"]["cpu"])
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    assert service["spec"]["clusterIP"] == "None", "clients balance over pods only with a headless Service"
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)
    labels = pod["metadata"]["labels"]
    for selector in (service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"],
                     docs["PodDisruptionBudget/paysig"]["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert docs["HorizontalPodAutoscaler/paysig"]["spec"]["scaleTargetRef"]["name"] == "paysig"
    assert docs["PodDisruptionBudget/paysig"]["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_config_map_is_a_valid_config_whose_files_are_mounted_secrets(tmp_path):
    docs = manifests()
    pod = docs["Deployment/paysig"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_path = flag(container["args"], "--config")
    config_dir, config_key = config_path.rsplit("/", 1)
    config_map = volumes[mounts[config_dir]]["configMap"]["name"]
    text = docs[f"ConfigMap/{config_map}"]["data"][config_key]

    files = re.findall(r'(?:file|cert_file|key_file) = "([^"]+)"', text)
    assert files
    for path in files:
        directory, name = path.rsplit("/", 1)
        secret = volumes[mounts[directory]]["secret"]
        assert secret["defaultMode"] & 0o077 == 0, f"{path}: others or group may read it"
        (tmp_path / name).write_text("placeholder")
        (tmp_path / name).chmod(0o600)
        text = text.replace(path, str(tmp_path / name))
    (tmp_path / "paysig.toml").write_text(text)
    config = load_config(tmp_path / "paysig.toml")
    assert config.access.mode.value == "token" and config.access.tls is not None


def test_dockerfile_runs_non_root_with_a_health_check():
    text = (REPO / "Dockerfile").read_text()
    user = re.search(r"^USER (\S+)$", text, re.M).group(1)
    assert user not in ("root", "0")
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}
    cmd = shlex.split(re.search(r"^CMD \[(.+)\]$", text, re.M).group(1).replace(",", " "))
    assert {port_of(flag(cmd, o)) for o in ("--listen", "--metrics-listen", "--health-listen")} == exposed
    health = re.search(r"^HEALTHCHECK .* CMD \[(.+)\]$", text, re.M).group(1)
    assert f'"paysig", "health", "127.0.0.1:{port_of(flag(cmd, "--health-listen"))}"' == health


# ---- the declared probes, run against a server on the shipped config --------

import json
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc
from pki import Authority
from support import ServerProcess
from test_security import order

TOKEN = "deploy-probe-token-0123456789"


def shipped(tmp_path, mode: str):
    """The ConfigMap's config with its files made real (keys, a server
    certificate from a throw-away CA), turned into ``mode``:
    token+tls (as shipped), token (no [tls]), mtls, none (no [tls])."""
    import hashlib

    docs = manifests()
    text = docs["ConfigMap/paysig-config"]["data"]["paysig.toml"]
    ca = Authority(tmp_path, "deploy-ca")
    server = ca.issue("server", dns=("localhost",), ips=("127.0.0.1",), server=True)
    files = {"tls.crt": server.cert, "tls.key": server.key}
    for path in re.findall(r'(?:file|cert_file|key_file) = "([^"]+)"', text):
        name = path.rsplit("/", 1)[1]
        if name not in files:
            files[name] = tmp_path / name
            files[name].write_text(f"deploy-test-{name}")
            files[name].chmod(0o600)
        text = text.replace(path, str(files[name]))
    text = text.replace("0" * 64, hashlib.sha256(TOKEN.encode()).hexdigest())
    tls_section = text[text.index("[tls]"):text.index("[audit]")]
    if mode in ("token", "none"):
        text = text.replace(tls_section, "")
    if mode == "none":
        text = text.replace('mode = "token"', 'mode = "none"')
        text = text[:text.index("[[callers]]")]
    if mode == "mtls":
        text = text.replace('mode = "token"', 'mode = "mtls"')
        text = text.replace(tls_section, tls_section + f'client_ca_file = "{ca.cert_path}"\n\n')
        text = re.sub(r"token_sha256 = .*", 'cert_common_name = "game-a"', text)
    (tmp_path / "paysig.toml").write_text(text)
    return tmp_path / "paysig.toml", ca


def deployment_probes() -> tuple[list[str], list[dict]]:
    [container] = manifests()["Deployment/paysig"]["spec"]["template"]["spec"]["containers"]
    return container["args"], [container["readinessProbe"]["grpc"], container["livenessProbe"]["grpc"]]


def run_grpc_probe(probe: dict, health_port: int) -> str:
    """What the kubelet does for a `grpc:` probe: a plaintext
    grpc.health.v1.Health/Check of ``service`` (empty when absent)."""
    with grpc.insecure_channel(f"127.0.0.1:{health_port}") as channel:
        return health_pb2.HealthCheckResponse.ServingStatus.Name(health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=probe.get("service", "")), timeout=10).status)


@pytest.mark.parametrize("mode", ["token+tls", "token", "mtls", "none"])
def test_the_declared_probes_pass_in_every_auth_and_tls_mode(tmp_path, mode):
    config, ca = shipped(tmp_path, mode)
    args, probes = deployment_probes()
    declared_port = port_of(flag(args, "--health-listen"))
    assert {p["port"] for p in probes} == {declared_port}
    server = ServerProcess(config, "--workers", flag(args, "--workers"), "--health-listen", "127.0.0.1:0")
    try:
        serving = json.loads(server.stderr[0])
        health_port = port_of(serving["health_address"])
        assert serving["auth"] == mode.split("+")[0] and serving["tls"] == (mode in ("token+tls", "mtls"))
        for probe in probes:
            assert run_grpc_probe(probe, health_port) == "SERVING"

        dockerfile = (REPO / "Dockerfile").read_text()
        check = json.loads("[" + re.search(r"^HEALTHCHECK .* CMD \[(.+)\]$", dockerfile, re.M).group(1) + "]")
        assert check[0] == "paysig" and check[2].endswith(f":{port_of(check[2])}")
        command = [sys.executable, "-m", "paysig", *check[1:]]
        command[command.index(check[2])] = f"127.0.0.1:{health_port}"
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert (result.returncode, result.stdout.strip()) == (0, "SERVING"), result.stderr

        # The health port serves health and nothing else: no signing, no reflection.
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as channel:
            with pytest.raises(grpc.RpcError) as info:
                signer_pb2_grpc.SignerServiceStub(channel).SignOrder(order(app_id="game-a-minigame"), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
            from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

            listing = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
            with pytest.raises(grpc.RpcError) as info:
                list(listing)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        assert server.stop() == 0
