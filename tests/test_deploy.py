"""The deploy/ artifacts: Prometheus config, rules and their unit tests (promtool), the Grafana
dashboard (every query parses as PromQL and names only metrics the code defines), the compose
stack and the Kubernetes manifests (schema-validated offline with kubernetes-validate).

Needs promtool (Debian's ``prometheus`` package), PyYAML and kubernetes-validate; all fast,
no network, no Docker, no cluster."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry

from consumers.aggregate import command as aggregate_command
from consumers.aggregate.metrics import AggregatorMetrics
from consumers.anomalies import service as anomalies_service
from consumers.anomalies.service import AnomalyMetrics
from producers import command as produce_command
from producers.metrics import ProducerMetrics
from pulseboard.cli import build_parser
from pulseboard.cli_support import cluster_options
from web import command as serve_command
from web.metrics import LATENCY_BUCKETS, WebMetrics

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
PROM_CONFIG = PROM / "prometheus.yml"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
PROM_TESTS = sorted((PROM / "tests").glob("*.yml"))
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "pulseboard.json"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
OPERATIONS = ROOT / "docs" / "operations.md"
K8S_VERSION = "1.33.0"  # oldest Kubernetes the manifests are meant for

REQUIRED_ALERTS = {
    "PulseboardServiceDown",  # up == 0
    "PulseboardConsumerLagGrowing",
    "PulseboardNoEvents",
    "PulseboardDLQRateHigh",
    "PulseboardLatencySLOBurnFast",
    "PulseboardLatencySLOBurnSlow",
    "PulseboardWallDisconnected",
}

# Settings the deploy files may set before any code reads them: none. Every key of the
# ConfigMap and Secret must be read by pulseboard/config.py.
PENDING_SETTINGS: set[str] = set()


# --- helpers --------------------------------------------------------------------------------


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool not found: apt-get install prometheus (scripts/setup --test does)"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_all_yaml(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def rules() -> list[dict[str, Any]]:
    return [r for f in RULE_FILES for g in load_yaml(f)["groups"] for r in g["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in rules() if "alert" in r}


def recording_rules() -> list[dict[str, Any]]:
    return [r for r in rules() if "record" in r]


def code_metrics() -> dict[str, set[str]]:
    """Every series name the services expose, with its label names (Prometheus adds job and
    instance), built from the code's own metric definitions."""
    registries = [
        ProducerMetrics.create(CollectorRegistry()).registry,
        AggregatorMetrics.create(CollectorRegistry()).registry,
        WebMetrics().registry,
        AnomalyMetrics().registry,
    ]
    suffixes = {
        "counter": ["_total"],
        "gauge": [""],
        "histogram": ["_bucket", "_sum", "_count"],
        "summary": ["_sum", "_count"],
    }
    names: dict[str, set[str]] = {}
    for registry in registries:
        for collector in registry._collector_to_names:
            if not hasattr(collector, "_type"):
                # process/platform/GC collectors: their samples are all there is to know
                for family in collector.collect():
                    for sample in family.samples:
                        names[sample.name] = set(sample.labels) | {"job", "instance"}
                continue
            labels = set(collector._labelnames) | {"job", "instance"}
            for suffix in suffixes[collector._type]:
                bucket = {"le"} if suffix == "_bucket" else set()
                names[collector._name + suffix] = labels | bucket
    names["up"] = {"job", "instance"}
    return names


