"""Reading the deployment files' environments, for the tests beside it."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# A commented-out line (`# BACKUP_ENCRYPTION_RECIPIENTS=age1...`) counts too:
# an operator will uncomment it.
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def env_file(path):
    """{NAME: value} of a KEY=value file (systemd EnvironmentFile, env_file)."""
    values = {}
    for line in Path(path).read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match and not line.startswith("#"):
            values[match[1]] = match[2]
    return values


def env_file_names(path):
    """Every name a KEY=value file sets or offers in a comment."""
    return {
        match[1]
        for line in Path(path).read_text().splitlines()
        if (match := ASSIGNMENT.match(line.strip()))
    }


def yaml_documents(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


def k8s_objects():
    """(file name, object) for every manifest in deploy/k8s."""
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml_documents(path):
            yield path.name, doc


def k8s_object(kind, name):
    return next(
        obj
        for _, obj in k8s_objects()
        if obj["kind"] == kind and obj["metadata"]["name"] == name
    )


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def k8s_environment():
    """What a pod's envFrom gives it: the ConfigMap and the Secret example."""
    config = k8s_object("ConfigMap", "tinylink-config")["data"]
    secret = k8s_object("Secret", "tinylink-secrets")["stringData"]
    return {**config, **secret}


def compose(name="compose.yaml"):
    return yaml.safe_load((DEPLOY / name).read_text())


def dockerfile_env():
    """The Dockerfile's ENV NAME=value pairs (the image's environment)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    values = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            values.update(re.findall(r"([A-Z][A-Z0-9_]*)=(\S+)", line))
    return values
