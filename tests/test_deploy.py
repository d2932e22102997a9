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
    assert container["readinessProbe"]["grpc"] == {"port": ports["grpc"], "service": SERVICE_NAME}
    assert container["livenessProbe"]["grpc"]["port"] == ports["grpc"]
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
    assert {port_of(flag(cmd, "--listen")), port_of(flag(cmd, "--metrics-listen"))} == exposed
    health = re.search(r"^HEALTHCHECK .* CMD \[(.+)\]$", text, re.M).group(1)
    assert f'"paysig", "health", "127.0.0.1:{port_of(flag(cmd, "--listen"))}"' == health