def all_metric_labels() -> dict[str, set[str]]:
    """Code metrics plus the recording rules' names, each with the labels it keeps."""
    known = code_metrics()
    for rule in recording_rules():
        kept: set[str] = set(rule.get("labels", {}))
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", rule["expr"]):
            kept |= {label.strip() for label in group.split(",") if label.strip()}
        known.setdefault(rule["record"], set()).update(kept | {"job", "instance"})
    return known


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_KEYWORDS |= {"unless", "bool", "offset", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels, strings and
    durations removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        if m.group(2) or m.group(1).lower() in _KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def promql_labels(expr: str) -> set[str]:
    """Label names used in matchers and in by/without/on/ignoring clauses."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    used = set()
    for matchers in re.findall(r"\{([^}]*)\}", text):
        used |= set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text):
        used |= {label.strip() for label in group.split(",") if label.strip()}
    return used


def check_expression_names(where: str, expr: str, known: dict[str, set[str]]) -> list[str]:
    problems = []
    used = promql_metrics(expr)
    if not used:
        problems.append(f"{where}: selects no metric: {expr}")
    unknown = used - known.keys()
    if unknown:
        problems.append(f"{where}: unknown metrics {sorted(unknown)} in {expr}")
    labels = set().union(*(known.get(n, set()) for n in used)) if used else set()
    bad_labels = promql_labels(expr) - labels
    if bad_labels:
        problems.append(f"{where}: labels {sorted(bad_labels)} not on {sorted(used)}")
    return problems


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            out.append(
                (f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"])
            )
    return out


def command_parses(args: list[str]) -> None:
    """A service's arguments are accepted by the real argument parser of its subcommand."""
    if args[0] == "kafka":
        build_parser().parse_args(args)
        return
    modules = {"produce": produce_command, "serve": serve_command}
    modules["aggregate"] = aggregate_command
    modules["anomalies"] = anomalies_service
    parser = argparse.ArgumentParser(prog=f"pulseboard {args[0]}", parents=[cluster_options()])
    modules[args[0]].add_arguments(parser)
    parser.parse_args(args[1:])


def known_settings() -> set[str]:
    source = (ROOT / "pulseboard" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r"PULSEBOARD_[A-Z_]+", source)) | PENDING_SETTINGS


# --- Prometheus -----------------------------------------------------------------------------


def test_prometheus_config_is_valid_and_loads_every_rule_file():
    result = promtool("check", "config", str(PROM_CONFIG))
    assert_ok(result)
    assert f"{len(RULE_FILES)} rule files found" in result.stdout + result.stderr


def test_rule_files_are_valid():
    assert len(RULE_FILES) >= 2
    assert_ok(promtool("check", "rules", *map(str, RULE_FILES)))


def test_alert_unit_tests_pass():
    assert PROM_TESTS
    assert_ok(promtool("test", "rules", *map(str, PROM_TESTS)))


def test_promtool_unit_tests_catch_a_wrong_expectation(tmp_path):
    """The unit tests compare what they claim: a wrong expected value fails them."""
    source = (PROM / "tests" / "alerts_test.yml").read_text(encoding="utf-8")
    broken = source.replace("2% of consumed records", "3% of consumed records", 1)
    assert broken != source
    broken = broken.replace("../rules/", str(PROM / "rules") + "/")
    (tmp_path / "broken_test.yml").write_text(broken, encoding="utf-8")
    result = promtool("test", "rules", str(tmp_path / "broken_test.yml"))
    assert result.returncode != 0
    assert "PulseboardDLQRateHigh" in result.stdout + result.stderr


def test_required_alerts_exist_with_severity_summary_and_runbook():
    found = alerts()
    assert found.keys() >= REQUIRED_ALERTS
    for name, rule in found.items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"]["summary"], name
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#"), name
        assert name.lower().startswith(runbook.removeprefix("docs/operations.md#")), name


def test_every_alert_has_unit_tests_that_fire_and_that_stay_quiet():
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in PROM_TESTS:
        doc = load_yaml(path)
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = set(alerts())
    assert names - fires == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested staying quiet"


def test_rules_reference_only_metrics_and_labels_the_code_defines():
    known = all_metric_labels()
    problems = []
    for rule in rules():
        where = rule.get("alert") or rule["record"]
        problems += check_expression_names(where, rule["expr"], known)
    assert problems == []


def test_slo_threshold_is_a_bucket_of_the_latency_histogram():
    text = "".join(f.read_text(encoding="utf-8") for f in RULE_FILES)
    thresholds = set(re.findall(r'end_to_end_latency_seconds_bucket\{le="([^"]+)"\}', text))
    assert thresholds == {"5.0"}
    assert 5.0 in LATENCY_BUCKETS  # prometheus_client renders it as le="5.0"


def test_scrape_jobs_match_the_alerts_and_the_default_ports():
    config = load_yaml(PROM_CONFIG)
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["pulseboard-producer"] == ["producer:9101"]
    assert targets["pulseboard-aggregator"] == ["aggregator:9102"]
    assert targets["pulseboard-anomalies"] == ["anomalies:9103"]  # the aggregator's + 1
    assert targets["pulseboard-web"] == ["web:8080"]
    assert re.search(r"job=~\"pulseboard-\.\*\"", alerts()["PulseboardServiceDown"]["expr"])


# --- Grafana --------------------------------------------------------------------------------


def test_dashboard_queries_are_valid_promql(tmp_path):
    queries = dashboard_queries()
    assert len(queries) >= 20
    for _where, expr in queries:
        assert "$" not in expr, "template variables would not parse: keep queries literal"
    rules_file = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}:check", "expr": expr}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules_file), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert_ok(result)
    assert f"{len(queries)} rules found" in result.stdout


def test_a_broken_query_is_caught_by_promtool(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum(("}]}]}),
        encoding="utf-8",
    )
    assert promtool("check", "rules", str(path)).returncode != 0


def test_dashboard_queries_reference_only_metrics_the_code_defines():
    known = all_metric_labels()
    problems = []
    for where, expr in dashboard_queries():
        problems += check_expression_names(where, expr, known)
    assert problems == []


def test_metric_name_extraction():
    expr = (
        'sum by (topic) (rate(pulseboard_producer_events_total{type="truck"}[5m])) '
        "/ ignoring(x) pulseboard:stage_throughput:rate1m > bool 0.5 or vector(0)"
    )
    assert promql_metrics(expr) == {
        "pulseboard_producer_events_total",
        "pulseboard:stage_throughput:rate1m",
    }
    assert promql_labels(expr) == {"topic", "type", "x"}
    known = all_metric_labels()
    assert check_expression_names("t", "rate(pulseboard_producer_events[1m])", known)
    assert check_expression_names("t", "sum by (kind) (pulseboard_producer_bytes_total)", known)


def test_dashboard_structure_and_provisioning():
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["uid"] and dash["title"]
    datasources = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uid = datasources["datasources"][0]["uid"]
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]
            assert panel["targets"], panel["title"]
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "pulseboard.yml")
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


# --- docs -----------------------------------------------------------------------------------


def test_operations_doc_covers_every_metric_and_alert():
    doc = OPERATIONS.read_text(encoding="utf-8")
    missing = [
        name
        for name in code_metrics()
        if name != "up" and re.sub(r"_(total|bucket|sum|count)$", "", name) not in doc
    ]
    assert missing == []
    headings = {h.strip().lower() for h in re.findall(r"^#+ (.+)$", doc, re.M)}
    for name, rule in alerts().items():
        anchor = rule["annotations"]["runbook"].removeprefix("docs/operations.md#")
        assert anchor in headings, f"{name}: runbook section {anchor!r} missing"
        assert name in doc, name


# --- compose --------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def kafka_version() -> str:
    pom = (DEPLOY / "kafka" / "pom.xml").read_text(encoding="utf-8")
    return re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)


def test_compose_services_and_pinned_images():
    services = compose()["services"]
    assert set(services) == {
        "kafka",
        "topics",
        "producer",
        "aggregator",
        "anomalies",
        "web",
        "prometheus",
        "grafana",
    }
    for name, service in services.items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, f"{name}: {image} not pinned"
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_compose_kafka_runs_kraft_and_is_reachable_as_configured():
    services = compose()["services"]
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in json.dumps(services).lower()
    assert len(env["CLUSTER_ID"]) == 22  # a base64 Kafka UUID
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    for name in ("topics", "producer", "aggregator", "anomalies", "web"):
        assert services[name]["environment"]["PULSEBOARD_BOOTSTRAP"] == "kafka:9092", name


def test_compose_health_checks_and_start_order():
    services = compose()["services"]
    for name in ("kafka", "producer", "aggregator", "anomalies", "web", "prometheus", "grafana"):
        check = services[name]["healthcheck"]["test"]
        assert check[0] in {"CMD", "CMD-SHELL"} and len(check) > 1, name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in conditions, f"{name} -> {dep}"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["topics"]["restart"] == "no"
    for name in ("producer", "aggregator", "anomalies", "web"):
        dep = services[name]["depends_on"]["topics"]["condition"]
        assert dep == "service_completed_successfully", name
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_compose_commands_parse_and_ports_match_the_scrape_config():
    services = compose()["services"]
    for name in ("topics", "producer", "aggregator", "anomalies", "web"):
        command_parses(services[name]["command"])
        assert services[name]["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert (COMPOSE.parent / services[name]["build"]["context"]).resolve() == ROOT
    assert services["producer"]["command"][-2:] == ["--metrics-port", "9101"]
    assert services["aggregator"]["command"][-2:] == ["--metrics-port", "9102"]
    assert services["anomalies"]["command"] == ["anomalies", "--metrics-port", "9103"]
    assert "9103" in " ".join(services["anomalies"]["healthcheck"]["test"])
    assert services["web"]["command"][1:] == ["--host", "0.0.0.0", "--port", "8080"]
    for name in ("producer", "aggregator", "anomalies"):
        assert services[name]["environment"]["PULSEBOARD_METRICS_HOST"] == "0.0.0.0"


def test_compose_mounts_exist():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source}"


def test_dockerfile_is_pinned_and_copies_what_exists():
    text = DOCKERFILE.read_text(encoding="utf-8")
    for image in re.findall(r"^FROM\s+(\S+)", text, re.M):
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"unpinned base image {image}"
    for sources in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", text, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["pulseboard"]' in text
    assert set(re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()) == {
        "8080",
        "9101",
        "9102",
        "9103",
    }


# --- Kubernetes -----------------------------------------------------------------------------


def k8s_resources() -> list[dict[str, Any]]:
    return [doc for path in K8S_FILES for doc in load_all_yaml(path)]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in k8s_resources() if r["kind"] == kind}


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: p.name)
def test_k8s_manifests_validate_against_the_kubernetes_schema(path):
    for resource in load_all_yaml(path):
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


def test_k8s_schema_validation_rejects_a_bad_manifest():
    deployment = json.loads(json.dumps(by_kind("Deployment")["pulseboard-web"]))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def containers() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for kind in ("Deployment", "Job"):
        for name, resource in by_kind(kind).items():
            for container in resource["spec"]["template"]["spec"]["containers"]:
                out.append((name, container))
    return out


def test_k8s_deployments_and_probes():
    deployments = by_kind("Deployment")
    assert set(deployments) == {
        "pulseboard-producer",
        "pulseboard-aggregator",
        "pulseboard-anomalies",
        "pulseboard-web",
    }
    assert "pulseboard-topics" in by_kind("Job")
    for name, resource in deployments.items():
        labels = resource["spec"]["template"]["metadata"]["labels"]
        assert resource["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    # aggregator replicas share the consumer groups: nothing per-pod may change the group
    aggregator = deployments["pulseboard-aggregator"]
    assert aggregator["spec"]["replicas"] > 1
    agg_container = aggregator["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in agg_container  # only the shared ConfigMap/Secret (same topic prefix)
    assert "--role" not in agg_container["args"]
    # The anomaly service reads the history without a consumer group: one instance, and a
    # rollout stops the old one before the new one starts.
    anomalies = deployments["pulseboard-anomalies"]
    assert anomalies["spec"]["replicas"] == 1
    assert anomalies["spec"]["strategy"]["type"] == "Recreate"
    detect = anomalies["spec"]["template"]["spec"]["containers"][0]
    assert detect["args"] == ["anomalies", "--metrics-port", "9103"]
    assert {p["name"]: p["containerPort"] for p in detect["ports"]} == {"metrics": 9103}
    assert anomalies["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9103"
    web = deployments["pulseboard-web"]["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in web["ports"]}
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert ports[web["readinessProbe"]["httpGet"]["port"]] == 8080
    assert web["args"][web["args"].index("--port") + 1] == "8080"
    service = by_kind("Service")["pulseboard-web"]
    assert service["spec"]["selector"].items() <= (
        deployments["pulseboard-web"]["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] in ports


def test_k8s_containers_have_requests_settings_and_valid_commands():
    configmaps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    settings = known_settings()
    for name in configmaps:
        assert set(configmaps[name]["data"]) <= settings, name
    for name in secrets:
        assert set(secrets[name]["stringData"]) <= settings, name
    for name, container in containers():
        requests = container["resources"]["requests"]
        assert {"cpu", "memory"} <= requests.keys(), name
        assert "memory" in container["resources"]["limits"], name
        refs = container["envFrom"]
        assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} <= configmaps.keys()
        assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} <= secrets.keys()
        command_parses(container["args"])
    namespaces = set(by_kind("Namespace"))
    for resource in k8s_resources():
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] in namespaces, resource["metadata"]["name"]
